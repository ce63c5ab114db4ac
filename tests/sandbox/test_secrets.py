"""Nothing of the arena reaches a sandbox: not its environment (API keys), its command line, its
host paths, its /etc or its code, anywhere the agent can look (files, /proc, mount tables)."""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from pathlib import Path

import pytest

import arena
from arena.sandbox import SandboxConfig, jail, records
from arena.sandbox.bwrap import BwrapSandbox
from tests.sandbox.kit import Opener

# Walks everything visible (but the host's /usr, which holds no secret, and /sys), then every
# process's environment, command line and mount table, and prints each needle it finds, where.
SEARCH = r"""
import os, sys
needles = [n.encode() for n in sys.stdin.read().split("\n") if n]
found = []
def look(path, data):
    for n in needles:
        if n in data:
            found.append((path, n.decode()))
for top in ("/",):
    for root, dirs, files in os.walk(top):
        if root == "/":
            dirs[:] = [d for d in dirs if d not in ("proc", "sys", "usr")]
        for name in files:
            path = os.path.join(root, name)
            try:
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                with open(path, "rb") as f:
                    look(path, f.read(1 << 22))
            except OSError:
                pass
for pid in [p for p in os.listdir("/proc") if p.isdigit()] + ["self"]:
    for what in ("environ", "cmdline", "mountinfo", "maps"):
        try:
            with open(f"/proc/{pid}/{what}", "rb") as f:
                look(f"/proc/{pid}/{what}", f.read())
        except OSError:
            pass
for path in ("/proc/mounts", "/proc/self/mounts"):
    with open(path, "rb") as f:
        look(path, f.read())
print("\n".join(f"{p}: {n}" for p, n in found) or "clean")
"""


def host_needles() -> list[str]:
    """Host paths that would give the arena away: its checkout, its interpreter, its state."""
    here = Path(arena.__file__).resolve().parent.parent
    return [str(here), str(Path(sys.executable).parent), str(records.state_root()), "arena-sandboxes"]


async def test_no_secret_or_host_path_is_visible(open_kind: Opener, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {"OPENAI_API_KEY": f"sk-planted-{uuid.uuid4().hex}", "ARENA_TEST_SECRET": f"hush-{uuid.uuid4().hex}"}
    for key, value in secrets.items():
        monkeypatch.setenv(key, value)
    sandbox = await open_kind()
    await sandbox.exec("sleep 300 &", timeout=10)  # a process of the agent's own, whose /proc we read too
    needles = [*secrets.values(), *host_needles()]
    r = await sandbox.exec(["python3", "-c", SEARCH], timeout=120, stdin="\n".join(needles).encode())
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == "clean"
    # The names alone, without their values, are not there either.
    r = await sandbox.exec("env; tr '\\0' '\\n' </proc/1/environ 2>/dev/null", timeout=10)
    assert "OPENAI_API_KEY" not in r.stdout and "ARENA_TEST_SECRET" not in r.stdout


@pytest.mark.parametrize("disk", ["tmpfs", "ext4"])
async def test_mount_table_names_no_host_path(open_kind: Opener, disk: str) -> None:
    sandbox = await open_kind(disk=disk)
    r = await sandbox.exec("cat /proc/self/mountinfo", timeout=10)
    work = next(line for line in r.stdout.splitlines() if line.split()[4] == "/work")
    fields = work.split()
    # A file system of its own, not a host directory.
    assert fields[3] in ("/", "/work") and (" - tmpfs tmpfs " if disk == "tmpfs" else "/dev/loop") in work
    assert not any(needle in r.stdout for needle in host_needles())


async def test_bwrap_etc_is_an_allow_list(need_bwrap: None) -> None:
    # Docker sandboxes have their image's /etc; a bwrap jail gets only what programs need of the host's.
    sandbox = await BwrapSandbox.start(SandboxConfig(), image="", labels={})
    try:
        names = set((await sandbox.exec("ls -A /etc", timeout=10)).stdout.split())
        allowed = {"passwd", "group", "hosts", "hostname"}
        for pattern in jail.ETC_ALLOW:
            allowed |= {Path(p).name for p in Path("/etc").glob(pattern)}
        assert names <= allowed, names - allowed
        assert not names & {"shadow", "gshadow", "machine-id", "resolv.conf", "sudoers", "ssh"}
        r = await sandbox.exec("ls -A /etc/ssl/private | wc -l; getent passwd agent", timeout=10)
        assert r.stdout.split("\n")[:2] == ["0", "agent:x:1000:1000:agent:/work:/bin/bash"]
    finally:
        await sandbox.close()


async def test_arena_code_under_a_bound_path_is_masked(need_bwrap: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # An install of the arena under /usr/local would be visible through the jail's /usr: it is masked.
    install = Path(f"/usr/local/lib/arena-test-{uuid.uuid4().hex[:8]}")
    package = install / "arena"
    try:
        package.mkdir(parents=True)
        (package / "grading.py").write_text("REFERENCE_SOLUTION = 'do not show'\n")
        (install / "unrelated.txt").write_text("fine\n")
        monkeypatch.setattr(jail, "arena_code_dirs", lambda: [str(package)])
        sandbox = await BwrapSandbox.start(SandboxConfig(), image="", labels={})
        try:
            look = f"cat {install}/unrelated.txt; ls -A {package}; cat {package}/grading.py"
            r = await sandbox.exec(look, timeout=10)
            assert r.stdout == "fine\n" and "do not show" not in r.stdout + r.stderr
        finally:
            await sandbox.close()
    finally:
        shutil.rmtree(install, ignore_errors=True)


def test_the_arena_knows_where_its_code_is() -> None:
    dirs = jail.arena_code_dirs()
    assert str(Path(arena.__file__).resolve().parent) in dirs
    assert all(os.path.isdir(d) for d in dirs)
