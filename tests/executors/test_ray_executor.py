"""The Ray executor on a real local cluster, with real episodes in bubblewrap sandboxes: steps reach
the driver's store while episodes run, a worker killed mid-episode is an `error` attempt that the
runner retries, and a run whose driver was killed finishes with `--resume`."""

from __future__ import annotations

import asyncio
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
KILLED_ONCE = "tests.executors.agents:KilledOnce"

pytestmark = pytest.mark.bwrap


def ray_config(address: str, **overrides: object) -> RunConfig:
    data = {
        "families": [GREETING], "sandbox": {"kind": "bwrap"}, "executor": {"kind": "ray", "address": address},
        "concurrency": 2, **overrides,
    }
    return RunConfig.model_validate(data)


def test_episodes_run_on_the_cluster_like_local_ones(ray_cluster: str, tmp_path: Path) -> None:
    config = ray_config(ray_cluster, agents=["oracle", "random"], seeds=[0, 1, 2])
    store = Store(tmp_path / "a.db")
    factories = validate_config(config)
    store.create_run("r", stored_config(config, factories), config.plan())
    asyncio.run(Runner(store, "r", config, factories=factories).run())
    episodes = store.episodes("r")
    assert len(episodes) == 6 and all(e.status == "done" and e.attempts == 1 for e in episodes)
    by_agent = {a.agent: a for a in aggregate(episodes)}
    assert by_agent["oracle"].successes == 3 and by_agent["random"].errors == 0
    steps = store.run_steps("r")
    for e in episodes:
        assert e.result is not None and e.result.steps == len(steps[e.key.id]) > 0
    assert store.get_run("r").status == "finished"  # type: ignore[union-attr]


def test_a_worker_killed_mid_episode_is_an_error_attempt_then_retried(ray_cluster: str, tmp_path: Path) -> None:
    config = ray_config(
        ray_cluster, agents=["oracle", f"killed={KILLED_ONCE}"], seeds=[0, 1],
        agent_options={"killed": {"marker_dir": str(tmp_path)}},
    )
    store = Store(tmp_path / "k.db")
    factories = validate_config(config)
    store.create_run("r", stored_config(config, factories), config.plan())
    pid_file = tmp_path / "pid"
    seen_before_kill: list[int] = []

    async def main() -> None:
        run = asyncio.create_task(Runner(store, "r", config, factories=factories).run())
        deadline = time.monotonic() + 60
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline and not run.done(), "no episode reached its first step"
            await asyncio.sleep(0.05)
        # The waiting episode's first step was streamed to this driver's store while it still runs.
        while not seen_before_kill:
            running = [e.key for e in store.episodes("r") if e.status == "running" and e.key.agent == "killed"]
            seen_before_kill.extend(len(steps) for key in running if (steps := store.steps("r", key, 1)))
            assert time.monotonic() < deadline, "the first step never reached the driver"
            await asyncio.sleep(0.05)
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
        await run

    asyncio.run(main())
    assert 1 in seen_before_kill
    episodes = {(e.key.agent, e.key.seed): e for e in store.episodes("r")}
    killed = [e for e in episodes.values() if e.attempts == 2]
    assert len(killed) == 1 and killed[0].key.agent == "killed"
    assert all(e.attempts == 1 for e in episodes.values() if e is not killed[0])
    assert all(e.result is not None and e.result.outcome == "success" for e in episodes.values())
    first = store.steps("r", killed[0].key, 1)
    assert [s.index for s in first] == [1]  # what the killed worker streamed before it died is kept
    assert [s.index for s in store.steps("r", killed[0].key, 2)] == [1, 2]


def arena(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "arena.cli", *args], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def done_count(db: Path) -> int:
    try:
        with sqlite3.connect(db) as c:
            return c.execute("SELECT count(*) FROM episodes WHERE status = 'done'").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_a_run_whose_driver_was_killed_resumes_on_the_cluster(ray_cluster: str, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    slow = tmp_path / "run.toml"  # the oracle takes its time, so the kill lands mid-run
    slow.write_text("[agent_options.oracle]\ndelay = 0.3\n")
    common = ["--db", str(db), "--run-id", "r1", "--quiet"]
    proc = arena("run", "--config", str(slow), "--agents", "oracle", "--families", GREETING, "--seeds", "0-5",
                 "--sandbox", "bwrap", "--ray-address", ray_cluster, "--concurrency", "2", *common)
    deadline = time.time() + 120
    while done_count(db) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert 2 <= done_count(db) < 6, "the kill came too late (or too early) to test anything"
    with sqlite3.connect(db) as c:
        before = dict(c.execute("SELECT key, result FROM episodes WHERE status = 'done'").fetchall())

    resumed = arena("run", "--resume", *common)
    out, err = resumed.communicate(timeout=180)
    assert resumed.returncode == 0, err
    assert "oracle" in out and "6/0/0" in out  # the same report as a local run
    with sqlite3.connect(db) as c:
        after = dict(c.execute("SELECT key, result FROM episodes").fetchall())
        attempts = c.execute("SELECT max(attempts) FROM episodes").fetchone()[0]
        config = json.loads(c.execute("SELECT config FROM runs").fetchone()[0])
    assert len(after) == 6 and all(after[k] == v for k, v in before.items()) and attempts <= 2
    assert config["executor"] == {"kind": "ray", "address": ray_cluster}


def test_model_agents_on_workers_get_the_drivers_api_key(
    ray_cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from arena.testing import ScriptedChatServer, oracle_policy

    monkeypatch.setenv("ARENA_TEST_KEY", "sk-test-forwarded")  # set after the cluster started: only the driver has it
    with ScriptedChatServer(oracle_policy("helpdesk", seeds=[0, 1])) as server:
        options = {"base_url": server.base_url, "api_key_env": "ARENA_TEST_KEY"}
        config = ray_config(ray_cluster, agents=["m=openai:scripted"], families=["helpdesk"], seeds=[0, 1],
                            agent_options={"m": options})
        store = Store(tmp_path / "m.db")
        factories = validate_config(config)
        store.create_run("r", stored_config(config, factories), config.plan())
        asyncio.run(Runner(store, "r", config, factories=factories).run())
    assert all(e.result is not None and e.result.outcome == "success" for e in store.episodes("r"))
    assert server.requests and all(r.authorized for r in server.requests)
    stored = json.dumps(store.get_run("r").config) + (tmp_path / "m.db").read_bytes().decode("latin-1")  # type: ignore[union-attr]
    assert "sk-test-forwarded" not in stored


def test_a_private_split_is_played_with_its_salt_on_the_workers(ray_cluster: str, tmp_path: Path) -> None:
    from arena.registry import load_family

    config = ray_config(
        ray_cluster, agents=["w=tests.executors.agents:Witness"], families=["files"], seeds=[0, 1], splits=["test"],
        agent_options={"w": {"marker_dir": str(tmp_path)}},
    ).with_salt("s3cret-salt")
    store = Store(tmp_path / "p.db")
    factories = validate_config(config)
    store.create_run("r", stored_config(config, factories), config.plan())
    asyncio.run(Runner(store, "r", config, factories=factories).run())
    for e in store.episodes("r"):
        assert e.task is not None and e.result is not None and e.result.outcome == "fail"
        seen = (tmp_path / f"{e.task.public_id}.txt").read_text()
        assert seen == e.task.instruction  # the worker played the task the driver planned and stored
        assert seen != load_family("files").generate(e.key.seed, "test").instruction(0)  # the salted one
    assert "s3cret-salt" not in (tmp_path / "p.db").read_bytes().decode("latin-1")
