"""A sandbox's own file system: a sparse ext4 image of a fixed size and inode count, loop-mounted.

The agent's /work and /tmp live on it, so filling them ends in `No space left on device` inside
the sandbox and never takes more of the host's disk than the cap. The mount also names no host
path: seen from inside, its source is a loop device. Making the file system is done once per
(size, inodes) into a template that each sandbox copies sparsely (a few hundred KB of data).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
from pathlib import Path

from arena.errors import SandboxError

MOUNT_OPTIONS = "loop,nosuid,nodev,noatime"


def available() -> str | None:
    """None if loop-mounted disks can be made here, else why not."""
    if os.geteuid() != 0:
        return "disk caps need root (loop mounts); the arena runs as an unprivileged user"
    missing = [tool for tool in ("mkfs.ext4", "mount", "umount") if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not found: install e2fsprogs and mount (or run scripts/setup.sh)"
    return None


def _template(templates: Path, size_mb: int, inodes: int) -> Path:
    path = templates / f"ext4-{size_mb}m-{inodes}i.img"
    if path.exists():
        return path
    templates.mkdir(parents=True, exist_ok=True)
    with open(templates / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists():
            return path
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        with open(partial, "wb") as f:
            f.truncate(size_mb * 1024 * 1024)
        # No journal (nothing to recover: the file system dies with its sandbox), no reserved
        # blocks (the agent gets the whole cap), the inode count as configured.
        run(["mkfs.ext4", "-q", "-F", "-m", "0", "-N", str(inodes), "-O", "^has_journal",
             "-E", "lazy_itable_init=1,nodiscard", str(partial)])  # fmt: skip
        partial.rename(path)
    return path


def _copy_sparse(src: Path, dst: Path) -> None:
    """Copy only the data extents of `src`: the template is 1 GiB long but mostly holes."""
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        size = os.fstat(fin.fileno()).st_size
        fout.truncate(size)
        offset = 0
        while offset < size:
            try:
                start = os.lseek(fin.fileno(), offset, os.SEEK_DATA)
            except OSError:  # no more data
                break
            end = os.lseek(fin.fileno(), start, os.SEEK_HOLE)
            os.lseek(fin.fileno(), start, os.SEEK_SET)
            os.lseek(fout.fileno(), start, os.SEEK_SET)
            remaining = end - start
            while remaining:
                copied = os.copy_file_range(fin.fileno(), fout.fileno(), remaining)
                if copied == 0:
                    break
                remaining -= copied
            offset = end


def run(argv: list[str]) -> None:
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise SandboxError(f"{' '.join(argv[:2])} failed (exit {r.returncode}): {(r.stderr or r.stdout).strip()}")


def make(directory: Path, *, size_mb: int, inodes: int, templates: Path) -> Path:
    """An image in `directory`, mounted on `directory/fs`. Returns the mount point."""
    image = directory / "disk.img"
    mountpoint = directory / "fs"
    mountpoint.mkdir(exist_ok=True)
    _copy_sparse(_template(templates, size_mb, inodes), image)
    run(["mount", "-o", MOUNT_OPTIONS, str(image), str(mountpoint)])
    with contextlib.suppress(OSError):
        os.rmdir(mountpoint / "lost+found")
    return mountpoint


def is_mounted(mountpoint: Path) -> bool:
    target = os.path.realpath(mountpoint)
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as f:
        for line in f:
            if line.split()[4] == target:
                return True
    return False


def unmount(directory: Path) -> bool:
    """Unmount the sandbox's file system (lazily if something still holds it) and delete its
    image. True if there was a mount."""
    mountpoint = directory / "fs"
    mounted = is_mounted(mountpoint)
    if mounted:
        r = subprocess.run(["umount", str(mountpoint)], capture_output=True, timeout=60)
        if r.returncode != 0:  # busy: detach now, the kernel frees it when the last user goes
            subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True, timeout=60)
    with contextlib.suppress(FileNotFoundError):
        (directory / "disk.img").unlink()
    return mounted
