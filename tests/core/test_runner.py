"""The runner: resumable after SIGKILL, infrastructure errors retried and kept apart, bad config refused."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from arena.metrics import aggregate
from arena.runner import RunConfig, Runner, stored_config, validate_config
from arena.store import Store

REPO = Path(__file__).resolve().parents[2]
GREETING = "tests.minimal_family:GreetingFamily"


def arena(*args: str, env: dict[str, str] | None = None, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "arena.cli", *args], cwd=REPO, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})}, **kw,  # type: ignore[arg-type]
    )


def done_count(db: Path, run_id: str) -> int:
    try:
        with sqlite3.connect(db) as c:
            return c.execute("SELECT count(*) FROM episodes WHERE run_id=? AND status='done'", (run_id,)).fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def run_with(config: RunConfig, db: Path, run_id: str = "r") -> Store:
    import asyncio

    store = Store(db)
    factories = validate_config(config)
    store.create_run(run_id, stored_config(config, factories), config.plan())
    asyncio.run(Runner(store, run_id, config, factories=factories).run())
    return store


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_run_resumes_to_exactly_the_plan(tmp_path: Path, sig: signal.Signals) -> None:
    db = tmp_path / "a.db"
    common = ["--db", str(db), "--run-id", "r1"]
    slow = tmp_path / "run.toml"  # the oracle takes its time, so the kill lands mid-way
    slow.write_text('[agent_options.oracle]\ndelay = 0.3\n')
    proc = arena("run", "--config", str(slow), "--agents", "oracle,random", "--families", GREETING,
                 "--seeds", "0-5", "--trials", "2", "--sandbox", "process", "--unsafe-local",
                 "--concurrency", "3", "--quiet", *common)
    deadline = time.time() + 60
    while done_count(db, "r1") < 4 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(sig)
    proc.wait(timeout=30)
    before = {k: v for k, v in _results(db).items() if v is not None}
    assert 4 <= len(before) < 24, "the kill came too late to test anything"
    if sig == signal.SIGINT:
        assert proc.returncode == 130
        with sqlite3.connect(db) as c:
            running = c.execute("SELECT count(*) FROM episodes WHERE status = 'running'").fetchone()[0]
        assert running == 0, "Ctrl-C must leave no episode marked running"

    resumed = arena("run", "--resume", "--quiet", *common)
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    after = _results(db)
    assert len(after) == 24 and all(v is not None for v in after.values())
    # Episodes finished before the kill were kept as they were, not run again.
    assert all(after[k] == v for k, v in before.items())
    with sqlite3.connect(db) as c:
        (n_rows,) = c.execute("SELECT count(*) FROM episodes WHERE run_id='r1'").fetchone()
        max_attempts = c.execute("SELECT max(attempts) FROM episodes").fetchone()[0]
    assert n_rows == 24 and max_attempts <= 2
    report = json.loads(arena("report", "r1", "--db", str(db), "--json").communicate(timeout=60)[0])
    oracle = next(a for a in report["aggregates"] if a["agent"] == "oracle")
    assert oracle["successes"] == 12 and oracle["pass_hat_k"]["2"] == 1.0


def _results(db: Path) -> dict[str, str | None]:
    with sqlite3.connect(db) as c:
        return dict(c.execute("SELECT key, result FROM episodes WHERE run_id='r1'").fetchall())


def test_infra_errors_are_retried_then_kept_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARENA_TEST_MARKERS", str(tmp_path))
    config = RunConfig(
        agents=["oracle"], families=["tests.helper_agents:FlakyGreeting", "tests.helper_agents:BrokenGreeting"],
        seeds=[0, 1], sandbox={"kind": "process", "unsafe_local": True}, max_attempts=2,
    )
    store = run_with(config, tmp_path / "b.db")
    eps = {(e.key.family.split(":")[1], e.key.seed): e for e in store.episodes("r")}
    for seed in (0, 1):
        flaky = eps[("FlakyGreeting", seed)]
        assert flaky.attempts == 2 and flaky.result is not None and flaky.result.outcome == "success"
        broken = eps[("BrokenGreeting", seed)]
        assert broken.attempts == 2 and broken.result is not None and broken.result.outcome == "error"
        assert "sandbox died" in (broken.result.error or "")
    by_family = {a.family.split(":")[1]: a for a in aggregate(store.episodes("r"))}
    assert by_family["BrokenGreeting"].errors == 2 and by_family["BrokenGreeting"].fails == 0
    assert by_family["BrokenGreeting"].success_rate is None


def test_agent_crash_is_a_fail_with_reason_and_run_goes_on(tmp_path: Path) -> None:
    config = RunConfig(agents=["tests.helper_agents:CrashingAgent", "oracle"], families=[GREETING], seeds=[0, 1],
                       sandbox={"kind": "process", "unsafe_local": True})
    store = run_with(config, tmp_path / "c.db")
    results = [(e.key.agent, e.result) for e in store.episodes("r")]
    crashed = [r for a, r in results if a.endswith("CrashingAgent")]
    assert all(r and r.outcome == "fail" and r.termination == "agent_error" and "agent bug" in (r.error or "")
               for r in crashed)
    assert all(r and r.outcome == "success" for a, r in results if a == "oracle")


def test_a_run_collects_less_often_while_it_runs_and_restores_the_collector(tmp_path: Path) -> None:
    import gc

    from arena.runner import RUN_GC_THRESHOLDS
    from tests.helper_agents import record_gc_thresholds

    before = gc.get_threshold()
    config = RunConfig(agents=["tests.helper_agents:GcWatchingAgent"], families=[GREETING], seeds=[0],
                       sandbox={"kind": "process", "unsafe_local": True})
    run_with(config, tmp_path / "g.db")
    assert record_gc_thresholds == [RUN_GC_THRESHOLDS]  # as the agent saw it, mid-run
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0 and gc.isenabled()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--agents", "oracle", "--families", "nope", "--seeds", "0"], "unknown family 'nope'"),
        (["--agents", "wizard", "--families", GREETING, "--seeds", "0"], "unknown agent 'wizard'"),
        (["--agents", "oracle", "--families", GREETING, "--seeds", "5-1"], "bad seed range"),
        (["--agents", "oracle", "--families", GREETING, "--seeds", "0", "--sandbox", "process"], "--unsafe-local"),
        (["--agents", "oracle", "--families", GREETING, "--seeds", "0", "--trials", "0"], "trials"),
        (["--agents", "oracle", "--families", GREETING, "--seeds", "0", "--level", "boss"], "'agent' or 'worker'"),
        (["--families", GREETING, "--seeds", "0"], "missing --agents"),
    ],
)
def test_bad_config_is_refused_before_anything_runs(tmp_path: Path, args: list[str], message: str) -> None:
    db = tmp_path / "d.db"
    proc = arena("run", "--db", str(db), *args)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert message in " ".join(err.split())
    if db.exists():
        assert Store(db).list_runs() == []


def test_run_id_clash_names_the_fix(tmp_path: Path) -> None:
    config = RunConfig(agents=["oracle"], families=[GREETING], seeds=[0], sandbox={"kind": "process",
                                                                                   "unsafe_local": True})
    run_with(config, tmp_path / "e.db")
    proc = arena("run", "--db", str(tmp_path / "e.db"), "--run-id", "r", "--agents", "oracle", "--families",
                 GREETING, "--seeds", "0", "--sandbox", "process", "--unsafe-local")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "pass --resume" in err
