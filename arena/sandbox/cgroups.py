"""Cgroups for sandboxes: one bound on memory (tmpfs included), processes and CPU for everything
a sandbox runs, and a way to freeze, thaw or kill all of it at once.

Both cgroup versions work. Version 1 (one hierarchy per controller) is used when its memory
controller is mounted, as on Docker hosts of the cgroupfs kind; otherwise the unified version 2
hierarchy. Sandbox cgroups live under a top-level `arena` cgroup, as Docker's live under
`docker`, so `arena.sandbox.gc` finds what a dead process left.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

PARENT = "arena"
V1_CONTROLLERS = ("memory", "pids", "cpu", "freezer")
V2_CONTROLLERS = ("memory", "pids", "cpu")
CFS_PERIOD = 100_000


class CgroupError(Exception):
    """No usable cgroup: the message says why (not root, no memory controller, ...)."""


@dataclass(frozen=True)
class Layout:
    version: int
    mounts: dict[str, Path]  # v1: controller -> its hierarchy; v2: {"unified": root}

    def parents(self) -> list[Path]:
        return [mount / PARENT for mount in self.mounts.values()]


@functools.cache
def layout() -> Layout:
    """Where the cgroup hierarchies are mounted. Raises `CgroupError` if none can be used."""
    if os.geteuid() != 0:
        raise CgroupError("cgroups need root; the arena runs as an unprivileged user")
    v1: dict[str, Path] = {}
    unified: Path | None = None
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fstype, _source, options = [*right.split(), "", "", ""][:3]
            mountpoint = Path(left.split()[4])
            if fstype == "cgroup":
                for name in options.split(","):
                    if name in V1_CONTROLLERS:
                        v1.setdefault(name, mountpoint)
            elif fstype == "cgroup2" and unified is None:
                unified = mountpoint
    if "memory" in v1:
        return Layout(1, v1)
    if unified is not None:
        available = (unified / "cgroup.controllers").read_text().split()
        if "memory" in available:
            return Layout(2, {"unified": unified})
    raise CgroupError("no cgroup memory controller is mounted (neither cgroup v1 nor v2)")


class Cgroup:
    """One cgroup (a directory per controller in v1, one directory in v2)."""

    def __init__(self, name: str, where: Layout) -> None:
        self.name = name
        self.layout = where
        self.dirs = {key: mount / PARENT / name for key, mount in where.mounts.items()}

    @property
    def procs_files(self) -> list[Path]:
        """Write a pid into each of these to move that process into the cgroup."""
        return [d / "cgroup.procs" for d in self.dirs.values()]

    def exists(self) -> bool:
        return any(d.is_dir() for d in self.dirs.values())

    def pids(self) -> set[int]:
        found: set[int] = set()
        for path in self.procs_files:
            with contextlib.suppress(OSError):
                found |= {int(p) for p in path.read_text().split()}
        return found

    def _write(self, key: str, file: str, value: str) -> None:
        # By system calls, not pathlib: a sandbox's cgroup takes five writes to set up.
        fd = os.open(f"{self.dirs[key]}/{file}", os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)

    def _has(self, key: str, file: str) -> bool:
        """Whether the kernel gives this controller's cgroups `file` (their parent has it too)."""
        return _has_file(self.dirs[key].parent / file)

    def create(self, *, memory_bytes: int, pids: int, cpus: float) -> None:
        for directory in self.dirs.values():
            if self.layout.version == 2:
                directory.parent.mkdir(exist_ok=True)
                _enable_controllers(directory)
            try:
                directory.mkdir()
            except FileNotFoundError:  # the first sandbox since boot (or since `arena gc`)
                directory.parent.mkdir(exist_ok=True)
                directory.mkdir()
        quota = max(1000, int(cpus * CFS_PERIOD))
        if self.layout.version == 1:
            self._write("memory", "memory.limit_in_bytes", str(memory_bytes))
            if self._has("memory", "memory.memsw.limit_in_bytes"):
                self._write("memory", "memory.memsw.limit_in_bytes", str(memory_bytes))  # no swap on top
            if "pids" in self.dirs:
                self._write("pids", "pids.max", str(pids))
            if "cpu" in self.dirs:
                self._write("cpu", "cpu.cfs_period_us", str(CFS_PERIOD))
                self._write("cpu", "cpu.cfs_quota_us", str(quota))
        else:
            self._write("unified", "memory.max", str(memory_bytes))
            if (self.dirs["unified"] / "memory.swap.max").exists():
                self._write("unified", "memory.swap.max", "0")
            if (self.dirs["unified"] / "pids.max").exists():
                self._write("unified", "pids.max", str(pids))
            if (self.dirs["unified"] / "cpu.max").exists():
                self._write("unified", "cpu.max", f"{quota} {CFS_PERIOD}")

    @property
    def can_freeze(self) -> bool:
        return "freezer" in self.dirs or self.layout.version == 2

    def freeze(self, timeout: float = 5.0) -> bool:
        """Freeze every process in the cgroup; True once the kernel says they all are."""
        if self.layout.version == 1:
            if "freezer" not in self.dirs:
                return False
            self._write("freezer", "freezer.state", "FROZEN")
            done = lambda: (self.dirs["freezer"] / "freezer.state").read_text().strip() == "FROZEN"  # noqa: E731
        else:
            self._write("unified", "cgroup.freeze", "1")
            done = lambda: "frozen 1" in (self.dirs["unified"] / "cgroup.events").read_text()  # noqa: E731
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.002)
        return True

    def thaw(self) -> None:
        with contextlib.suppress(OSError):
            if self.layout.version == 1:
                if "freezer" in self.dirs:
                    self._write("freezer", "freezer.state", "THAWED")
            else:
                self._write("unified", "cgroup.freeze", "0")

    def kill(self, timeout: float = 5.0) -> int:
        """Kill every process in the cgroup, fork bombs included. Returns how many there were."""
        killed: set[int] = set()
        deadline = time.monotonic() + timeout
        kill_file = self.dirs.get("unified", Path("/nonexistent")) / "cgroup.kill"
        while (pids := self.pids()) and time.monotonic() < deadline:
            killed |= pids
            if kill_file.exists():
                with contextlib.suppress(OSError):
                    kill_file.write_text("1")
            else:  # frozen, nobody can fork between reading the list and the signal
                frozen = self.freeze(timeout=1.0)
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                if frozen:
                    self.thaw()
            time.sleep(0.005)
        return len(killed)

    def remove(self, timeout: float = 5.0) -> bool:
        """Kill what is left and remove the cgroup. False if the kernel still holds it."""
        if self._remove_empty():  # nothing left, or nothing there
            return True
        self.kill(timeout)
        deadline = time.monotonic() + timeout
        for directory in self.dirs.values():
            while directory.is_dir():
                try:
                    directory.rmdir()
                except OSError as e:
                    if e.errno != errno.EBUSY or time.monotonic() > deadline:
                        return False
                    time.sleep(0.01)
        return True

    def _remove_empty(self) -> bool:
        """Remove the cgroup at once if nothing is left in it (the usual case at close); False if
        some of it is still busy."""
        for directory in self.dirs.values():
            try:
                os.rmdir(directory)
            except FileNotFoundError:
                pass
            except OSError:
                return False
        return True

    def memory_events(self) -> dict[str, int]:
        """OOM counters: `oom_kill` (processes the kernel killed for memory)."""
        path = (
            self.dirs["memory"] / "memory.oom_control"
            if self.layout.version == 1
            else self.dirs["unified"] / "memory.events"
        )
        events: dict[str, int] = {}
        with contextlib.suppress(OSError):
            for line in path.read_text().splitlines():
                key, _, value = line.partition(" ")
                with contextlib.suppress(ValueError):
                    events[key] = int(value)
        return events


@functools.cache
def _has_file(path: Path) -> bool:
    return path.exists()


def _enable_controllers(directory: Path) -> None:
    """v2: enable the controllers in every ancestor of `directory`, so that it gets them."""
    chain = []
    path = directory
    root = layout().mounts["unified"]
    while path != root and root in path.parents:
        chain.append(path.parent)
        path = path.parent
    for parent in reversed(chain):
        wanted = set(V2_CONTROLLERS) & set((parent / "cgroup.controllers").read_text().split())
        enabled = set((parent / "cgroup.subtree_control").read_text().split())
        missing = wanted - enabled
        if missing:
            try:
                (parent / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in sorted(missing)))
            except OSError as e:
                raise CgroupError(
                    f"cannot enable the {', '.join(sorted(missing))} controllers in {parent}: {e}"
                ) from e


def create(name: str, *, memory_bytes: int, pids: int, cpus: float) -> Cgroup:
    """A new cgroup `arena/<name>` with these limits. Raises `CgroupError` if that cannot be done."""
    return setup(Cgroup(name, layout()), memory_bytes=memory_bytes, pids=pids, cpus=cpus)


def setup(group: Cgroup, *, memory_bytes: int, pids: int, cpus: float) -> Cgroup:
    """Make `group` with these limits. Raises `CgroupError` if that cannot be done."""
    try:
        group.create(memory_bytes=memory_bytes, pids=pids, cpus=cpus)
    except OSError as e:
        group.remove(timeout=1.0)
        raise CgroupError(f"cannot set up the cgroup {group.name}: {e}") from e
    return group


def existing_names() -> list[str]:
    """The names of every cgroup under `arena/` (for garbage collection)."""
    try:
        where = layout()
    except CgroupError:
        return []
    names: set[str] = set()
    for parent in where.parents():
        with contextlib.suppress(OSError):
            names |= {p.name for p in parent.iterdir() if p.is_dir()}
    return sorted(names)


def by_name(name: str) -> Cgroup | None:
    try:
        return Cgroup(name, layout())
    except CgroupError:
        return None
