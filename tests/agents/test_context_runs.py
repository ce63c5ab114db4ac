"""A full context is the agent's limit, not the arena's failure: mid-episode it ends the episode as a
`fail` (termination `context`, one attempt); at the very first call it stops the run with one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from arena.registry import load_family
from arena.store import Store
from arena.testing import Fault, ReplayPolicy, ScriptedChatServer
from tests.agents.conftest import RunAgents

REPO = Path(__file__).resolve().parents[2]
FAST = {"backoff": 0.01, "max_backoff": 0.05, "timeout": 5.0, "max_retries": 2}


def policy() -> ReplayPolicy:
    family = load_family("files")
    calls = [c for c in family.solution(family.generate(0, "dev")) if c.name != "submit"]
    return ReplayPolicy([*calls, *calls])  # long enough that the overflow lands mid-episode


async def test_an_overflow_mid_episode_is_the_agents_fail(run_agents: RunAgents) -> None:
    with ScriptedChatServer(policy(), faults={3: Fault("context_overflow")}) as server:
        store, run_id = await run_agents(["openai:gpt-4o-mini"], options={
            "openai:gpt-4o-mini": {"base_url": server.base_url, **FAST}}, max_attempts=3)
    (episode,) = store.episodes(run_id)
    assert episode.result is not None and episode.attempts == 1
    assert episode.result.outcome == "fail" and episode.result.termination == "context"
    assert "context" in (episode.result.error or "")


def test_an_overflow_at_the_first_call_stops_the_run(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    with ScriptedChatServer(policy(), context_window=50) as server:
        proc = subprocess.run(
            [sys.executable, "-m", "arena.cli", "run", "--agents", "openai:gpt-4o-mini", "--base-url",
             server.base_url, "--families", "files", "--seeds", "0-5", "--sandbox", "process", "--unsafe-local",
             "--db", str(db), "--run-id", "c", "--quiet"],
            cwd=REPO, capture_output=True, text=True, timeout=120,
        )
    assert proc.returncode == 2, proc.stderr
    assert "context" in proc.stderr and "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("run c:")]
    assert len(lines) <= 3, proc.stderr
    done = [e for e in Store(db).episodes("c") if e.status == "done"]
    assert len(done) < 6, "the run stopped instead of failing every episode"
