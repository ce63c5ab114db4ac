"""Grading with privilege, in both sandboxes (`open_grading(sandbox, final=...)`): nothing the agent
did to its world (processes, permissions, a writer in the background, the process limit) makes
grading fail or lets it tamper with the result; graders see a scratch directory the agent cannot;
`exec_untrusted` runs as a grader uid of its own and leaves nothing behind; a copilot's
mid-episode check freezes the agent and thaws it after."""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from pathlib import Path

import pytest

from arena.errors import SandboxError
from arena.grading import open_grading
from arena.protocols import GradingView
from tests.sandbox.kit import Opener, gone

SPAWN_300 = """
import subprocess
sleeps = []
for _ in range(300):
    try:
        sleeps.append(subprocess.Popen(["sleep", "1000"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    except OSError:
        break
print("spawned", len(sleeps))
"""


async def test_final_grading_after_the_process_limit_is_used_up(open_kind: Opener) -> None:
    sandbox = await open_kind(pids=128)
    await sandbox.write_file("answer.txt", b"42")
    r = await sandbox.exec(["python3", "-c", SPAWN_300], timeout=60)
    assert r.stdout.startswith("spawned") and int(r.stdout.split()[1]) < 300  # stopped by the process limit
    async with open_grading(sandbox, final=True) as view:
        assert await view.read_file("answer.txt") == b"42"
        r = await view.exec("ls /work; cat /work/answer.txt", timeout=20)
        assert r.exit_code == 0 and r.stdout == "answer.txt\n42"
        r = await view.exec_untrusted(["cat", "/work/answer.txt"], timeout=20)
        assert r.stdout == "42"
    assert await gone("sleep 1000")


async def test_unreadable_directories_do_not_stop_grading(open_kind: Opener) -> None:
    sandbox = await open_kind()
    r = await sandbox.exec("mkdir -p d/inner && echo secret > d/inner/f && chmod 000 d/inner/f d/inner d", timeout=10)
    assert r.exit_code == 0
    async with open_grading(sandbox, final=True) as view:
        assert await view.read_file("d/inner/f") == b"secret\n"
        r = await view.exec("find /work -type f; stat -c %a /work/d", timeout=20)
        assert r.stdout.split() == ["/work/d/inner/f", "0"]


async def test_no_agent_process_runs_during_final_grading(open_kind: Opener) -> None:
    sandbox = await open_kind()
    writer = "nohup bash -c 'while :; do echo $RANDOM > /work/answer.txt; done' >/dev/null 2>&1 &"
    await sandbox.exec(writer + " sleep 0.5; test -e /work/answer.txt", timeout=10)
    async with open_grading(sandbox, final=True) as view:
        first = await view.read_file("answer.txt")
        await asyncio.sleep(0.3)
        assert await view.read_file("answer.txt") == first  # nobody rewrites it under the grader
        r = await view.exec("ps -eo user=,args= | grep -v -e '^root ' -e '^grader ' || true", timeout=20)
        assert "while" not in r.stdout
    with pytest.raises(SandboxError, match="stopped for good"):
        await sandbox.exec("true", timeout=10)


async def test_copilot_check_freezes_and_thaws_the_agent(open_kind: Opener) -> None:
    sandbox = await open_kind()
    # Each count replaces the file whole: a read never meets it truncated and not yet written.
    count = "i=$((i+1)); echo $i > /work/count.new; mv /work/count.new /work/count"
    counter = f"nohup bash -c 'i=0; while :; do {count}; sleep 0.01; done' >/dev/null 2>&1 &"
    await sandbox.exec(counter, timeout=10)
    await asyncio.sleep(0.3)
    async with open_grading(sandbox, final=False) as view:
        frozen = await view.read_file("count")
        await asyncio.sleep(0.5)
        assert await view.read_file("count") == frozen
        scratch = view.scratch
        await view.write_file(f"{scratch}/hidden_test.py", b"assert True\n")
    await asyncio.sleep(0.5)
    after = await sandbox.read_file("count")
    assert int(after) > int(frozen)  # thawed: the agent's process goes on
    # Nothing of the grader is left where the agent is.
    r = await sandbox.exec(f"ls -a {scratch} /grading 2>&1", timeout=10)
    assert "hidden_test" not in r.stdout
    r = await sandbox.exec("ps -eo uid= | sort -u", timeout=10)
    assert set(r.stdout.split()) <= {"0", "1000"}


async def test_scratch_is_for_graders_only(open_kind: Opener) -> None:
    sandbox = await open_kind()
    await sandbox.exec("echo visible > mine.txt; echo private > private.txt; chmod 600 private.txt", timeout=10)
    async with open_grading(sandbox, final=False) as view:
        scratch = view.scratch
        assert scratch.startswith("/") and not scratch.startswith(sandbox.workdir)
        r = await view.exec(f"stat -c '%a %U' {scratch}; ls -A {scratch}", timeout=10)
        mode, owner = r.stdout.split()
        assert mode == "700" and owner != "agent"
        # The untrusted grader: its own uid, reads the work dir as anyone would, writes only scratch.
        r = await view.exec_untrusted(
            f"id -u; cat mine.txt; cat private.txt; touch {scratch}/report && echo wrote; touch /work/x", timeout=20
        )
        uid = int(r.stdout.split()[0])
        assert uid not in (0, 1000)
        assert "visible" in r.stdout and "private" not in r.stdout and "wrote" in r.stdout
        assert "Permission denied" in r.stderr
        assert await view.read_file(f"{scratch}/report") == b""
        # The agent's uid cannot list, read or write the scratch (checked from inside, as the agent).
        as_agent = "setpriv --reuid=$(stat -c %u /work) --regid=$(stat -c %g /work) --clear-groups"
        attempt = f"ls {scratch}; cat {scratch}/report; touch {scratch}/planted"
        r = await view.exec(f"{as_agent} sh -c '{attempt}'", timeout=10)
        assert r.stderr.count("Permission denied") == 3, r
    second = open_grading(sandbox, final=True)
    async with second as view:
        assert view.scratch != scratch
        assert (await view.exec(f"ls {scratch}", timeout=10)).exit_code != 0  # removed afterwards
        assert (await view.exec(f"ls -A {view.scratch}", timeout=10)).stdout == ""  # fresh and empty


async def test_untrusted_grader_leaves_no_process_behind(open_kind: Opener) -> None:
    sandbox = await open_kind()
    mark = f"{2000 + uuid.uuid4().int % 1000}.5"
    async with open_grading(sandbox, final=True) as view:
        leave = f"(setsid sleep {mark} &); nohup sleep {mark} >/dev/null 2>&1 & echo ran"
        r = await view.exec_untrusted(leave, timeout=20)
        assert r.stdout == "ran\n"
        assert await gone(f"sleep {mark}")
        r = await view.exec("ps -eo user=,args=", timeout=10)
        assert f"sleep {mark}" not in r.stdout
        await view.exec(f"nohup sleep {mark} >/dev/null 2>&1 &", timeout=20)  # even the privileged side's
    assert await gone(f"sleep {mark}")


async def test_grading_reads_never_leave_the_sandbox(open_kind: Opener) -> None:
    sandbox = await open_kind()
    with tempfile.TemporaryDirectory(prefix="arena-host-") as tmp:
        os.chmod(tmp, 0o755)
        secret = Path(tmp) / "host-secret.txt"
        secret.write_text("host only")
        await sandbox.exec(f"ln -s {secret} link; ln -s /proc/1/environ env-link", timeout=10)
        async with open_grading(sandbox, final=True) as view:
            with pytest.raises(OSError):
                await view.read_file("link")
            with pytest.raises(OSError):
                await view.write_file("link", b"overwritten")
            r = await view.exec(f"cat {secret} link", timeout=10)
            assert "host only" not in r.stdout
            env = await view.read_file("env-link")  # the sandbox's own init, not the arena
            assert b"OPENAI" not in env
        assert secret.read_text() == "host only"


async def test_grading_view_is_a_grading_view(open_kind: Opener) -> None:
    sandbox = await open_kind()
    async with open_grading(sandbox, final=True) as view:
        assert isinstance(view, GradingView)
        assert view.workdir == sandbox.workdir
        await view.write_file("graded/out.txt", b"root wrote this")
        r = await view.exec("stat -c %U graded/out.txt; cat graded/out.txt", timeout=10)
        assert r.stdout.split("\n")[0] == "root" and "root wrote this" in r.stdout


async def test_grading_works_without_disk_caps(open_kind: Opener) -> None:
    sandbox = await open_kind(disk_mb=0)  # /work and /tmp on the host's disk (bwrap) or the container's layer
    await sandbox.exec("echo 42 > answer.txt; chmod 000 answer.txt", timeout=10)
    async with open_grading(sandbox, final=True) as view:
        assert await view.read_file("answer.txt") == b"42\n"
        report = f"{view.scratch}/report.xml"
        r = await view.exec_untrusted(f"echo report > {report} && cat {report}", timeout=20)
        assert r.stdout == "report\n"
