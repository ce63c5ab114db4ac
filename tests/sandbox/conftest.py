"""Fixtures for the sandbox tests: real bwrap jails and real Docker containers, one of each kind
per parametrized test, closed afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from arena.images import PYTHON_IMAGE
from arena.protocols import Sandbox
from arena.sandbox import SandboxConfig, SandboxKind, open_sandbox
from tests.sandbox.kit import Opener

RUN_ID = f"pytest-{uuid.uuid4().hex[:8]}"
KINDS: list[SandboxKind] = ["bwrap", "docker"]
SMALL = {"memory_mb": 256, "pids": 128, "cpu_seconds": 120, "file_size_mb": 64}


def need(request: pytest.FixtureRequest, kind: str) -> None:
    request.getfixturevalue("need_bwrap" if kind == "bwrap" else "docker_images")


@pytest.fixture(params=KINDS)
async def open_kind(request: pytest.FixtureRequest) -> AsyncIterator[Opener]:
    """Opens sandboxes of the parametrized kind (with config overrides) and closes them after."""
    kind: SandboxKind = request.param
    need(request, kind)
    opened: list[Sandbox] = []

    async def opener(**overrides: Any) -> Sandbox:
        config = SandboxConfig(kind=kind, **{**SMALL, **overrides})
        labels = {"arena.run": RUN_ID, "arena.episode": f"{request.node.name}-{len(opened)}"}
        sandbox = await open_sandbox(config, image=PYTHON_IMAGE, labels=labels)
        opened.append(sandbox)
        return sandbox

    yield opener
    for sandbox in opened:
        await sandbox.close()


@pytest.fixture
async def sandbox(open_kind: Opener) -> Sandbox:
    return await open_kind()
