"""As root, a bwrap jail's /etc is one read-only tmpfs holding exactly the host's allow-list (what
must stay hidden empty) and the jail's own user files, and it goes with the arena process that
made it, however that process ends."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from arena.sandbox import SandboxConfig, etc_view, jail, records
from arena.sandbox.bwrap import BwrapSandbox
from arena.sandbox.gc import collect
from tests.conftest import require

OWN_FILES = {"passwd", "group", "hosts", "hostname"}  # the jail's own, not the host's

# What /etc holds: every entry's kind, mode and owner, a link's target, a file's digest.
MANIFEST = r"""
import hashlib, json, os, stat, sys
out = {}
for root, dirs, files in os.walk(sys.argv[1]):
    for name in dirs + files:
        path = os.path.join(root, name)
        info = os.lstat(path)
        entry = [stat.S_IFMT(info.st_mode), info.st_mode & 0o7777, info.st_uid, info.st_gid]
        if stat.S_ISLNK(info.st_mode):
            entry.append(os.readlink(path))
        elif stat.S_ISREG(info.st_mode):
            with open(path, "rb") as f:
                entry.append(hashlib.sha256(f.read()).hexdigest())
        out[os.path.relpath(path, sys.argv[1])] = entry
print(json.dumps(out))
"""


@pytest.fixture
def root(need_bwrap: None) -> None:
    require(os.geteuid() == 0, "root", "the /etc view is made by root: run the tests as root, as CI does")


def host_manifest() -> dict[str, Any]:
    """MANIFEST of the host's allow-listed entries, with what is hidden left empty."""
    out: dict[str, Any] = {}
    for path in etc_view.allowed_entries(jail.ETC_ALLOW):
        out.update(_entry(path))
        if os.path.isdir(path) and not os.path.islink(path):
            for root, dirs, files in os.walk(path):
                for name in dirs + files:
                    out.update(_entry(os.path.join(root, name)))
                dirs[:] = [d for d in dirs if os.path.join(root, d) not in jail.ETC_HIDE]
    return out


def _entry(path: str) -> dict[str, Any]:
    info = os.lstat(path)
    entry: list[Any] = [info.st_mode & 0o170000, info.st_mode & 0o7777, info.st_uid, info.st_gid]
    if os.path.islink(path):
        entry.append(os.readlink(path))
    elif os.path.isfile(path):
        entry.append(hashlib.sha256(Path(path).read_bytes()).hexdigest())
    return {os.path.relpath(path, "/etc"): entry}


async def test_the_jail_binds_one_etc_that_holds_the_allow_list_and_nothing_else(root: None) -> None:
    sandbox = await BwrapSandbox.start(SandboxConfig(), image="", labels={})
    try:
        assert sandbox.etc is not None
        mounts = (await sandbox.exec("cat /proc/self/mountinfo", timeout=10)).stdout.splitlines()
        under_etc = [line.split() for line in mounts if (line.split()[4] + "/").startswith("/etc/")]
        assert len(under_etc) == 1 and under_etc[0][-3] == "tmpfs", under_etc  # one mount: no bind per entry
        assert "ro" in under_etc[0][5].split(",")
        r = await sandbox.exec("getent passwd agent; cat /etc/hostname; touch /etc/passwd /etc/new", timeout=10)
        assert r.stdout.split("\n")[:2] == ["agent:x:1000:1000:agent:/work:/bin/bash", "arena"]
        assert r.exit_code != 0 and "Read-only file system" in r.stderr
        # As root in the grading jail, every entry, its owner and its bytes: the host's, exactly.
        async with sandbox.grading(final=True) as view:
            r = await view.exec(["python3", "-c", MANIFEST, "/etc"], timeout=60)
        assert r.exit_code == 0, r.stderr
        inside = {k: v for k, v in json.loads(r.stdout).items() if k not in OWN_FILES}
        assert len(inside) > 50 and inside == host_manifest()
        assert not [name for name in inside if any(name.startswith(h[len("/etc/"):] + "/") for h in jail.ETC_HIDE)]
    finally:
        await sandbox.close()


async def test_without_a_view_a_jail_binds_the_entries_one_by_one(root: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def cannot_mount(*args: object) -> None:
        raise OSError(1, "not permitted")

    monkeypatch.setattr(etc_view, "_views", {})
    monkeypatch.setattr(etc_view, "_mount", cannot_mount)
    before = {r.name for r in records.all_records() if r.data.get("kind") == "etc"}
    sandbox = await BwrapSandbox.start(SandboxConfig(), image="", labels={})
    try:
        assert sandbox.etc is None
        assert {r.name for r in records.all_records() if r.data.get("kind") == "etc"} == before  # nothing left
        r = await sandbox.exec("getent passwd agent; grep -c ' /etc' /proc/self/mountinfo", timeout=10)
        lines = r.stdout.split()
        assert lines[0] == "agent:x:1000:1000:agent:/work:/bin/bash" and int(lines[1]) > 10
    finally:
        await sandbox.close()
    assert list(etc_view._views.values()) == [None]  # remembered: the next sandbox does not try again


MAKER = """
import asyncio, sys
from arena.sandbox import SandboxConfig
from arena.sandbox.bwrap import BwrapSandbox
from arena.sandbox.gc import collect

async def main():
    sandbox = await BwrapSandbox.start(SandboxConfig(), image="", labels={})
    await sandbox.close()  # before the line is read: a kill then leaves only the view behind
    print(sandbox.etc, flush=True)
    if sys.argv[1] == "hang":
        await asyncio.sleep(3600)

asyncio.run(main())
"""


def mounted(path: str) -> bool:
    return any(line.split()[4] == path for line in Path("/proc/self/mountinfo").read_text().splitlines())


@pytest.mark.parametrize("end", ["exit", "kill", "kill, no watchdog"])
def test_the_view_goes_with_its_process(root: None, end: str) -> None:
    # A normal exit removes the view itself; after SIGKILL the watchdog does, and without one
    # the collection of any run (as `arena run --resume` makes) or `arena gc`.
    env = {**os.environ, "ARENA_SANDBOX_WATCHDOG": "1" if end == "kill" else "0"}
    command = [sys.executable, "-c", MAKER, "exit" if end == "exit" else "hang"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    path = process.stdout.readline().strip()
    assert path and mounted(path)
    if end != "exit":
        process.send_signal(signal.SIGKILL)  # no cleanup of its own
    process.wait(timeout=60)
    if end == "kill, no watchdog":
        time.sleep(0.5)
        assert mounted(path)  # nothing removed it yet
        collect(run_id="pytest-any-run")
    for _ in range(120):
        if not mounted(path) and not Path(path).parent.exists():
            break
        time.sleep(0.25)
    assert not mounted(path) and not Path(path).parent.exists()
