"""A bubblewrap jail's /etc as one file system of its own, made once per arena process.

Bound entry by entry, the host's /etc allow-list is 28 bind mounts per jail, and bwrap reads the
whole mount table again after every bind: 5-6 ms of CPU per jail, a tenth of what a one-tool
episode costs. As root, the allow-list is copied once into a small tmpfs (what must stay hidden left
empty, and the files that every agent jail gets of its own, such as its passwd, written beside
it), and each jail binds that whole. Seen from inside, the mount's source is a tmpfs: it names no
host path, as no other mount of the jail does.

The view is a sandbox record of its own (kind `etc`, with a mount), so the watchdog or `arena gc`
unmounts and removes it once its process is gone, as they do a sandbox's disk; a normal exit does
so at once. Without root there is no tmpfs to make, and jails bind the entries one by one.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import glob
import os
import shutil
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

from arena.sandbox import disk, records

MS_RDONLY, MS_REMOUNT = 1, 32
SIZE = "64m"  # a cap: the allow-list takes about 1 MB, and only what it takes is used

_views: dict[tuple[tuple[str, bytes], ...], Path | None] = {}  # files beside -> mount point (None: failed)
_lock = threading.Lock()  # sandboxes are prepared in threads
_owner_pid = os.getpid()  # whose views `_views` holds: a forked child makes its own


def view(allow: Iterable[str], hide: Iterable[str], files: Mapping[str, bytes]) -> Path | None:
    """The mount point of a read-only tmpfs holding the host's `allow` entries of /etc (symlinks
    as symlinks, directories under `hide` empty) and `files` (jail path -> content); None without
    root or if it cannot be made (jails then bind the entries themselves)."""
    if os.geteuid() != 0:
        return None
    global _owner_pid
    key = tuple(sorted(files.items()))
    with _lock:
        if _owner_pid != os.getpid():
            _views.clear()
            _owner_pid = os.getpid()
        if key not in _views:  # a failure is not tried again for every sandbox
            _views[key] = _make(list(allow), set(hide), files)
        return _views[key]


def _make(allow: list[str], hide: set[str], files: Mapping[str, bytes]) -> Path | None:
    record = records.new_record("etc", {})
    mountpoint = record.directory / "fs"
    try:
        mountpoint.mkdir(mode=0o755)
        record.update(mount=True)
        _mount(mountpoint, disk.MS_NOSUID | disk.MS_NODEV, f"size={SIZE},mode=0755")
        for path in allow:
            _copy(path, mountpoint / os.path.relpath(path, "/etc"), hide)
        for path, content in files.items():
            target = mountpoint / os.path.relpath(path, "/etc")
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
            target.write_bytes(content)
            target.chmod(0o644)
        _mount(mountpoint, MS_REMOUNT | MS_RDONLY | disk.MS_NOSUID | disk.MS_NODEV, "")
    except OSError:
        _remove(record.directory)
        return None
    if not any(_views.values()):
        atexit.register(_remove_all, os.getpid())
    return mountpoint


def _copy(source: str, target: Path, hide: set[str]) -> None:
    """`source` with its mode and owner; symlinks as they are; `hide`'s directories empty."""
    info = os.lstat(source)
    if os.path.islink(source):
        os.symlink(os.readlink(source), target)
    elif os.path.isdir(source):
        target.mkdir()
        if source not in hide:
            for name in sorted(os.listdir(source)):
                _copy(os.path.join(source, name), target / name, hide)
    elif os.path.isfile(source):
        shutil.copyfile(source, target)
    else:
        return  # a device or a socket in /etc: nothing a jail needs
    os.lchown(target, info.st_uid, info.st_gid)
    if not os.path.islink(source):
        os.chmod(target, info.st_mode & 0o7777)


def _mount(mountpoint: Path, flags: int, options: str) -> None:
    """Mount (or, with MS_REMOUNT, remount) the view's tmpfs."""
    disk.mount("tmpfs", mountpoint, "tmpfs", flags, options)


def _remove(directory: Path) -> None:
    disk.unmount(directory)
    records.remove_tree(directory)


def _remove_all(pid: int) -> None:
    if os.getpid() != pid or _owner_pid != pid:  # a forked child exits: the views are its parent's
        return
    with _lock:
        for mountpoint in _views.values():
            if mountpoint is not None:
                with contextlib.suppress(OSError):
                    _remove(mountpoint.parent)
        _views.clear()


@functools.cache  # globbed once per process, not once per sandbox
def allowed_entries(patterns: tuple[str, ...]) -> tuple[str, ...]:
    """The host's /etc entries that `patterns` (glob patterns under /etc) name, in order."""
    return tuple(path for pattern in patterns for path in sorted(glob.glob(f"/etc/{pattern}")))
