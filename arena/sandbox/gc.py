"""Removing what dead arena processes left: containers, jails, disk mounts, cgroups, directories.

`collect()` (what `arena gc` runs) takes only what belongs to arena processes that are no longer
alive, never a live process's sandboxes; `collect(run_id)` only that run's. Ownership comes from
each sandbox's record (arena/sandbox/records.py) and each container's `arena.owner` label.

Every arena process that starts a sandbox also starts a watchdog (`python -m arena.sandbox.gc
--watch`): it waits for the arena process to end, however it ends (SIGKILL included), and then
removes whatever that process left, so nothing survives it even before the next `arena gc`.
Set ARENA_SANDBOX_WATCHDOG=0 to go without.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import threading
import time

from arena.sandbox import cgroups, disk, records

KINDS = ("containers", "jails", "mounts", "cgroups", "directories")


def _wanted(owner: str | None, labels: dict[str, str], run_id: str | None, only_owner: str | None) -> bool:
    if only_owner is not None:
        return owner == only_owner
    if run_id is not None and labels.get("arena.run") != run_id:
        return False
    if owner is None:  # made by an arena before owners were recorded: only when its run is named
        return run_id is not None
    return records.owner_alive(owner) is False


def _pid_of(name: str) -> int | None:
    """`bwrap-<pid>-<token>` (a record directory, or a cgroup named after one)."""
    parts = name.split(".")[0].split("-")
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


def _remove_containers(counts: dict[str, int], run_id: str | None, only_owner: str | None) -> None:
    try:
        import docker.errors

        from arena.sandbox.docker import MANAGED_LABEL, OWNER_LABEL, connect
    except ImportError:
        return
    try:
        client = connect(timeout=10)
    except Exception:
        return  # no daemon here: nothing of ours can be running in it
    try:
        for container in client.containers.list(all=True, filters={"label": [f"{MANAGED_LABEL}=1"]}):
            labels = container.labels or {}
            if _wanted(labels.get(OWNER_LABEL), labels, run_id, only_owner):
                with contextlib.suppress(docker.errors.NotFound):
                    container.remove(force=True)
                    counts["containers"] += 1
    except Exception:
        pass  # the daemon went away mid-way: what is left waits for the next collection
    finally:
        client.close()


def _remove_record(record: records.Record, counts: dict[str, int]) -> None:
    for name in record.data.get("cgroups", []):
        group = cgroups.by_name(name)
        if group is not None and group.exists():
            if group.pids():
                counts["jails"] += 1
            if group.remove():
                counts["cgroups"] += 1
    if disk.unmount(record.directory):
        counts["mounts"] += 1
    records.remove_tree(record.directory)
    counts["directories"] += 1


def collect(run_id: str | None = None, *, only_owner: str | None = None) -> dict[str, int]:
    """Remove the sandboxes of arena processes that are gone (only `run_id`'s if given).
    Returns how many of each kind of thing were removed."""
    counts = dict.fromkeys(KINDS, 0)
    _remove_containers(counts, run_id, only_owner)
    kept: set[str] = set()
    for record in records.all_records():
        owner = record.data.get("owner")
        if run_id is not None and record.data.get("kind") == "etc":
            # The jails' /etc of a process belongs to none of its runs: collecting any run takes
            # it once that process is gone (a Ray worker's watchdog dies with the worker).
            if owner is not None and records.owner_alive(owner) is False:
                _remove_record(record, dict.fromkeys(KINDS, 0))
            continue
        if owner is None:  # died before writing its record: the pid in the name is all we have
            pid = _pid_of(record.name)
            if only_owner is not None or (pid is not None and records.start_time(pid) is not None):
                kept.add(record.name)
                continue
        elif not _wanted(owner, record.data.get("labels", {}), run_id, only_owner):
            kept.add(record.name)
            continue
        _remove_record(record, counts)
    if only_owner is None and run_id is None:
        for name in cgroups.existing_names():  # a cgroup whose record is gone: a cleanup cut short
            stem = name.split(".")[0]
            pid = _pid_of(name)
            if stem in kept or (pid is not None and records.start_time(pid) is not None):
                continue
            group = cgroups.by_name(name)
            if group is not None:
                if group.pids():
                    counts["jails"] += 1
                if group.remove():
                    counts["cgroups"] += 1
    return counts


# ---------------------------------------------------------------------------------------- watchdog

_watchdog: tuple[int, subprocess.Popen[bytes]] | None = None  # (for pid, process)
_watchdog_lock = threading.Lock()  # sandboxes start in threads


def ensure_watchdog() -> None:
    """Start this process's watchdog, once (again after a fork)."""
    if os.environ.get("ARENA_SANDBOX_WATCHDOG", "1") == "0":
        return
    with _watchdog_lock:
        _start_watchdog()


def _start_watchdog() -> None:
    global _watchdog
    if _watchdog is not None and _watchdog[0] == os.getpid():
        return
    read_end, write_end = os.pipe()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "arena.sandbox.gc", "--watch", records.owner()],
            stdin=read_end,
            stdout=subprocess.DEVNULL,  # never hold the arena's own output open
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C is for the arena; the watchdog outlives it on purpose
            env={**os.environ, "ARENA_SANDBOX_WATCHDOG": "0"},
        )
    except OSError:
        os.close(write_end)
        return
    finally:
        os.close(read_end)
    _watchdog = (os.getpid(), process)
    _keep_open.append(write_end)  # closed only when this process ends, however it ends


_keep_open: list[int] = []


def _watch(owner: str) -> None:
    with contextlib.suppress(OSError):
        while os.read(0, 4096):
            pass
    for _ in range(100):  # the pipe closes a moment before the process is gone
        if records.owner_alive(owner) is not True:
            break
        time.sleep(0.05)
    else:
        return  # still alive (it closed the pipe itself): not ours to clean
    collect(only_owner=owner)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m arena.sandbox.gc", description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-id", help="only this run's leftovers")
    parser.add_argument("--watch", metavar="OWNER", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.watch:
        _watch(args.watch)
        return
    counts = collect(args.run_id)
    print(", ".join(f"{n} {kind}" for kind, n in counts.items()))


if __name__ == "__main__":
    main()
