"""Where sandboxes keep their host-side state, and who owns it.

Every bwrap or Docker sandbox has a directory under `state_root()` with a `record.json`: the
arena process that owns it (boot id, pid and start time, so a reused pid is not mistaken for
the owner), its labels (a warm sandbox keeps its pool's), and what it made on the host
(cgroups, a disk mount, a container). `arena.sandbox.gc` reads these to remove what a dead
arena process left behind.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import shutil
import socket
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RECORD = "record.json"


def state_root() -> Path:
    """`$ARENA_SANDBOX_DIR`, else a directory on disk (not a tmpfs /tmp: disk images live here)."""
    configured = os.environ.get("ARENA_SANDBOX_DIR")
    if configured:
        return Path(configured)
    base = Path("/var/tmp") if os.access("/var/tmp", os.W_OK) else Path(tempfile.gettempdir())
    return base / ("arena-sandboxes" if os.geteuid() == 0 else f"arena-sandboxes-{os.geteuid()}")


@functools.cache
def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot; None if there is no such process
    (or only its zombie)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2 :].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return fields[19].decode()


def owner() -> str:
    """This process, as `host/boot/pid/start`: unique across reboots and pid reuse."""
    return _owner(os.getpid())


@functools.cache  # per pid: a forked child is an owner of its own
def _owner(pid: int) -> str:
    return f"{socket.gethostname()}/{boot_id()}/{pid}/{start_time(pid)}"


def owner_alive(token: str) -> bool | None:
    """True if the owning process lives, False if it is gone, None if it ran on another host
    (then nobody here can tell, and its things are left alone)."""
    try:
        host, boot, pid, started = token.split("/")
    except ValueError:
        return False  # written by an older arena: nobody owns it any more
    if host != socket.gethostname():
        return None
    if boot != boot_id():
        return False
    return start_time(int(pid)) == started


@dataclass
class Record:
    """One sandbox's host-side directory and what is written about it."""

    directory: Path
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.directory.name

    def save(self) -> None:
        # By system calls, not pathlib: a record is written two or three times per sandbox.
        directory = str(self.directory)
        partial = f"{directory}/.{RECORD}.tmp"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, json.dumps(self.data, indent=1).encode())
        finally:
            os.close(fd)
        os.rename(partial, f"{directory}/{RECORD}")

    def update(self, **values: Any) -> None:
        self.data.update(values)
        self.save()

    def relabel(self, labels: dict[str, str]) -> None:
        """New labels, in memory only: the file keeps those it was made with, whose run label (all
        that `gc` reads of them) a warm sandbox shares with the episode it is handed to. A write
        to the host's disk in the event loop was a visible share of an episode's start."""
        self.data["labels"] = dict(labels)


def new_name(kind: str) -> str:
    """A name for a new sandbox directory (and what is named after it, such as its cgroups)."""
    return f"{kind}-{os.getpid()}-{secrets.token_hex(6)}"


def new_record(kind: str, labels: dict[str, str], *, name: str | None = None, **data: Any) -> Record:
    """A new sandbox directory (`name`, else a new one), and its record with `data` (what is
    about to be made) in it."""
    from arena.sandbox.gc import ensure_watchdog

    ensure_watchdog()
    root = state_root()
    name = name or new_name(kind)
    _prepared_root(root)
    try:
        os.mkdir(root / name, 0o711)
    except FileNotFoundError:  # the root was removed since this process prepared it
        _make_root(root)
        os.mkdir(root / name, 0o711)
    record = Record(root / name, {"kind": kind, "owner": owner(), "labels": dict(labels), **data})
    record.save()
    return record


def _make_root(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        root.chmod(0o711)  # a jail's own host uid must reach its bind sources, and list nothing


@functools.cache  # once per process and root, not once per sandbox
def _prepared_root(root: Path) -> None:
    _make_root(root)


def all_records() -> list[Record]:
    root = state_root()
    found = []
    with contextlib.suppress(OSError):
        for directory in sorted(root.iterdir()):
            if not directory.is_dir() or directory.name == "templates":
                continue
            try:
                data = json.loads((directory / RECORD).read_text())
            except (OSError, ValueError):
                data = {}  # died before its record was written
            found.append(Record(directory, data))
    return found


def templates_dir() -> Path:
    return state_root() / "templates"


def remove_tree(root: Path) -> None:
    """Remove a directory tree the agent may have made hard to remove (read-only directories)."""

    def make_writable(func: object, path: str, exc: object) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(path), stat.S_IRWXU)
            if os.path.isdir(path) and not os.path.islink(path):
                os.chmod(path, stat.S_IRWXU)
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)

    try:  # the usual case: files and empty directories (mount points), in one pass
        with os.scandir(root) as entries:
            for entry in entries:
                (os.rmdir if entry.is_dir(follow_symlinks=False) else os.unlink)(entry.path)
        os.rmdir(root)
        return
    except FileNotFoundError:
        if not root.exists():
            return
    except OSError:
        pass
    try:
        shutil.rmtree(root, onexc=make_writable)  # type: ignore[call-arg]
    except TypeError:  # Python < 3.12
        shutil.rmtree(root, onerror=make_writable)
