"""Hostile agents against the episode loop, the runner and the store: each attack ends contained
(the agent's `fail`, the host untouched, the store complete, the run going on)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from arena.agents.scripted import ScriptedAgent
from arena.config import RunConfig
from arena.episode import run_episode
from arena.errors import StoreError
from arena.sandbox import SandboxConfig, open_sandbox
from arena.store import Store
from arena.testing import run_to_end
from arena.types import Action, Limits, StepRecord, TaskView, ToolCall
from tests.conftest import require
from tests.minimal_family import GreetingFamily

REPO = Path(__file__).resolve().parents[2]
GREETING = "tests.minimal_family:GreetingFamily"
PROCESS = SandboxConfig(kind="process", unsafe_local=True)


def run_config(agents: list[str], **extra: object) -> RunConfig:
    return RunConfig(agents=agents, families=[GREETING], seeds=[0, 1], sandbox=PROCESS, **extra)  # type: ignore[arg-type]


def execute(config: RunConfig, db: Path | str = ":memory:", run_id: str = "r") -> Store:
    return run_to_end(config, db=db, run_id=run_id)


# ---------------------------------------------------------------- time, serialisation


@pytest.mark.parametrize("kind", ["process", "bwrap"])
async def test_time_limit_holds_inside_one_step(kind: str, need_bwrap: None) -> None:
    """40 calls of `sleep 1` in one action under a 3-second limit: the episode ends at the limit."""
    config = PROCESS if kind == "process" else SandboxConfig(kind="bwrap")
    family = GreetingFamily()
    task = family.generate(0, "dev")
    action = Action(tool_calls=[ToolCall(name="bash", arguments={"command": "sleep 1"}) for _ in range(40)])
    sandbox = await open_sandbox(config, image="arena-base", labels={})
    try:
        started = time.monotonic()
        steps: list[StepRecord] = []
        result = await run_episode(family, task, ScriptedAgent([action]), sandbox,
                                   limits=Limits(max_seconds=3, tool_timeout=30), on_step=steps.append)
        took = time.monotonic() - started
    finally:
        await sandbox.close()
    assert result.termination == "time_limit" and result.outcome == "fail"
    assert took < 8, f"the episode ran {took:.1f}s under a 3s limit"
    ran = [r for r in steps[0].results if "not run" not in r.output]
    assert 2 <= len(ran) <= 5 and len(steps[0].results) == 40  # every call is accounted for


async def test_steps_that_json_cannot_hold_are_still_stored(tmp_path: Path) -> None:
    """Lone surrogates, 500-deep nesting and 50 MB arguments: the step ran, so it is stored."""
    deep: object = "bottom"
    for _ in range(500):
        deep = {"d": deep}
    huge = "x" * (50 * 1024 * 1024)
    actions = [
        Action(tool_calls=[ToolCall(name="bash", arguments={"command": "touch surrogate; echo \udcff"})]),
        Action(tool_calls=[ToolCall(name="bash", arguments={"command": "touch deep", "extra": deep})]),
        Action(tool_calls=[ToolCall(name="write_file", arguments={"path": "big", "content": huge})],
               message="\ud800 lone"),
    ]
    store = Store(tmp_path / "s.db")
    from arena.types import EpisodeKey

    key = EpisodeKey(agent="a", family="greeting", split="dev", seed=0, level="agent", trial=0)
    store.create_run("r", {}, [key])
    attempt = store.start_attempt("r", key, "t")
    family = GreetingFamily()
    sandbox = await open_sandbox(PROCESS, image="arena-base", labels={})
    try:
        result = await run_episode(family, family.generate(0, "dev"), ScriptedAgent(actions), sandbox,
                                   on_step=lambda r: store.add_step("r", key, attempt, r))
        made = sorted(p.name for p in Path(sandbox.workdir).iterdir())  # type: ignore[attr-defined]
    finally:
        await sandbox.close()
    steps = store.steps("r", key)
    assert result.steps == 4 and len(steps) == 4  # three actions and the final submit
    assert {"surrogate", "deep", "big"} <= set(made)
    assert all(s.sanitized for s in steps[:3]) and steps[3].sanitized is None
    assert "\\udcff" in steps[0].action.tool_calls[0].arguments["command"]  # type: ignore[index]
    assert os.path.getsize(tmp_path / "s.db") + os.path.getsize(str(tmp_path / "s.db") + "-wal") < 5 * 1024 * 1024


# ---------------------------------------------------------------- what agents are told, and given


def test_agents_see_an_opaque_id_and_no_solution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARENA_TEST_RECORD", str(tmp_path / "seen.jsonl"))
    store = execute(run_config(["tests.helper_agents:Snoop"]))
    seen = [json.loads(line) for line in (tmp_path / "seen.jsonl").read_text().splitlines()]
    views = [TaskView.model_validate(r["view"]) for r in seen if "view" in r]
    assert len(views) == 2 and not [r for r in seen if "solution" in r]
    for view in views:
        assert view.task_id.startswith("greeting-") and "/" not in view.task_id
        assert "dev" not in view.task_id and not any(str(s) in view.task_id.split("-")[0] for s in (0, 1))
    stored = {e.task_id for e in store.episodes("r")}
    assert stored == {"greeting@1/dev/0", "greeting@1/dev/1"}  # the host keeps the readable id


def test_an_agent_that_blocks_its_loop_does_not_stall_the_others() -> None:
    config = RunConfig(agents=["tests.helper_agents:Sleeper", "oracle"], families=[GREETING],
                       seeds=[0, 1, 2], sandbox=PROCESS, concurrency=6, limits={"max_seconds": 3})
    started = time.monotonic()
    store = execute(config)
    took = time.monotonic() - started
    results = {(e.key.agent, e.key.seed): e.result for e in store.episodes("r")}
    assert all(r is not None and r.outcome == "success" for (a, _), r in results.items() if a == "oracle")
    assert all(r is not None and r.termination == "time_limit" for (a, _), r in results.items() if a != "oracle")
    assert took < 20, f"the run took {took:.1f}s: the blocked agent held everyone up"


def test_patching_the_grader_in_process_is_caught() -> None:
    original = GreetingFamily.check
    try:
        store = execute(run_config(["tests.helper_agents:Patcher"]))
    finally:
        GreetingFamily.check = original  # type: ignore[method-assign]
    for e in store.episodes("r"):
        assert e.result is not None and e.result.outcome == "fail"
        guard = next(c for c in e.result.checks if c.name == "arena_unchanged")
        assert not guard.passed and "GreetingFamily.check" in guard.detail


# ---------------------------------------------------------------- one process per run, store faults


def test_a_second_process_on_a_running_run_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    slow = tmp_path / "run.toml"
    slow.write_text("[agent_options.oracle]\ndelay = 0.5\n")
    common = ["--db", str(db), "--run-id", "r1", "--quiet"]
    first = subprocess.Popen(
        [sys.executable, "-m", "arena.cli", "run", "--config", str(slow), "--agents", "oracle", "--families",
         GREETING, "--seeds", "0-5", "--sandbox", "process", "--unsafe-local", "--concurrency", "1", *common],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            with sqlite3.connect(db) as c:
                try:
                    if c.execute("SELECT count(*) FROM leases").fetchone()[0]:
                        break
                except sqlite3.OperationalError:
                    pass
            time.sleep(0.1)
        second = subprocess.run([sys.executable, "-m", "arena.cli", "run", "--resume", *common], cwd=REPO,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 2 and "is being run right now by process" in second.stderr
        assert first.wait(timeout=120) == 0
    finally:
        first.kill()
    with sqlite3.connect(db) as c:
        attempts = c.execute("SELECT max(attempts), count(*) FROM episodes").fetchone()
    assert attempts == (1, 6), "every episode ran exactly once"


def test_a_sigterm_leaves_the_run_interrupted_not_running(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    slow = tmp_path / "run.toml"
    slow.write_text("[agent_options.oracle]\ndelay = 0.5\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "arena.cli", "run", "--config", str(slow), "--agents", "oracle", "--families",
         GREETING, "--seeds", "0-9", "--sandbox", "process", "--unsafe-local", "--db", str(db), "--run-id", "r",
         "--quiet"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    time.sleep(3)
    proc.terminate()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "Traceback" not in err and "never retrieved" not in err
    info = Store(db).get_run("r")
    assert info is not None and info.status == "interrupted"
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT count(*) FROM episodes WHERE status = 'running'").fetchone()[0] == 0


@pytest.fixture
def read_only_dir(tmp_path: Path):
    """A directory holding a store, bind-mounted read-only (needs root; file modes do not stop root)."""
    require(os.geteuid() == 0, "root (to bind-mount a directory read-only)", "run the tests as root, as CI does")
    where = tmp_path / "ro"
    where.mkdir()
    Store(where / "ro.db").close()
    subprocess.run(["mount", "--bind", str(where), str(where)], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_read_only_store_is_one_clear_line(read_only_dir: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "arena.cli", "run", "--agents", "oracle", "--families", GREETING,
                           "--seeds", "0", "--db", str(read_only_dir / "ro.db")], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "read-only" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 2


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A real file system with almost no room: a 600 KiB tmpfs (needs root)."""
    require(os.geteuid() == 0, "root (to mount a small tmpfs)", "run the tests as root, as CI does")
    where = tmp_path / "disk"
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_full_disk_is_the_arenas_failure_not_the_agents(tiny_disk: Path) -> None:
    db = tiny_disk / "full.db"
    config = RunConfig(agents=["tests.helper_agents:Chatty"], families=[GREETING], seeds=[0],
                       sandbox=PROCESS, limits={"max_steps": 500})
    with pytest.raises(StoreError, match="cannot grow"):
        execute(config, db)
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        rows = c.execute("SELECT status, outcome FROM episodes").fetchall()
    assert rows and all(outcome != "fail" for _, outcome in rows), "the agent must not take the blame"
