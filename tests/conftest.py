"""Shared test fixtures.

Docker and bubblewrap tests must run in CI: when CI=true and a required part is missing, the
test fails loudly instead of skipping. Elsewhere such tests skip with a message saying why.
"""

from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(ok: bool, what: str, fix: str) -> None:
    """Skip (locally) or fail (in CI) when a required part of the machine is missing."""
    if ok:
        return
    message = f"{what} is not available: {fix}"
    if IN_CI:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


def docker_ready() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=5)
        client.ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def need_bwrap() -> None:
    require(
        shutil.which("bwrap") is not None, "bubblewrap (bwrap)", "run scripts/setup.sh or apt-get install bubblewrap"
    )


@pytest.fixture(scope="session")
def need_docker() -> None:
    require(docker_ready(), "the Docker engine", "run scripts/setup.sh (installs docker.io, starts dockerd)")


@pytest.fixture(scope="session")
def docker_images(need_docker: None) -> None:
    """The sandbox images, built once per session (a no-op when their inputs did not change)."""
    from arena.images import build_images

    build_images(log=lambda *a, **k: None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The real-model check runs beside the suite (scripts/test.sh): its test goes last, so the suite
    uses the other core meanwhile instead of waiting for it."""
    items.sort(key=lambda item: "test_real_model" in item.nodeid)
