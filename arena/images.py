"""Sandbox images, built on this machine with no registry.

`arena-rootfs` is a minimal Debian bookworm made by `debootstrap` and imported into Docker; every
other image is `arena/images/<name>.Dockerfile`, built on its parent (its `FROM` line). Each
image carries a hash of its inputs (recipe or Dockerfile text, plus its parent's hash) as a label,
and is rebuilt only when that hash changes, or when forced.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from arena.errors import SandboxError

if TYPE_CHECKING:
    import docker

ROOTFS_IMAGE = "arena-rootfs"
BASE_IMAGE = "arena-base"
PYTHON_IMAGE = "arena-python"
INPUTS_LABEL = "arena.inputs"
IMAGES_DIR = Path(__file__).with_suffix("")  # arena/images/, next to this module

UP_TO_DATE = "up to date"
BUILT = "built"


@dataclass(frozen=True)
class RootfsRecipe:
    """Everything that decides the contents of arena-rootfs. Change it and the image, and every
    image built on it, is rebuilt."""

    suite: str = "bookworm"
    mirror: str = "http://deb.debian.org/debian"
    variant: str = "minbase"
    packages: tuple[str, ...] = ("python3", "procps", "gawk", "file", "less")
    remove: tuple[str, ...] = (
        "var/cache/apt/archives/*.deb",
        "var/cache/apt/*.bin",
        "var/lib/apt/lists/*",
        "usr/share/doc/*",
        "usr/share/man/*",
        "usr/share/info/*",
        "usr/share/locale/*",
        "var/log/*.log",
    )
    # Keeps later `apt-get install`s in derived images as slim as the rootfs itself.
    dpkg_excludes: tuple[str, ...] = (
        "path-exclude=/usr/share/doc/*",
        "path-exclude=/usr/share/man/*",
        "path-exclude=/usr/share/info/*",
        "path-exclude=/usr/share/locale/*",
    )
    # As in Debian's own container images: apt keeps no package caches in image layers.
    apt_clean: tuple[str, ...] = (
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };',
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };',
        'Dir::Cache::pkgcache "";',
        'Dir::Cache::srcpkgcache "";',
    )


ROOTFS_RECIPE = RootfsRecipe()

Log = Callable[[str], None]


def image_names() -> list[str]:
    """Every image this module can build: the rootfs and one per Dockerfile."""
    return [ROOTFS_IMAGE, *sorted(p.name.removesuffix(".Dockerfile") for p in IMAGES_DIR.glob("*.Dockerfile"))]


def dockerfile(name: str) -> Path:
    return IMAGES_DIR / f"{name}.Dockerfile"


def parent_of(name: str) -> str | None:
    """The image a Dockerfile builds on (its first FROM), or None for the rootfs."""
    if name == ROOTFS_IMAGE:
        return None
    path = dockerfile(name)
    if not path.is_file():
        raise SandboxError(f"unknown image {name!r}; known images: {', '.join(image_names())}")
    match = re.search(r"^\s*FROM\s+(\S+)", path.read_text(), re.MULTILINE | re.IGNORECASE)
    if match is None:
        raise SandboxError(f"{path} has no FROM line")
    return match.group(1).split(":")[0]


def inputs_hash(name: str) -> str:
    """A hash of everything the image is made from, its parent's inputs included."""
    h = hashlib.sha256()
    if name == ROOTFS_IMAGE:
        h.update(json.dumps(asdict(ROOTFS_RECIPE), sort_keys=True).encode())
    else:
        h.update(dockerfile(name).read_bytes())
        parent = parent_of(name)
        if parent in image_names():
            h.update(inputs_hash(parent).encode())
        else:
            h.update(f"external:{parent}".encode())
    return h.hexdigest()[:16]


def build_order(names: list[str]) -> list[str]:
    """The images to consider, each after the local images it builds on."""
    known = image_names()
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        parent = parent_of(name)
        if parent in known:
            visit(parent)
        order.append(name)

    for name in names:
        if name not in known:
            raise SandboxError(f"unknown image {name!r}; known images: {', '.join(known)}")
        visit(name)
    return order


def is_up_to_date(client: docker.DockerClient, name: str) -> bool:
    import docker.errors

    try:
        image = client.images.get(name)
    except docker.errors.ImageNotFound:
        return False
    return (image.labels or {}).get(INPUTS_LABEL) == inputs_hash(name)


def build_images(names: list[str] | None = None, *, force: bool = False, log: Log = print) -> dict[str, str]:
    """Build the named images (default: all), and any local image they build on that is missing
    or outdated. `force` rebuilds the named images even when up to date. Returns each image's
    status: "built" or "up to date"."""
    import docker.errors
    import requests

    from arena.sandbox.docker import connect, translate

    client = connect()
    wanted = image_names() if names is None else list(names)
    status: dict[str, str] = {}
    try:
        with _build_lock(log):
            for name in build_order(wanted):
                parent = parent_of(name)
                rebuild_parent = parent is not None and status.get(parent) == BUILT
                if not (force and name in wanted) and not rebuild_parent and is_up_to_date(client, name):
                    log(f"{name}: {UP_TO_DATE}")
                    status[name] = UP_TO_DATE
                    continue
                started = time.monotonic()
                old_id = _image_id(client, name)
                if name == ROOTFS_IMAGE:
                    _build_rootfs(client, log)
                else:
                    _build_dockerfile(client, name, nocache=force and name in wanted, log=log)
                _remove_replaced(client, name, old_id)
                size = client.images.get(name).attrs.get("Size", 0) / 1e6
                log(f"{name}: built in {time.monotonic() - started:.0f}s ({size:.0f} MB)")
                status[name] = BUILT
    except (docker.errors.DockerException, requests.RequestException) as e:
        raise translate(e) from e
    finally:
        client.close()
    return status


@contextlib.contextmanager
def _build_lock(log: Log) -> Iterator[None]:
    """One build at a time on this machine: two test sessions must not debootstrap twice at once."""
    with open(Path(tempfile.gettempdir()) / "arena-build-images.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log("waiting for another image build on this machine to finish")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _image_id(client: docker.DockerClient, name: str) -> str | None:
    import docker.errors

    try:
        return str(client.images.get(name).id)
    except docker.errors.ImageNotFound:
        return None


def _remove_replaced(client: docker.DockerClient, name: str, old_id: str | None) -> None:
    """Drop the image a rebuild replaced, unless something still uses it."""
    import docker.errors

    if old_id is None or old_id == _image_id(client, name):
        return
    # A container or a child image may still use it; `docker image prune` can take it later.
    with contextlib.suppress(docker.errors.APIError):
        client.images.remove(old_id)


def _build_rootfs(client: docker.DockerClient, log: Log) -> None:
    if os.geteuid() != 0:
        raise SandboxError(f"building {ROOTFS_IMAGE} runs debootstrap, which needs root: run it with sudo")
    if shutil.which("debootstrap") is None:
        raise SandboxError("debootstrap is not installed: `apt-get install debootstrap`")
    r = ROOTFS_RECIPE
    packages = ",".join(r.packages)
    with tempfile.TemporaryDirectory(prefix="arena-rootfs-") as tmp:
        root = Path(tmp) / "root"
        log(f"{ROOTFS_IMAGE}: debootstrap {r.suite} ({r.variant} + {packages}), about a minute")
        _run_logged(
            ["debootstrap", f"--variant={r.variant}", f"--include={packages}", r.suite, str(root), r.mirror],
            log,
            keep=lambda line: line.startswith(("I: Resolving", "I: Installing", "I: Base system", "E: ", "W: ")),
        )
        log(f"{ROOTFS_IMAGE}: trimming caches and docs")
        for pattern in r.remove:
            for path in root.glob(pattern):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
        (root / "etc/dpkg/dpkg.cfg.d/arena-slim").write_text("\n".join(r.dpkg_excludes) + "\n")
        (root / "etc/apt/apt.conf.d/docker-clean").write_text("\n".join(r.apt_clean) + "\n")
        (root / "etc/resolv.conf").write_text("")  # debootstrap copied the build host's
        (root / "etc/hostname").write_text("arena\n")
        tar = Path(tmp) / "rootfs.tar"
        log(f"{ROOTFS_IMAGE}: importing into Docker")
        subprocess.run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(tar), "."], check=True)
        client.api.import_image(
            src=str(tar),
            repository=ROOTFS_IMAGE,
            tag="latest",
            changes=[f"LABEL {INPUTS_LABEL}={inputs_hash(ROOTFS_IMAGE)}", 'CMD ["bash"]'],
        )


def _build_dockerfile(client: docker.DockerClient, name: str, *, nocache: bool, log: Log) -> None:
    tail: deque[str] = deque(maxlen=40)
    stream = client.api.build(
        path=str(IMAGES_DIR),
        dockerfile=f"{name}.Dockerfile",
        tag=name,
        labels={INPUTS_LABEL: inputs_hash(name)},
        rm=True,
        forcerm=True,
        pull=False,  # there is no registry: parents are the images built here
        nocache=nocache,
        decode=True,
    )
    for chunk in stream:
        if "error" in chunk:
            output = "\n".join(tail)
            raise SandboxError(f"building {name} failed: {str(chunk['error']).strip()}\n{output}")
        for line in str(chunk.get("stream", "")).splitlines():
            tail.append(line)
            if line.startswith("Step "):
                log(f"{name}: {line}")


def _run_logged(argv: list[str], log: Log, keep: Callable[[str], bool]) -> None:
    """Run a build command, logging the lines `keep` selects; on failure, show the last lines."""
    tail: deque[str] = deque(maxlen=40)
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            tail.append(line)
            if keep(line):
                log(f"{ROOTFS_IMAGE}: {line}")
    if proc.returncode != 0:
        output = "\n".join(tail)
        raise SandboxError(f"{argv[0]} failed (exit {proc.returncode}):\n{output}")


__all__ = [
    "BASE_IMAGE",
    "PYTHON_IMAGE",
    "ROOTFS_IMAGE",
    "build_images",
    "image_names",
    "inputs_hash",
    "is_up_to_date",
]
