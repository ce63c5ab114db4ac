"""The command channel (one exec server per sandbox), in both sandboxes: exact exit codes and
output, binary data, stdin, background processes that live on, timeouts that kill their own tree
and nothing else, and an agent that kills, stops, or scribbles over its exec server."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
import uuid

import pytest

from arena.errors import SandboxError, WorldBroken
from arena.protocols import Sandbox
from arena.sandbox import SandboxConfig
from arena.sandbox.bwrap import BwrapSandbox
from tests.sandbox.kit import Opener, gone, host_pids


def marker() -> str:
    """A sleep duration no other process on the host uses, to find its processes by name."""
    return f"{1000 + uuid.uuid4().int % 1000}.{uuid.uuid4().int % 1000}"


async def test_exit_codes_and_signals_come_back_exactly(sandbox: Sandbox) -> None:
    for script, code in (("exit 0", 0), ("exit 255", 255), ("exit 3", 3), ("kill -TERM $$", 143), ("kill -9 $$", 137),
                         ("exec true", 0), ("exec false", 1), ("no-such-program", 127)):  # fmt: skip
        r = await sandbox.exec(script, timeout=20)
        assert (r.exit_code, r.timed_out) == (code, False), script
    r = await sandbox.exec(["/no/such/binary"], timeout=20)
    assert r.exit_code == 127 and "No such file" in r.stderr


async def test_a_command_starts_as_from_a_clean_exec(sandbox: Sandbox) -> None:
    """Only its three streams open, no signal ignored (Python ignores SIGPIPE and SIGXFSZ, and an
    ignored signal would pass through exec), a session of its own, in the work directory."""
    r = await sandbox.exec("ls /proc/self/fd; grep -E '^Sig(Ign|Blk)' /proc/self/status; ps -o sid= -p $$; "
                           "echo $$; pwd", timeout=20)  # fmt: skip
    lines = r.stdout.split()
    assert r.exit_code == 0, r.stderr
    fds = lines[: lines.index("SigBlk:")]
    assert sorted(fds) == ["0", "1", "2", "3"], r.stdout  # 3: the directory ls reads
    assert lines[lines.index("SigBlk:") + 1] == "0000000000000000"
    # glibc's posix_spawn leaves its own internal signals (32 and 33, used by nothing else) ignored
    assert int(lines[lines.index("SigIgn:") + 1], 16) & 0x7FFFFFFF == 0, r.stdout  # signals 1-31
    sid, pid, cwd = lines[-3:]
    assert sid == pid and cwd == sandbox.workdir
    r = await sandbox.exec("yes | head -c 1000000 >/dev/null; echo ${PIPESTATUS[0]}", timeout=20)
    assert r.stdout.strip() == "141"  # yes died of SIGPIPE, as outside any sandbox


async def test_a_signal_the_arena_ignores_is_not_passed_on_to_commands(need_bwrap: None) -> None:
    """Under `nohup` the arena runs with SIGHUP ignored; a jail started then must still give its
    commands every signal at its default."""
    import signal

    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        sandbox = await BwrapSandbox.start(SandboxConfig(), image="", labels={})
    finally:
        signal.signal(signal.SIGHUP, before)
    try:
        r = await sandbox.exec("grep '^SigIgn' /proc/self/status", timeout=20)
    finally:
        await sandbox.close()
    assert r.exit_code == 0, r.stderr
    assert int(r.stdout.split()[1], 16) & 0x7FFFFFFF == 0, r.stdout  # signals 1-31


async def test_binary_output_and_files_come_back_exactly(sandbox: Sandbox) -> None:
    data = bytes(range(256)) * 64 + b"\0\0\0\x08" + os.urandom(4096)  # frame-like bytes included
    await sandbox.write_file("blob.bin", data)
    assert await sandbox.read_file("blob.bin") == data
    r = await sandbox.exec("cat blob.bin; cat blob.bin >&2", timeout=20)
    expected = data.decode(errors="replace")
    assert r.stdout == expected and r.stderr == expected
    r = await sandbox.exec(["sha256sum", "blob.bin"], timeout=20)
    assert r.stdout.split()[0] == hashlib.sha256(data).hexdigest()


async def test_stdin_is_given_or_empty_and_never_hangs(sandbox: Sandbox) -> None:
    r = await sandbox.exec("cat; echo end", timeout=10)  # no stdin: end of input at once
    assert r.stdout == "end\n" and not r.timed_out
    started = time.monotonic()
    r = await sandbox.exec("true", timeout=10, stdin=os.urandom(8 * 1024 * 1024))  # a command that never reads it
    assert r.exit_code == 0 and time.monotonic() - started < 8
    r = await sandbox.exec("head -c 5", timeout=10, stdin=b"0123456789" * 100_000)
    assert r.stdout == "01234"
    r = await sandbox.exec(["wc", "-c"], timeout=10, stdin=b"")
    assert r.stdout.strip() == "0"


async def test_background_processes_live_until_the_episode_ends(sandbox: Sandbox) -> None:
    mark = marker()
    r = await sandbox.exec(f"nohup sleep {mark} >/dev/null 2>&1 & echo started", timeout=10)
    assert r.stdout == "started\n"
    r = await sandbox.exec(f"pgrep -f 'sleep {mark}' >/dev/null && echo alive", timeout=10)
    assert r.stdout == "alive\n"
    # One that keeps the command's output open does not make the command hang either.
    started = time.monotonic()
    r = await sandbox.exec(f"sleep {mark} & echo quick", timeout=30)
    assert r.stdout == "quick\n" and not r.timed_out and time.monotonic() - started < 5
    await sandbox.close()
    assert await gone(f"sleep {mark}")


async def test_timeout_kills_only_its_own_tree(sandbox: Sandbox) -> None:
    keep, kill = marker(), marker()
    await sandbox.exec(f"nohup sleep {keep} >/dev/null 2>&1 &", timeout=10)
    r = await sandbox.exec(f"sleep {kill} & (sleep {kill} &); setsid sleep {kill} & sleep {kill}", timeout=1)
    assert r.timed_out and r.exit_code == 137
    assert await gone(f"sleep {kill}")
    assert host_pids(f"sleep {keep}")  # the earlier command's background process lives on
    assert (await sandbox.exec("echo next", timeout=10)).stdout == "next\n"


async def test_concurrent_commands_all_run_at_once(sandbox: Sandbox) -> None:
    script = "date +%s.%N; sleep 2; date +%s.%N"
    results = await asyncio.gather(*(sandbox.exec(script, timeout=30) for _ in range(12)))
    spans = [[float(t) for t in r.stdout.split()] for r in results]
    assert max(start for start, _ in spans) < min(end for _, end in spans)


async def test_cancelled_command_is_killed(sandbox: Sandbox) -> None:
    mark = marker()
    task = asyncio.ensure_future(sandbox.exec(f"sleep {mark}", timeout=60))
    await asyncio.sleep(1.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await gone(f"sleep {mark}")
    assert (await sandbox.exec("echo fine", timeout=10)).stdout == "fine\n"


FORGE = (
    "import os, struct, sys; fd = os.open(f'/proc/{os.getppid()}/fd/1', os.O_WRONLY)\n"
    "if sys.argv[1] == 'huge':\n    os.write(fd, struct.pack('>II', 2, 1 << 30) + b'{}' + b'x' * (1 << 20))\n"
    "else:\n    os.write(fd, struct.pack('>II', 5, 0) + b'nope!')\n"
)


@pytest.mark.parametrize(
    "attack",
    [
        "kill -9 $PPID",  # the exec server itself
        "kill -9 -1",  # everything the agent's uid may signal
        "pkill -9 -f arena; pkill -9 python3",
        "kill -STOP $PPID",  # a stopped server answers nothing
        "exec 3>/proc/$PPID/fd/1 && printf 'garbage\\0\\0\\0\\xff' >&3",  # forged frames on its output
        f"python3 -c {FORGE!r} huge",  # a frame claiming a body larger than any reply: not buffered
        f"python3 -c {FORGE!r} nonsense",  # a frame whose header is not JSON
        "python3 -c 'import os; os.kill(os.getppid(), 9)'",
    ],
)
async def test_agent_that_attacks_its_exec_server_only_hurts_itself(open_kind: Opener, attack: str) -> None:
    sandbox = await open_kind()
    await sandbox.write_file("keep.txt", b"still here")
    started = time.monotonic()
    r = await sandbox.exec(attack, timeout=2)
    assert time.monotonic() - started < 15  # a clear result, never a hang
    if r.exit_code != 0:
        assert r.exit_code in (1, 137, 143) or r.timed_out, r
    # The next command works, the files are there, and grading never depended on that channel.
    assert (await sandbox.read_file("keep.txt")) == b"still here"
    r = await sandbox.exec("cat keep.txt", timeout=10)
    assert r.stdout == "still here"
    async with sandbox.grading(final=True) as view:  # type: ignore[attr-defined]
        assert await view.read_file("keep.txt") == b"still here"


async def test_bwrap_agent_that_keeps_killing_its_channel_breaks_its_world(
    need_bwrap: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import arena.sandbox.bwrap as bwrap

    monkeypatch.setattr(bwrap, "MAX_RESTARTS", 2)
    sandbox = await BwrapSandbox.start(SandboxConfig(), image="", labels={})
    try:
        for _ in range(2):
            r = await sandbox.exec("kill -9 $PPID", timeout=5)
            assert "command channel died" in r.stderr
        with pytest.raises(WorldBroken, match="killed its command channel"):
            await sandbox.exec("kill -9 $PPID", timeout=5)
    finally:
        await sandbox.close()


async def test_closed_sandbox_refuses_commands(sandbox: Sandbox) -> None:
    await sandbox.close()
    await sandbox.close()
    with pytest.raises(SandboxError, match="closed"):
        await sandbox.exec("true", timeout=5)
