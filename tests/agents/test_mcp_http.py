"""`arena serve-mcp --transport http` driven by the `mcp` SDK's real clients: one episode across
connections and sessions, listing that is no step, graded answers, idle timeouts, run-id reuse and
the copilot's hand-ins and help."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

from arena.drivers.mcp import TASK_URI
from arena.levels.worker import JobFamily
from arena.registry import load_family
from arena.store import Store
from arena.types import ToolCall
from tests.agents.mcp_serving import ServeMcp, call_once, new_session, stored, text, until

HELPDESK = load_family("helpdesk")


def reference(family: object, seed: int) -> list[ToolCall]:
    task = family.generate(seed, "dev")  # type: ignore[attr-defined]
    plan = family.solution(task)  # type: ignore[attr-defined]
    return plan if plan and plan[-1].name == "submit" else [*plan, ToolCall(name="submit")]


def events(db: Path, run_id: str, kind: str) -> list[str | None]:
    store = Store(db, read_only=True)
    (episode,) = store.episodes(run_id)
    return [e.subgoal for s in store.steps(run_id, episode.key) for e in s.events if e.kind == kind]


async def test_a_client_that_connects_once_per_call_finishes_a_files_task_in_bwrap(
    tmp_path: Path, need_bwrap: None
) -> None:
    db = tmp_path / "arena.db"
    files = load_family("files")
    plan = reference(files, 0)
    sessions: list[str] = []
    async with ServeMcp(db, "files", "--seed", "0", "--sandbox", "bwrap", "--run-id", "p1") as server:
        async with new_session(server.url, sessions) as session:
            assert {"bash", "write_file", "read_file", "submit"} <= {t.name for t in (await session.list_tools()).tools}
            assert (await session.list_prompts()).prompts[0].name == "task"
            assert str((await session.list_resources()).resources[0].uri) == TASK_URI
        assert stored(db, "p1") is None  # listing is no step: nothing is stored yet

        wrote = await call_once(server.url, "write_file", {"path": "scratch/note.txt", "content": "kept"}, sessions)
        assert not wrote.is_error, text(wrote)
        read = await call_once(server.url, "read_file", {"path": "scratch/note.txt"}, modern=True)
        assert text(read) == "kept"  # the next connection sees the same world
        removed = await call_once(server.url, "bash", {"command": "rm -r scratch"}, sessions)
        assert not removed.is_error, text(removed)
        for i, call in enumerate(plan):
            result = await call_once(server.url, call.name, call.arguments, sessions,  # type: ignore[arg-type]
                                     modern=i % 2 == 1)
            assert not result.is_error, text(result)
        answer = text(result)
        assert "the episode is over (submitted) and graded: success, score 1.00" in answer
        assert answer.endswith("checks not passed: none")
        late = await call_once(server.url, "list_dir", {"path": "."}, sessions)
        assert late.is_error and "the episode is over" in text(late)
        assert await server.stop(signal.SIGINT) == 0, server.stderr

    assert len(sessions) >= 4 and len(set(sessions)) == len(sessions)  # a new session for every call
    episode = stored(db, "p1")
    assert episode is not None and episode.status == "done" and episode.attempts == 1
    assert episode.result is not None and episode.result.outcome == "success", episode.result
    assert episode.result.steps == 3 + len(plan)  # the call after the end is not a step
    names = ", ".join(c.name for c in episode.result.checks)
    assert f"checks passed: {names};" in answer  # names and verdicts only, never a check's detail
    assert "success (submitted)" in server.stderr


async def test_a_client_that_keeps_one_session_finishes_a_helpdesk_task(tmp_path: Path) -> None:
    db = tmp_path / "arena.db"
    plan = reference(HELPDESK, 2)
    task = HELPDESK.generate(2, "dev")
    sessions: list[str] = []
    async with (
        ServeMcp(db, "helpdesk", "--seed", "2", "--run-id", "k1") as server,
        new_session(server.url, sessions) as session,
    ):
        instructions = session.instructions or ""
        assert task.instruction() in instructions
        assert f"at most {task.limits.max_steps} tool calls and {task.limits.max_seconds:g} seconds" in instructions
        prompt = await session.get_prompt("task")
        assert prompt.messages[0].content.text == task.instruction()  # type: ignore[union-attr]
        await session.list_tools()
        assert stored(db, "k1") is None
        wrong = await session.call_tool("get_order", {"order_id": "O-00000"})
        assert wrong.is_error
        for call in plan:
            result = await session.call_tool(call.name, call.arguments)  # type: ignore[arg-type]
            assert not result.is_error, text(result)
        assert "graded: success" in text(result)
        assert await server.stop(signal.SIGTERM) == 0, server.stderr
    assert len(sessions) == 1
    episode = stored(db, "k1")
    assert episode is not None and episode.result is not None and episode.result.outcome == "success"
    assert episode.result.steps == 1 + len(plan) and episode.result.tool_errors == 1


async def test_an_idle_timeout_ends_and_records_the_episode(tmp_path: Path) -> None:
    db = tmp_path / "arena.db"
    async with ServeMcp(db, "helpdesk", "--seed", "0", "--run-id", "i1", "--idle-timeout", "1.5") as server:
        async with new_session(server.url) as session:
            await session.list_tools()
            await session.list_prompts()
        await call_once(server.url, "read_policy", {})
        episode = await until(lambda: (e := stored(db, "i1")) is not None and e.status == "done" and e)
        assert episode.result.outcome == "fail" and episode.result.termination == "agent_error"
        assert "idle" in (episode.result.error or "") and episode.result.steps == 1
        late = await call_once(server.url, "read_policy", {})
        assert late.is_error and "the episode is over (agent_error) and graded: fail" in text(late)
        assert await server.stop() == 0, server.stderr


async def test_a_stopped_episode_is_played_again_under_the_same_run_id(tmp_path: Path) -> None:
    db = tmp_path / "arena.db"
    server = await ServeMcp(db, "helpdesk", "--seed", "0", "--run-id", "r1").start()
    try:
        rival = await ServeMcp(db, "helpdesk", "--seed", "0", "--run-id", "r1").start(expect_url=False)
        assert await rival.wait() == 2 and "is being run right now by process" in rival.stderr
        await call_once(server.url, "read_policy", {})
        assert await server.stop(signal.SIGTERM) == 143, server.stderr
    finally:
        await server.__aexit__()
    assert "pending again" in server.stderr and "--run-id r1" in server.stderr
    episode = stored(db, "r1")
    assert episode is not None and episode.status == "pending" and episode.attempts == 1
    assert [s.action.tool_calls[0].name for s in Store(db, read_only=True).steps("r1", episode.key, 1)] == [
        "read_policy"
    ]

    async with ServeMcp(db, "helpdesk", "--seed", "0", "--run-id", "r1") as again:
        assert "again from the start (attempt 2)" in again.stderr
        for call in reference(HELPDESK, 0):
            result = await call_once(again.url, call.name, call.arguments)  # type: ignore[arg-type]
        assert "graded: success" in text(result)
        assert await again.stop() == 0
    episode = stored(db, "r1")
    assert episode is not None and episode.attempts == 2 and episode.result is not None
    assert episode.result.outcome == "success"

    done = await ServeMcp(db, "helpdesk", "--seed", "0", "--run-id", "r1").start(expect_url=False)
    assert await done.wait() == 0
    assert "already done, nothing to serve: success" in done.stderr and "listening" not in done.stderr
    other = await ServeMcp(db, "helpdesk", "--seed", "1", "--run-id", "r1").start(expect_url=False)
    assert await other.wait() == 2
    assert "serves `helpdesk --seed 0 --split dev --level agent`" in other.stderr
    assert stored(db, "r1").attempts == 2  # type: ignore[union-attr]


async def test_a_copilot_episode_over_mcp_with_a_hand_in_and_help(tmp_path: Path) -> None:
    db = tmp_path / "arena.db"
    plan = [c for c in reference(HELPDESK, 0) if c.name != "submit"]
    work, reply = [c for c in plan if c.name != "reply"], [c for c in plan if c.name == "reply"]
    async with (
        ServeMcp(db, "helpdesk", "--seed", "0", "--level", "copilot", "--run-id", "c1") as server,
        new_session(server.url) as session,
    ):
        assert "Step 1 of 2" in (session.instructions or "")
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert {"submit", "ask_for_help", "refund", "reply"} <= set(tools)
        help_ = await session.call_tool("ask_for_help", {})
        match = re.search(r"call (\w+) with (\{.*\})", text(help_))
        assert match and match.group(1) == work[0].name and json.loads(match.group(2)) == work[0].arguments
        early = await session.call_tool("submit", {})
        assert early.is_error and text(early).startswith("not met yet")
        for call in work:
            assert not (await session.call_tool(call.name, call.arguments)).is_error  # type: ignore[arg-type]
        met = await session.call_tool("submit", {})
        assert text(met).startswith("met. Next: Step 2 of 2") and "episode is over" not in text(met)
        for call in reply:
            await session.call_tool(call.name, call.arguments)  # type: ignore[arg-type]
        last = await session.call_tool("submit", {})
        assert text(last).startswith("met: every subgoal is done")
        assert "the episode is over (submitted) and graded: success" in text(last) and "no_takeover" in text(last)
        assert await server.stop() == 0
    episode = stored(db, "c1")
    assert episode is not None and episode.key.level == "copilot"
    assert episode.result is not None and episode.result.outcome == "success", episode.result
    assert events(db, "c1", "help") == ["act"] and events(db, "c1", "hand_in_rejected") == ["act"]
    assert events(db, "c1", "hand_in_met") == ["act", "reply"]


async def test_a_worker_job_over_mcp_with_faults_on(tmp_path: Path) -> None:
    db = tmp_path / "arena.db"
    seed = 0
    job = JobFamily("helpdesk", ["helpdesk"])
    plan = reference(job, seed)
    faults = 0
    async with ServeMcp(db, "helpdesk", "--seed", str(seed), "--level", "worker", "--run-id", "w1") as server:
        async with new_session(server.url) as session:
            assert job.generate(seed, "dev").instruction() in (session.instructions or "")
            for call in plan:
                for _ in range(10):  # a reference step fails only when a fault is injected: retry it
                    result = await session.call_tool(call.name, call.arguments)  # type: ignore[arg-type]
                    if not result.is_error:
                        break
                    faults += 1
                assert not result.is_error, text(result)
        assert "graded: success" in text(result) and faults >= 1  # this seed's schedule has a transient failure
        assert await server.stop() == 0
    episode = stored(db, "w1")
    assert episode is not None and episode.key.level == "worker" and episode.key.faults > 0
    assert episode.result is not None and episode.result.outcome == "success", episode.result
    steps = Store(db, read_only=True).steps("w1", episode.key)
    assert sum(r.fault == "error" for s in steps for r in s.results) == faults
