"""Resource bounds that hold for a sandbox as a whole, in both sandboxes: memory over all its
processes and its tmpfs, a capped /dev/shm, a capped disk (bytes and inodes) for /work and /tmp,
and (bwrap as root, through its cgroup) the CPU quota. Every attack ends as a failed command, the
host untouched, and the sandbox still usable."""

from __future__ import annotations

import os
import time

import pytest

from arena.errors import WorldBroken
from arena.sandbox import KEPT_FOR_PROCESSES_MB, SandboxConfig, records
from tests.sandbox.kit import Opener

HOG = "import time\nx = b'x' * (700 * 1024 * 1024)\ntime.sleep(60)\n"
# Four hogs, then wait (at most 30 s: the kernel is slow to reclaim on a loaded machine) until no
# more than one is alive. Under per-process limits all four live on.
FOUR_HOGS = (
    "for i in 1 2 3 4; do python3 /tmp/hog.py & done\n"
    "for _ in $(seq 300); do n=$(pgrep -c -f '^python3 /tmp/hog.py'); [ $n -le 1 ] && break; sleep 0.1; done\n"
    "echo $n\n"
)


async def test_memory_bound_holds_for_all_processes_together(open_kind: Opener) -> None:
    sandbox = await open_kind(memory_mb=1024)
    await sandbox.write_file("/tmp/hog.py", HOG.encode())
    r = await sandbox.exec(["bash", "-c", FOUR_HOGS], timeout=60)
    assert r.stdout.split() and int(r.stdout.split()[-1]) <= 1, r
    assert (await sandbox.exec("echo ok", timeout=10)).stdout == "ok\n"


async def test_dev_shm_is_capped(open_kind: Opener) -> None:
    sandbox = await open_kind(shm_mb=32)
    r = await sandbox.exec("head -c 2G /dev/zero > /dev/shm/fill; echo $?; df -k /dev/shm | tail -1", timeout=60)
    assert "No space left on device" in r.stderr
    size_kb = int(r.stdout.split("\n")[1].split()[1])
    assert size_kb <= 32 * 1024
    assert (await sandbox.exec("rm /dev/shm/fill; echo ok", timeout=10)).stdout == "ok\n"


def _host_free() -> int:
    st = os.statvfs(records.state_root())
    return st.f_bavail * st.f_frsize


@pytest.mark.parametrize("disk", ["tmpfs", "ext4"])
async def test_disk_is_capped_in_bytes(open_kind: Opener, disk: str) -> None:
    sandbox = await open_kind(disk_mb=64, disk=disk, file_size_mb=1024)  # the disk fills first
    r = await sandbox.exec("df -k /work | tail -1", timeout=20)
    assert 32 * 1024 <= int(r.stdout.split()[1]) <= 64 * 1024, r  # ext4 keeps some for its inode tables
    before = _host_free()
    for target in ("/work/big", "/tmp/big"):
        r = await sandbox.exec(f"head -c 2G /dev/zero > {target}", timeout=60)
        assert r.exit_code != 0 and "No space left on device" in r.stderr
    assert before - _host_free() < 80 * 1024 * 1024  # the cap (shared by /work and /tmp) and some metadata
    r = await sandbox.exec("rm /work/big /tmp/big && echo room again > /work/note && cat /work/note", timeout=20)
    assert r.stdout == "room again\n"


@pytest.mark.parametrize("disk", ["tmpfs", "ext4"])
async def test_disk_is_capped_in_inodes(open_kind: Opener, disk: str) -> None:
    sandbox = await open_kind(inodes=2048, disk=disk)
    script = "import os\nfor i in range(200_000):\n    open(f'/work/f{i}', 'w').close()\n"
    r = await sandbox.exec(["python3", "-c", script], timeout=60)
    assert r.exit_code != 0 and "No space left on device" in r.stderr
    count = await sandbox.exec("ls /work | wc -l", timeout=20)
    assert int(count.stdout) < 2048
    assert (await sandbox.exec("rm -f /work/f*; touch /work/again && echo ok", timeout=30)).stdout == "ok\n"


async def test_a_tmpfs_disk_never_takes_the_memory_its_commands_need(open_kind: Opener) -> None:
    # Its files are memory: filled, the disk stops short of memory_mb, and the commands that clear
    # it still run.
    sandbox = await open_kind(memory_mb=256, disk_mb=1024, file_size_mb=1024)
    r = await sandbox.exec("head -c 400M /dev/zero > /work/big; df -k /work | tail -1", timeout=60)
    assert "No space left on device" in r.stderr, r
    assert int(r.stdout.split()[1]) == (256 - KEPT_FOR_PROCESSES_MB) * 1024
    r = await sandbox.exec("rm /work/big && head -c 100M /dev/zero > /work/small && wc -c < /work/small", timeout=60)
    assert r.stdout == f"{100 * 1024 * 1024}\n", r


def test_default_caps_are_sane() -> None:
    config = SandboxConfig()
    assert config.disk_mb == 1024 and 10_000 <= config.inodes <= 1_000_000 and config.shm_mb <= config.memory_mb
    assert config.disk == "tmpfs" and config.disk_size_mb == 1024 - KEPT_FOR_PROCESSES_MB
    assert SandboxConfig(disk="ext4").disk_size_mb == 1024
    with pytest.raises(ValueError, match="at least 16"):
        SandboxConfig(disk_mb=8)
    with pytest.raises(ValueError, match="lower inodes"):
        SandboxConfig(disk="ext4", disk_mb=32, inodes=200_000)
    with pytest.raises(ValueError, match="no room for a tmpfs disk"):
        SandboxConfig(memory_mb=64)
    assert SandboxConfig(memory_mb=64, disk="ext4").disk_size_mb == 1024
    assert SandboxConfig(memory_mb=64, disk_mb=0).disk_size_mb == 0


async def test_cpu_quota_holds_for_the_whole_sandbox(open_kind: Opener) -> None:
    sandbox = await open_kind(cpus=0.5)
    # Two busy processes for two seconds of wall time: at most about one CPU second between them.
    burn = "import time\nend = time.time() + 2\nwhile time.time() < end: pass\n"
    started = time.monotonic()
    r = await sandbox.exec(
        ["bash", "-c", 'python3 -c "$0" & python3 -c "$0" & wait; cat /proc/self/stat >/dev/null; times', burn],
        timeout=60,
    )
    assert time.monotonic() - started < 30
    children = r.stdout.strip().split("\n")[-1].split()  # `times`: user and system time of the children
    used = sum(float(t.rstrip("s").split("m")[0]) * 60 + float(t.rstrip("s").split("m")[1]) for t in children)
    assert used < 1.6, r.stdout


async def test_running_out_of_memory_in_a_tmpfs_is_the_agents_doing(open_kind: Opener) -> None:
    # A /dev/shm larger than the memory bound: filling it leaves little for anyone, the sandbox's
    # own exec server included. bwrap loses at most the jail and starts a new one; Docker recovers,
    # or loses the container, which is the agent breaking its own world: never an infrastructure
    # error, never a hang.
    sandbox = await open_kind(memory_mb=96, shm_mb=512)
    try:
        for _ in range(3):
            r = await sandbox.exec("head -c 400M /dev/zero > /dev/shm/fill", timeout=30)
            assert r.exit_code != 0
        r = await sandbox.exec("echo recovered", timeout=30)
        assert r.stdout == "recovered\n"
    except WorldBroken as e:
        assert getattr(sandbox, "fs", None) is None and "ran out of memory" in str(e)  # Docker only
