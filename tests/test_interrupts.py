"""Interrupting a real run: Ctrl-C or SIGTERM in the middle of a `repair` run in real sandboxes
ends quickly with no traceback, a consistent store and nothing of the run left on the host; after a
SIGKILL, `--resume` cleans up what the dead process left and finishes exactly the plan."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def state() -> Iterator[Path]:
    """A sandbox state directory of the test's own (the jails' uids must be able to walk into it)."""
    where = Path(tempfile.mkdtemp(prefix="arena-test-state-", dir="/var/tmp"))
    where.chmod(0o755)
    try:
        yield where
    finally:
        shutil.rmtree(where, ignore_errors=True)


def start(db: Path, run_id: str, sandbox: str, state: Path) -> subprocess.Popen[str]:
    slow = db.parent / "slow.toml"
    slow.write_text("[agent_options.oracle]\ndelay = 0.4\n")
    return subprocess.Popen(
        [sys.executable, "-m", "arena.cli", "run", "--config", str(slow), "--agents", "oracle", "--families",
         "repair", "--seeds", "0-11", "--sandbox", sandbox, "--concurrency", "4", "--db", str(db),
         "--run-id", run_id, "--quiet"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "ARENA_SANDBOX_DIR": str(state)},
    )


def done(db: Path) -> int:
    try:
        with sqlite3.connect(db) as c:
            return c.execute("SELECT count(*) FROM episodes WHERE status = 'done'").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def wait_for(db: Path, n: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.time() + 180
    while done(db) < n and proc.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    assert proc.poll() is None and done(db) >= n, "the run ended (or stalled) before it could be interrupted"


def leftovers(state: Path, run_id: str) -> list[str]:
    """What of the run is still on the host: sandbox records, their processes, its containers."""
    found = [p.name for p in state.iterdir() if p.name not in ("templates", "watchdogs")] if state.exists() else []
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    found += [line for line in ps.splitlines() if str(state) in line]
    if subprocess.run(["docker", "info"], capture_output=True).returncode == 0:
        ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=arena.run={run_id}"],
                             capture_output=True, text=True).stdout.split()
        found += [f"container {i}" for i in ids]
    return found


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("sandbox", ["bwrap", "docker"])
def test_an_interrupted_run_ends_clean(tmp_path: Path, state: Path, sig: signal.Signals, sandbox: str,
                                       need_bwrap: None, request: pytest.FixtureRequest) -> None:
    if sandbox == "docker":
        request.getfixturevalue("docker_images")
    db = tmp_path / "i.db"
    proc = start(db, "i", sandbox, state)
    wait_for(db, 2, proc)
    proc.send_signal(sig)
    started = time.monotonic()
    _, err = proc.communicate(timeout=90)
    assert time.monotonic() - started < 60, "the run took too long to stop"
    assert proc.returncode == (130 if sig == signal.SIGINT else 143), err
    assert "Traceback" not in err and "never retrieved" not in err, err
    with sqlite3.connect(db) as c:
        running = c.execute("SELECT count(*) FROM episodes WHERE status = 'running'").fetchone()[0]
        status = c.execute("SELECT status FROM runs WHERE id = 'i'").fetchone()[0]
    assert running == 0 and status == "interrupted"
    time.sleep(1)
    assert leftovers(state, "i") == []


def test_after_a_sigkill_resume_cleans_up_and_finishes_the_plan(tmp_path: Path, state: Path,
                                                                need_bwrap: None) -> None:
    db = tmp_path / "k.db"
    proc = start(db, "k", "bwrap", state)
    wait_for(db, 2, proc)
    proc.kill()
    proc.wait(timeout=30)
    resumed = subprocess.run(
        [sys.executable, "-m", "arena.cli", "run", "--resume", "--run-id", "k", "--db", str(db), "--quiet", "--json"],
        cwd=REPO, capture_output=True, text=True, timeout=600, env={**os.environ, "ARENA_SANDBOX_DIR": str(state)},
    )
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    (oracle,) = [a for a in report["aggregates"] if a["agent"] == "oracle"]
    assert oracle["episodes"] == 12 and oracle["successes"] == 12
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT max(attempts) FROM episodes").fetchone()[0] <= 2
    assert leftovers(state, "k") == []
