"""One episode served over MCP stdio (one episode per process), driven by the `mcp` SDK's own client."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from mcp import ClientSession, StdioServerParameters, stdio_client

from arena.registry import load_family
from arena.store import Store
from arena.types import ToolCall

REPO = Path(__file__).resolve().parents[2]


@asynccontextmanager
async def serve(db: Path, seed: int, run_id: str) -> AsyncIterator[ClientSession]:
    """`arena serve-mcp files ...` spawned and connected by the SDK's stdio client."""
    args = ["-m", "arena.cli", "serve-mcp", "files", "--seed", str(seed), "--sandbox", "process", "--unsafe-local",
            "--db", str(db), "--run-id", run_id]
    params = StdioServerParameters(command=sys.executable, args=args, cwd=REPO)
    with (db.parent / f"{run_id}.log").open("w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            yield session


async def test_mcp_client_plays_a_files_episode_to_success(tmp_path: Path) -> None:
    db = tmp_path / "arena.db"
    family = load_family("files")
    task = family.generate(0, "dev")
    plan = family.solution(task)
    if not plan or plan[-1].name != "submit":
        plan.append(ToolCall(name="submit"))
    async with serve(db, 0, "m1") as session:
        init = await session.initialize()
        assert task.instruction() in (init.instructions or "")
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert {"bash", "read_file", "write_file", "list_dir", "submit"} <= set(tools)
        assert tools["write_file"].input_schema["required"] == ["path", "content"]
        assert task.instruction() in (tools["submit"].description or "")
        prompt = await session.get_prompt("task")
        assert prompt.messages[0].content.text == task.instruction()  # type: ignore[union-attr]

        wrong = await session.call_tool("read_file", {"path": "no/such/file.txt"})
        assert wrong.is_error and "no such file" in wrong.content[0].text  # type: ignore[union-attr]
        for call in plan:
            result = await session.call_tool(call.name, call.arguments)  # type: ignore[arg-type]
            assert not result.is_error, result
        assert "episode is over" in result.content[0].text  # type: ignore[union-attr]
        after = await session.call_tool("list_dir", {"path": "."})
        assert after.is_error
    store = Store(db)
    (episode,) = store.episodes("m1")
    assert episode.key.agent == "mcp" and episode.status == "done"
    assert episode.result is not None and episode.result.outcome == "success", episode.result
    assert len(store.steps("m1", episode.key)) == episode.result.steps >= 2
    assert store.get_run("m1").status == "finished"  # type: ignore[union-attr]


async def test_a_client_that_only_lists_leaves_nothing_stored(tmp_path: Path) -> None:
    db = tmp_path / "arena.db"
    async with serve(db, 0, "m3") as session:
        await session.initialize()
        await session.list_tools()
        await session.list_prompts()
        await session.read_resource("arena://task")
    assert Store(db).get_run("m3") is None  # no step, so no episode: nothing started, stored or graded


async def test_disconnecting_without_submit_ends_the_episode_as_a_failure(tmp_path: Path) -> None:
    db = tmp_path / "arena.db"
    async with serve(db, 1, "m2") as session:
        await session.initialize()
        await session.call_tool("list_dir", {"path": "."})
    (episode,) = Store(db).episodes("m2")
    assert episode.result is not None and episode.result.outcome == "fail"
    assert episode.result.termination == "agent_error" and "disconnected" in (episode.result.error or "")


async def test_a_client_that_stops_its_stdio_server_mid_episode_fails_the_episode(tmp_path: Path) -> None:
    """A stdio server belongs to its client: stopping it is the client ending the episode (graded),
    never a way to have a failing episode played again."""
    db = tmp_path / "arena.db"
    argv = ["-m", "arena.cli", "serve-mcp", "helpdesk", "--seed", "0", "--db", str(db), "--run-id", "m4"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *argv, cwd=REPO, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None

    async def request(id_: int, method: str, params: dict[str, object]) -> dict[str, object]:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": id_, "method": method, "params": params}).encode() + b"\n")
        await proc.stdin.drain()
        while True:
            message = json.loads(await asyncio.wait_for(proc.stdout.readline(), 120))
            if message.get("id") == id_:
                return message  # type: ignore[no-any-return]

    client = {"name": "test", "version": "0"}
    await request(1, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": client})
    proc.stdin.write(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}\n')
    answer = await request(2, "tools/call", {"name": "read_policy", "arguments": {}})
    assert "policy" in json.dumps(answer)
    proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    (episode,) = Store(db).episodes("m4")
    assert episode.status == "done" and episode.result is not None and episode.result.outcome == "fail"
    assert episode.result.termination == "agent_error"
    assert "stopped the server (SIGTERM)" in (episode.result.error or "")
