"""The jail for external agent programs (`command:` agents): a program that snoops for the store,
the arena's code, the host's environment or other episodes finds nothing, a `setsid` child it
leaves behind ends with the jail, and the network is there only when allowed."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

import arena
from arena.errors import SandboxError
from arena.sandbox import records
from arena.sandbox.agent_jail import start_jailed
from tests.sandbox.kit import gone, host_pids

SNOOP = r"""
import json, os, socket, subprocess, sys
targets = json.loads(sys.argv[1])
seen = {}
for path in targets["paths"]:
    try:
        seen[path] = open(path).read()[:50] if os.path.isfile(path) else sorted(os.listdir(path))[:5]
    except OSError as e:
        seen[path] = None
try:
    socket.create_connection(("127.0.0.1", targets["port"]), timeout=3).close()
    seen["network"] = True
except OSError:
    seen["network"] = False
seen["env"] = dict(os.environ)
seen["readable"] = open(targets["readable"]).read()
seen["home_writable"] = open(os.path.join(os.environ["HOME"], "x"), "w").write("ok") == 2
subprocess.Popen(["setsid", "sleep", targets["mark"]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(json.dumps(seen), flush=True)
sys.stdin.readline()
"""


async def run_snoop(tmp: Path, *, network: bool, port: int, mark: str) -> tuple[dict, object]:
    store = tmp / "arena.db"
    store.write_text("SQLite format 3 -- the store")
    plan = tmp / "plan.json"
    plan.write_text('["the plan"]')
    program = tmp / "snoop.py"
    program.write_text(SNOOP)
    for path in (tmp, store, plan, program):
        path.chmod(0o755 if path.is_dir() else 0o644)
    targets = {
        "paths": [str(store), str(Path(arena.__file__)), str(records.state_root()), "/etc/shadow", str(tmp), "/root"],
        "port": port,
        "readable": str(plan),
        "mark": mark,
    }
    process = await start_jailed(
        ["python3", str(program), json.dumps(targets)],
        cwd=str(tmp),
        env={"PATH": "/usr/bin:/bin", "AGENT_SETTING": "given"},
        network=network,
        readable=[str(plan), str(program)],
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 60)
    assert line, (await process.stderr.read()).decode()  # type: ignore[union-attr]
    return json.loads(line), process


async def test_agent_program_sees_nothing_of_the_arena(need_bwrap: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", f"sk-host-{uuid.uuid4().hex}")
    mark = f"{4000 + uuid.uuid4().int % 1000}.3"
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    with tempfile.TemporaryDirectory(prefix="arena-agent-") as tmp:
        seen, process = await run_snoop(Path(tmp), network=False, port=server.getsockname()[1], mark=mark)
        try:
            for _ in range(100):  # `setsid` execs the sleep a moment after the program went on
                if host_pids(f"sleep {mark}"):
                    break
                await asyncio.sleep(0.05)
            assert host_pids(f"sleep {mark}")
            assert seen["readable"] == '["the plan"]'
            targets = [p for p in seen if p.startswith("/")]
            for path in targets:
                if path == tmp:  # the program's own directory holds only what it was given
                    assert set(seen[path]) <= {"plan.json", "snoop.py"}, seen[path]
                else:
                    assert seen[path] in (None, []), (path, seen[path])
            assert seen["network"] is False
            assert "OPENAI_API_KEY" not in seen["env"] and seen["env"]["AGENT_SETTING"] == "given"
            assert seen["home_writable"]
        finally:
            await process.kill_all()  # type: ignore[attr-defined]
    server.close()
    assert await gone(f"sleep {mark}")  # the setsid child went with the jail


async def test_agent_program_reaches_the_network_when_allowed(need_bwrap: None) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    with tempfile.TemporaryDirectory(prefix="arena-agent-") as tmp:
        seen, process = await run_snoop(Path(tmp), network=True, port=server.getsockname()[1], mark="4999.1")
        await process.kill_all()  # type: ignore[attr-defined]
    server.close()
    assert seen["network"] is True


async def test_agent_program_errors_are_clear(need_bwrap: None) -> None:
    with pytest.raises(SandboxError, match="not found"):
        await start_jailed(["no-such-agent-program"], cwd=None, env={}, network=False, readable=[])
    with pytest.raises(SandboxError, match="does not exist"):
        await start_jailed([sys.executable, "-c", "pass"], cwd=None, env={}, network=False,
                           readable=["/nonexistent/plan.json"])  # fmt: skip
    if os.geteuid() == 0:  # a file the jail's own uid cannot reach is copied in; a directory cannot be
        with tempfile.TemporaryDirectory() as tmp:
            os.chmod(tmp, 0o700)
            (Path(tmp) / "sub").mkdir()
            with pytest.raises(SandboxError, match="not readable by other users"):
                await start_jailed(["true"], cwd=None, env={}, network=False, readable=[f"{tmp}/sub"])


async def test_a_readable_file_the_jail_uid_cannot_reach_is_copied_in(need_bwrap: None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o700)  # e.g. under /root: the jail's own uid cannot walk there
        plan = Path(tmp) / "plan.json"
        plan.write_text("the plan")
        plan.chmod(0o600)
        process = await start_jailed(["cat", str(plan)], cwd=None, env={}, network=False, readable=[str(plan)])
        assert process.stdout is not None
        assert await process.stdout.read() == b"the plan"
        assert await process.wait() == 0
