"""The native programs of bwrap jails: the exec server (`execserver.c`) answers every request
exactly as the Python one does in agent mode and is what an agent's jail runs; the jail starter
(`jailstart.c`) joins the cgroups and drops to the jail's uid as a shell and setpriv did; without
a C compiler those serve instead."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from arena.sandbox import SandboxConfig, native
from arena.sandbox.bwrap import PYTHON, BwrapSandbox
from arena.sandbox.channel import frame, server_command
from tests.conftest import require

HEAD = struct.Struct(">II")

# Each request with its body: output and exit codes, signals, stdin (given, empty, none, refused
# early), missing programs and directories, environment, caps, timeouts of whole trees, what a
# command may not inherit, bytes that are not UTF-8, and every file operation's errors.
CASES: list[tuple[dict[str, Any], bytes]] = [
    ({"op": "exec", "argv": ["bash", "-c", "echo hi; echo err >&2; exit 3"]}, b""),
    ({"op": "exec", "argv": ["bash", "-c", "kill -9 $$"]}, b""),
    ({"op": "exec", "argv": ["cat"], "stdin": True}, b"in\x00put" * 100_000),
    ({"op": "exec", "argv": ["cat"], "stdin": True}, b""),
    ({"op": "exec", "argv": ["cat"]}, b""),
    ({"op": "exec", "argv": ["head", "-c", "10"], "stdin": True}, b"x" * 5_000_000),
    ({"op": "exec", "argv": ["no-such-program"]}, b""),
    ({"op": "exec", "argv": ["/etc/passwd"]}, b""),
    ({"op": "exec", "argv": ["true"], "cwd": "/no/such/dir"}, b""),
    ({"op": "exec", "argv": ["bash", "-c", "pwd; echo $HOME $FOO; umask"], "env": {"FOO": "bar \u00e9"}}, b""),
    ({"op": "exec", "argv": ["bash", "-c", "head -c 3000000 /dev/zero; echo e >&2"], "cap": 1000}, b""),
    ({"op": "exec", "argv": ["bash", "-c", "sleep 30 & sleep 30; echo never"], "timeout": 0.3}, b""),
    ({"op": "exec", "argv": ["bash", "-c", "sleep 3 >/dev/null & echo background"]}, b""),
    ({"op": "exec", "argv": ["printf", "\u00e9\udcff"]}, b""),
    ({"op": "exec", "argv": ["bash", "-c", "ls /proc/self/fd; ulimit -f; trap -p"]}, b""),
    ({"op": "write", "path": "a/b/c.txt", "mode": 0o600}, b"bytes\xff"),
    ({"op": "read", "path": "a/b/c.txt"}, b""),
    ({"op": "read", "path": "a/b/c.txt", "cap": 2}, b""),
    ({"op": "read", "path": "a"}, b""),
    ({"op": "read", "path": "/dev/null"}, b""),
    ({"op": "read", "path": "missing"}, b""),
    ({"op": "write", "path": "a"}, b""),
    ({"op": "write", "path": "a/b/c.txt/d"}, b""),
    ({"op": "exec", "argv": ["stat", "-c", "%a", "a/b/c.txt", "a/b"]}, b""),
    ({"op": "ping"}, b""),
    ({"op": "kill_uid", "role": "agent"}, b""),
    ({"op": "no-such-op"}, b""),
]


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require(native.exec_server() is not None, "the native exec server", native.why_not())
    path = tmp_path_factory.mktemp("native") / "exec-server"
    path.write_bytes(native.exec_server() or b"")
    path.chmod(0o755)
    return path


def converse(argv: list[str], preamble: bytes, cases: list[tuple[dict[str, Any], bytes]]) -> dict[int, Any]:
    """Every case sent at once (written from a thread: replies come while requests still go),
    then end of input; replies by id, 0 the hello."""
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None
    data = preamble + b"".join(frame({**header, "id": i}, body) for i, (header, body) in enumerate(cases, 1))
    writer = threading.Thread(target=lambda: (process.stdin.write(data), process.stdin.flush()))  # type: ignore[union-attr]
    writer.start()
    replies: dict[int, Any] = {}
    buffer = b""
    while len(replies) <= len(cases) and (chunk := process.stdout.read1(1 << 20)):
        buffer += chunk
        while len(buffer) >= HEAD.size:
            head_len, body_len = HEAD.unpack_from(buffer)
            end = HEAD.size + head_len + body_len
            if len(buffer) < end:
                break
            header = json.loads(buffer[HEAD.size : HEAD.size + head_len])
            replies[header.get("id", 0)] = (header, buffer[HEAD.size + head_len : end])
            buffer = buffer[end:]
    writer.join()
    process.stdin.close()
    assert process.wait(10) == 0, process.stderr.read() if process.stderr else ""
    return replies


def comparable(reply: tuple[dict[str, Any], bytes]) -> tuple[dict[str, Any], bytes]:
    header, body = reply
    return {k: v for k, v in header.items() if k not in ("seconds", "pid")}, body


def test_native_server_answers_as_the_python_one(program: Path, tmp_path: Path) -> None:
    answers = {}
    work = tmp_path / "work"
    for kind in ("python", "native"):
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        config = {"mode": "agent", "workdir": str(work), "env": {"PATH": "/usr/bin:/bin", "HOME": "/home"},
                  "rlimits": {"fsize": 1 << 20}}  # fmt: skip
        if kind == "python":
            argv, preamble = server_command(PYTHON, config, compiled=True)
        else:
            argv, preamble = native.server_command(config)
            argv[0] = str(program)
        answers[kind] = converse(argv, preamble, CASES)
    assert set(answers["native"]) == set(range(len(CASES) + 1))
    for i, (request, _) in enumerate(CASES, 1):
        assert comparable(answers["native"][i]) == comparable(answers["python"][i]), request
    hello = answers["native"][0][0]
    assert hello["hello"] == 1 and hello["mode"] == "agent" and isinstance(hello["work_dev"], int)
    # Spot checks that the shared answers are the right ones, not just the same.
    assert answers["native"][2][0]["exit"] == 137
    assert answers["native"][3][1] == b"in\x00put" * 100_000
    assert answers["native"][11][0]["out"] == 1000 and answers["native"][11][0]["dropped_out"] == 3_000_000 - 1000
    assert answers["native"][12][0]["timed_out"] and answers["native"][12][0]["exit"] == 137
    assert answers["native"][14][1] == b"\xc3\xa9\xff"


def test_native_server_refuses_root_mode(program: Path) -> None:
    argv, preamble = native.server_command({"mode": "root"})
    argv[0] = str(program)
    done = subprocess.run(argv, input=preamble, capture_output=True, timeout=10)
    assert done.returncode == 3 and b"agent mode" in done.stderr


def test_bad_frames_end_the_native_server(program: Path) -> None:
    argv, preamble = native.server_command({"mode": "agent", "workdir": "/"})
    argv[0] = str(program)
    for junk in (HEAD.pack(5, 0) + b"[1,2]", HEAD.pack(3, 0) + b"{x}", b"\xff" * 8):
        done = subprocess.run(argv, input=preamble + junk, capture_output=True, timeout=10)
        assert done.returncode == 3, junk


async def test_the_bwrap_agent_runs_the_native_server(need_bwrap: None, program: Path) -> None:
    sandbox = await BwrapSandbox.start(SandboxConfig(), image="", labels={})
    try:
        script = (
            "tr '\\0' ' ' </proc/$PPID/cmdline; echo; "
            "grep -c ' /run/arena/exec-server ro,' /proc/self/mountinfo; touch /run/arena/exec-server"
        )
        result = await sandbox.exec(script, timeout=10)
    finally:
        await sandbox.close()
    command_line, read_only = result.stdout.splitlines()
    assert command_line.startswith(native.JAIL_PATH + " ") and read_only == "1", result
    assert "cannot touch" in result.stderr and result.exit_code == 1, result


def test_jailstart_joins_its_cgroups_then_drops_to_its_uid(tmp_path: Path) -> None:
    require(os.geteuid() == 0, "root", "run the tests as root (jails get host uids of their own only as root)")
    start = native.jailstart()
    require(start is not None, "the native jail starter", native.why_not("jailstart"))
    assert start is not None
    procs = [tmp_path / "a.procs", tmp_path / "b.procs"]
    for path in procs:
        path.write_text("")
    script = "echo $$; id -u; id -g; id -G; grep -E '^Cap(Inh|Prm|Eff|Amb)' /proc/self/status"
    argv = [start, *(a for p in procs for a in ("--cgroup", str(p))), "--uid", "54321", "--", "/bin/sh", "-c", script]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=10, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    pid, uid, gid, groups, *caps = done.stdout.splitlines()
    assert [p.read_text().strip() for p in procs] == [pid, pid]  # joined before the exec, as itself
    assert (uid, gid, groups) == ("54321", "54321", "54321")
    assert len(caps) == 4 and all(line.split()[1] == "0000000000000000" for line in caps), caps


def test_jailstart_fails_loudly(tmp_path: Path) -> None:
    start = native.jailstart()
    require(start is not None, "the native jail starter", native.why_not("jailstart"))
    assert start is not None
    missing = str(tmp_path / "no" / "cgroup.procs")
    cases = [([start, "--cgroup", missing, "--", "/bin/true"], 125, "cannot join the cgroup"),
             ([start, "--uid", "0", "--", "/bin/true"], 126, "cannot become uid"),
             ([start, "--", str(tmp_path / "nothing")], 127, "cannot run"),
             ([start, "--frob", "--", "/bin/true"], 2, "unknown option")]  # fmt: skip
    for argv, code, said in cases:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        assert done.returncode == code and said in done.stderr, (argv, done)


async def test_without_a_c_compiler_bwrap_falls_back_to_python_sh_and_setpriv(
    need_bwrap: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(native, "exec_server", lambda: None)
    monkeypatch.setattr(native, "jailstart", lambda: None)
    sandbox = await BwrapSandbox.start(SandboxConfig(), image="", labels={})
    try:
        result = await sandbox.exec("tr '\\0' ' ' </proc/$PPID/cmdline; echo; echo hi >&2; exit 4", timeout=10)
        written = await sandbox.exec("echo data > f && id -u", timeout=10)
        assert await sandbox.read_file("f") == b"data\n"
    finally:
        await sandbox.close()
    assert result.stdout.startswith(PYTHON + " -I -S -B") and result.stderr == "hi\n" and result.exit_code == 4, result
    assert written.stdout == "1000\n", written


def _interpreter(elf: bytes) -> bytes | None:
    """The dynamic loader an x86-64/aarch64 ELF program names (its PT_INTERP), or None if static."""
    assert elf[:4] == b"\x7fELF" and elf[4] == 2, "a 64-bit ELF file"
    phoff, phentsize, phnum = struct.unpack_from("<Q", elf, 32)[0], *struct.unpack_from("<HH", elf, 54)
    for i in range(phnum):
        kind, _flags, offset, _vaddr, _paddr, size = struct.unpack_from("<IIQQQQ", elf, phoff + i * phentsize)
        if kind == 3:  # PT_INTERP
            return elf[offset : offset + size].rstrip(b"\0")
    return None


def test_native_programs_are_static_musl_builds_where_musl_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    # A glibc program's start (its loader, and a probe of the CPU by `cpuid`, which traps on a
    # virtual machine) cost more than the rest of a jail's exec server and starter together.
    monkeypatch.delenv("CC", raising=False)
    require(shutil.which("musl-gcc") is not None, "musl's compiler (musl-gcc)", "run scripts/setup.sh (musl-tools)")
    assert native.compiler() == ("musl-gcc", (*native.FLAGS, "-static"))
    server, start = native.exec_server(), native.jailstart()
    assert server is not None and start is not None, native.why_not() or native.why_not("jailstart")
    assert _interpreter(server) is None and _interpreter(Path(start).read_bytes()) is None
    gcc = shutil.which("gcc")
    if gcc is not None:  # the check itself tells a dynamic program from a static one
        monkeypatch.setenv("CC", gcc)
        assert native.compiler() == (gcc, native.FLAGS)
        assert _interpreter(Path(gcc).read_bytes()) is not None
