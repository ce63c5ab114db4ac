"""A sandbox's own file system, capped in bytes and inodes and mounted on the host: a tmpfs, or
a sparse ext4 image on a loop device.

The agent's /work and /tmp live on it, so filling them ends in `No space left on device` inside
the sandbox and never takes more than the cap. A tmpfs is one mount, and what it holds is memory,
charged to the cgroup of whoever wrote it (the agent's: its `memory_mb` bounds the two together).
An ext4 image takes the host's disk instead; making one is done once per (size, inodes) into a
template that each sandbox copies sparsely (a few hundred KB of data), and mounting it takes a
loop device, 4-5 ms more per sandbox. Seen from inside, neither mount names a host path.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import functools
import os
import struct
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from arena.errors import SandboxError
from arena.processes import which
from arena.sandbox.records import templates_dir

if TYPE_CHECKING:
    from arena.sandbox import SandboxConfig

MOUNT_OPTIONS = "loop,nosuid,nodev,noatime"
# Loop devices and mounts by system call: mount(8) and umount(8) take 10-30 ms each, these 1-2.
LOOP_CTL_GET_FREE = 0x4C82
LOOP_CONFIGURE = 0x4C0A  # Linux 5.8; older kernels fall back to mount(8)
LO_FLAGS_AUTOCLEAR = 4  # the device detaches itself when its last user (the mount) goes
MS_NOSUID, MS_NODEV, MS_NOATIME = 2, 4, 1024
MNT_DETACH = 2


def available(kind: str) -> str | None:
    """None if disks of `kind` (tmpfs or ext4) can be made here, else why not."""
    if os.geteuid() != 0:
        return "disk caps need root (mounts); the arena runs as an unprivileged user"
    if kind == "tmpfs":
        return None
    missing = [tool for tool in ("mkfs.ext4", "mount", "umount") if which(tool) is None]
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


@functools.cache
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    return libc


def mount(source: str, target: Path, fstype: str, flags: int, options: str | None = None) -> None:
    """mount(2); raises OSError with the errno."""
    if _libc().mount(source.encode(), str(target).encode(), fstype.encode(), flags,
                     options.encode() if options is not None else None) != 0:  # fmt: skip
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(target))


def _loop_config(fd: int) -> bytes:
    # struct loop_config { u32 fd; u32 block_size; struct loop_info64 info; u64 reserved[8]; }
    info = struct.pack("=5Q4I64s64s32s2Q", 0, 0, 0, 0, 0, 0, 0, 0, LO_FLAGS_AUTOCLEAR, b"", b"", b"", 0, 0)
    return struct.pack("=II", fd, 0) + info + bytes(64)


def _attach(image: Path) -> tuple[int, str]:
    """A free loop device backed by `image` (open: the caller closes it once it is mounted)."""
    control = os.open("/dev/loop-control", os.O_RDWR | os.O_CLOEXEC)
    try:
        for _ in range(100):  # another process may take the free device first: try the next
            device = f"/dev/loop{fcntl.ioctl(control, LOOP_CTL_GET_FREE)}"
            backing = os.open(image, os.O_RDWR | os.O_CLOEXEC)
            try:
                loop = os.open(device, os.O_RDWR | os.O_CLOEXEC)
                try:
                    fcntl.ioctl(loop, LOOP_CONFIGURE, _loop_config(backing))
                    return loop, device
                except OSError as e:
                    os.close(loop)
                    if e.errno != errno.EBUSY:
                        raise
            finally:
                os.close(backing)
    finally:
        os.close(control)
    raise OSError(errno.EBUSY, "no free loop device")


def _mount(image: Path, mountpoint: Path) -> None:
    try:
        loop, device = _attach(image)
    except OSError:  # an old kernel, or no /dev/loop-control: mount(8) knows other ways
        run(["mount", "-o", MOUNT_OPTIONS, str(image), str(mountpoint)])
        return
    try:
        try:
            mount(device, mountpoint, "ext4", MS_NOSUID | MS_NODEV | MS_NOATIME)
        except OSError as e:
            raise SandboxError(f"cannot mount the sandbox's disk ({device}): {e.strerror}") from None
    finally:
        os.close(loop)  # with AUTOCLEAR: the device is released when the mount goes


def make(directory: Path, config: SandboxConfig) -> Path:
    """The sandbox's file system as `config` says (`disk`, `disk_size_mb`, `inodes`; an ext4
    image lies in `directory`), mounted on `directory/fs`. Returns the mount point."""
    size_mb, inodes = config.disk_size_mb, config.inodes
    mountpoint = directory / "fs"
    mountpoint.mkdir(exist_ok=True)
    if config.disk == "tmpfs":
        options = f"size={size_mb}m,nr_inodes={inodes},mode=0711"
        try:
            mount("tmpfs", mountpoint, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOATIME, options)
        except OSError as e:
            raise SandboxError(f"cannot mount the sandbox's disk (a tmpfs): {e.strerror}") from None
        return mountpoint
    image = directory / "disk.img"
    _copy_sparse(_template(templates_dir(), size_mb, inodes), image)
    _mount(image, mountpoint)
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
    image, if any. True if there was a mount."""
    mountpoint = directory / "fs"
    target = str(mountpoint).encode()
    mounted = True
    if _libc().umount2(target, 0) != 0:
        if ctypes.get_errno() in (errno.EINVAL, errno.ENOENT):  # not a mount point, or no such path
            mounted = is_mounted(mountpoint)  # (or one that umount2 cannot name: mount(8) may)
        # Busy: detach it now, and the kernel frees it when its last user goes.
        if mounted and _libc().umount2(target, MNT_DETACH) != 0:
            subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True, timeout=60)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(directory / "disk.img")
    return mounted
