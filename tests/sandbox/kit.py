"""Helpers for tests that look at the host from outside a sandbox."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from arena.protocols import Sandbox

Opener = Callable[..., Awaitable[Sandbox]]  # the `open_kind` fixture: opens a sandbox with config overrides


def host_pids(needle: str) -> list[int]:
    """Host processes whose command line contains `needle` (what `pgrep -f` does, minus itself)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if needle.encode() in cmdline:
            found.append(int(entry))
    return found


async def gone(needle: str, seconds: float = 10.0) -> bool:
    """Wait until no host process matches `needle` (the kernel reaps killed trees asynchronously)."""
    for _ in range(int(seconds / 0.1)):
        if not host_pids(needle):
            return True
        await asyncio.sleep(0.1)
    return not host_pids(needle)


def live_children() -> set[str]:
    """Our child processes that are still running (not zombies), as `pid comm`."""
    found = set()
    for entry in os.listdir("/proc"):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[1]) == os.getpid() and stat[0] != "Z":
                found.add(f"{entry} {Path(f'/proc/{entry}/comm').read_text().strip()}")
        except (OSError, IndexError):
            continue
    return found
