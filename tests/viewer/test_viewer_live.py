"""`arena view` on a store that is still being written: episodes that finish, and a run that starts,
after the server started show up in the open pages without a restart or a reload."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

import arena.viewer.server as server_module
from arena.errors import StoreError
from arena.store import Store
from arena.viewer import LiveSite, make_server
from tests.viewer.conftest import REPO, Browser, StoredRun, arena, ledger_runs

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


def test_view_shows_the_summary_and_builds_it_only_when_the_store_changed(plotted: StoredRun, tmp_path: Path,
                                                                          browser: Browser) -> None:
    db = tmp_path / "copy.db"  # the session's store stays as it is
    with sqlite3.connect(plotted.db) as source, sqlite3.connect(db) as copy:
        source.backup(copy)
    site = LiveSite(Store(db, read_only=True), None)  # every run of the store, as `arena view` shows it
    server = make_server(site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}/"
    try:
        overview = browser.open(base)
        # built in the background: the page shows it when it is ready, without a reload
        expect(overview.locator(".plot-slot[data-plot='success_by_level'] rect.bar")).to_have_count(8, timeout=30_000)
        assert overview.locator("#comparison #t-pairs tbody tr").count() == 12
        assert site.figures is not None and site.figures.builds == 1
        for _ in range(5):  # pages that poll an unchanged store read no summary again
            assert httpx.get(base + "data/site.js").status_code == 200
            time.sleep(0.3)
        assert site.figures.builds == 1
        assert httpx.get(base + "data/summary.js").content.startswith(b"ARENA.summary(")
        ledger_runs("eight", db)  # another run is stored: the summary of both is built again
        expect(overview.locator("#run-title")).to_have_text("Runs plotted, eight (960/960 episodes done)",
                                                            timeout=30_000)
        expect(overview.locator("#plot-legend .legend-key")).to_have_count(4 + 8)
        builds = site.figures.builds
        assert builds >= 2
        time.sleep(max(3 * server_module.REFRESH_EVERY, server_module.MIN_GAP + 1))
        assert site.figures.builds == builds  # and then not again: nothing changed
    finally:
        browser.close_pages()
        server.shutdown()
        server.server_close()
