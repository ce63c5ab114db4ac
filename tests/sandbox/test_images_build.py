"""Image builds: idempotent (skipped when the inputs did not change), rebuilt when they did or
when forced, with a parent's change reaching its children through the inputs hash."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

import arena.images as images
from arena.errors import SandboxError
from arena.images import (
    BASE_IMAGE,
    PYTHON_IMAGE,
    ROOTFS_IMAGE,
    build_images,
    build_order,
    image_names,
    inputs_hash,
)
from arena.sandbox.docker import connect


def test_second_build_is_up_to_date(docker_images: None) -> None:
    lines: list[str] = []
    started = time.monotonic()
    status = build_images(log=lines.append)
    assert time.monotonic() - started < 10
    assert status == {name: "up to date" for name in image_names()}
    assert lines == [f"{name}: up to date" for name in build_order(image_names())]
    assert {ROOTFS_IMAGE, BASE_IMAGE, PYTHON_IMAGE} <= set(status)


def test_build_order_and_hash_chain() -> None:
    assert build_order([PYTHON_IMAGE]) == [ROOTFS_IMAGE, BASE_IMAGE, PYTHON_IMAGE]
    assert len({inputs_hash(name) for name in (ROOTFS_IMAGE, BASE_IMAGE, PYTHON_IMAGE)}) == 3
    with pytest.raises(SandboxError, match="unknown image"):
        build_order(["arena-nonexistent"])


def test_changed_dockerfile_rebuilds(docker_images: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A throwaway family image in a private images folder, built on the real arena-base.
    for path in images.IMAGES_DIR.glob("*.Dockerfile"):
        (tmp_path / path.name).write_text(path.read_text())
    monkeypatch.setattr(images, "IMAGES_DIR", tmp_path)
    name = f"arena-pytest-{uuid.uuid4().hex[:8]}"
    dockerfile = tmp_path / f"{name}.Dockerfile"
    dockerfile.write_text(f"FROM {BASE_IMAGE}\nRUN echo one > /version\n")
    client = connect()
    try:
        assert build_images([name], log=lambda _: None)[name] == "built"
        assert build_images([name], log=lambda _: None) == {
            ROOTFS_IMAGE: "up to date", BASE_IMAGE: "up to date", name: "up to date"
        }  # fmt: skip
        first = client.images.get(name).id
        dockerfile.write_text(f"FROM {BASE_IMAGE}\nRUN echo two > /version\n")
        assert build_images([name], log=lambda _: None)[name] == "built"
        assert client.images.get(name).id != first
        assert build_images([name], force=True, log=lambda _: None)[name] == "built"
        out = client.containers.run(name, ["cat", "/version"], remove=True, network_mode="none")
        assert out == b"two\n"
    finally:
        client.images.remove(name, force=True)
        client.close()
