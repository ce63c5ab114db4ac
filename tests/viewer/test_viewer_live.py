"""`arena view` on a store that is still being written: episodes that finish, and a run that starts,
after the server started show up in the open pages without a restart or a reload."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from arena.errors import StoreError
from arena.store import Store
from tests.viewer.conftest import REPO, Browser, arena

GREETING = "tests.minimal_family:GreetingFamily"


def popen(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "arena.cli", *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )


def wait_for(what: str, test: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if test():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture()
def gated_run(tmp_path: Path) -> Iterator[tuple[Path, Path, subprocess.Popen[str]]]:
    """A run of two episodes whose agent waits at its second step until the gate file exists."""
    db, gate = tmp_path / "live.db", tmp_path / "gate"
    run = popen("run", "--agents", "gated=tests.viewer.agents:GatedAgent", "--families", GREETING, "--seeds", "0-1",
                "--sandbox", "process", "--unsafe-local", "--db", str(db), "--run-id", "live", "--concurrency", "1",
                "--quiet", env={"ARENA_TEST_GATE": str(gate)})

    def started() -> bool:
        if not db.exists():
            return False
        store = Store(db, read_only=True)
        try:
            eps = store.episodes("live") if store.get_run("live") else []
            return any(e.status == "running" and store.steps("live", e.key) for e in eps)
        except StoreError:  # the file is there, its tables not yet
            return False
        finally:
            store.close()

    try:
        wait_for("the gated run to take its first step", started)
        yield db, gate, run
    finally:
        gate.touch()
        try:
            run.wait(timeout=60)
        finally:
            if run.poll() is None:
                run.kill()


@pytest.fixture()
def viewer(gated_run: tuple[Path, Path, subprocess.Popen[str]]) -> Iterator[str]:
    db = gated_run[0]
    server = popen("view", "--db", str(db), "--port", "0")
    try:
        line = server.stdout.readline().strip()  # type: ignore[union-attr]
        assert line.startswith("http://127.0.0.1:"), (line, server.stderr.read() if server.poll() else "")
        yield line
    finally:
        server.terminate()
        assert server.wait(timeout=10) == 0  # SIGTERM stops it cleanly


def test_view_shows_episodes_stored_after_it_started(gated_run: tuple[Path, Path, subprocess.Popen[str]],
                                                     viewer: str, browser: Browser) -> None:
    db, gate, run = gated_run
    table = browser.open(viewer + "episodes.html")
    table.wait_for_selector("#episodes[data-loaded='complete']")
    assert table.locator("nav .live").count() == 1
    rows = table.locator("#episodes tbody tr")
    assert rows.count() == 2
    assert "running" in rows.nth(0).inner_text() and "pending" in rows.nth(1).inner_text()
    trajectory = browser.open(viewer + "episode.html#live/0")
    assert trajectory.locator(".banner").get_attribute("data-outcome") == "running"
    assert trajectory.locator("#steps > li.step").count() == 1 and "list_dir" in trajectory.inner_text("#steps")

    gate.touch()  # the agent submits; the run finishes both episodes
    assert run.wait(timeout=60) == 0, run.stderr.read()  # type: ignore[union-attr]
    # The open pages poll the server (the pages' CSP forbids eval, so waits are on locators).
    expect(rows.filter(has_text="fail")).to_have_count(2, timeout=15_000)
    trajectory.wait_for_selector(".banner[data-outcome='fail']", timeout=15_000)
    assert trajectory.locator("#steps > li.step").count() == 2 and "submit" in trajectory.inner_text("#steps")
    assert "greeting" in trajectory.inner_text("#checks")

    # A run started after the server did shows up too (the server shows every run of the store).
    second = arena("run", "--agents", "oracle", "--families", GREETING, "--seeds", "0", "--sandbox", "process",
                   "--unsafe-local", "--db", str(db), "--run-id", "later", "--quiet")
    assert second.returncode == 0, second.stderr
    expect(rows).to_have_count(3, timeout=15_000)
    assert "success" in table.locator("#episodes tbody tr").nth(2).inner_text()
    overview = browser.open(viewer)
    assert overview.locator("#runs tbody tr").count() == 2


def test_view_serves_the_report_and_nothing_else(gated_run: tuple[Path, Path, subprocess.Popen[str]],
                                                 viewer: str) -> None:
    assert httpx.get(viewer).status_code == 200
    assert httpx.get(viewer + "assets/app.js").headers["content-type"].startswith("text/javascript")
    for path in ("../live.db", "data/../../live.db", "assets/../server.py", "data/episodes/live/0.js/../../x",
                 "%2e%2e/live.db", "data/rows/9999.js", "data/episodes/nope/0.js"):
        assert httpx.get(viewer + path).status_code == 404, path
    assert b"ARENA.episode(" in httpx.get(viewer + "data/episodes/live/0.js").content
    # A page of another site whose name was rebound to 127.0.0.1 gets nothing.
    assert httpx.get(viewer + "data/site.js", headers={"Host": "evil.example:80"}).status_code == 421
