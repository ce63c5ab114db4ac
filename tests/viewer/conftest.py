"""Fixtures of the viewer tests: one real stored run (the real runner, in process sandboxes), and
headless Chromium (Debian's, driven by Playwright; never a downloaded browser).

Screenshots go to tests/viewer/artifacts/ (ignored by git); the session's end prints where."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
RUN_ID = "viewer-run"


def arena(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "arena.cli", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@dataclass
class StoredRun:
    db: Path
    run_id: str

    def store(self) -> Any:
        from arena.store import Store

        return Store(self.db, read_only=True)


@pytest.fixture(scope="session")
def stored_run(tmp_path_factory: pytest.TempPathFactory) -> StoredRun:
    """oracle, random and a markup-writing agent on `files` at all three levels, with and without
    faults, two trials each: 72 real episodes with help, takeovers, faults, errors and worker parts."""
    db = tmp_path_factory.mktemp("viewer-store") / "arena.db"
    result = arena(
        "run", "--agents", "oracle,random,markup=tests.viewer.agents:MarkupAgent", "--families", "files",
        "--seeds", "0-1", "--level", "copilot,agent,worker", "--faults", "0,0.3", "--trials", "2",
        "--sandbox", "process", "--unsafe-local", "--db", str(db), "--run-id", RUN_ID, "--quiet",
        "--concurrency", "4",
    )
    assert result.returncode == 0, result.stderr
    return StoredRun(db, RUN_ID)


@pytest.fixture(scope="session")
def site(stored_run: StoredRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The static site of the run, built by the documented command."""
    out = tmp_path_factory.mktemp("viewer-site") / "report"
    result = arena("report", stored_run.run_id, "--db", str(stored_run.db), "--html", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str((out / "index.html").resolve())
    return out


def ledger_runs(kind: str, db: Path) -> None:
    """Runs of the scripted ledger agents (tests/viewer/ledger_agents.py), made in a process of their own."""
    result = subprocess.run([sys.executable, "-m", "tests.viewer.ledger_agents", kind, str(db)], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


def report_site(db: Path, out: Path, *run_ids: str) -> Path:
    """The static site of the runs, built by the documented command."""
    result = arena("report", *run_ids, "--db", str(db), "--html", str(out))
    assert result.returncode == 0, result.stderr
    return out


def report_json(db: Path, *run_ids: str) -> dict[str, Any]:
    result = arena("report", *run_ids, "--db", str(db), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="session")
def plotted(tmp_path_factory: pytest.TempPathFactory) -> StoredRun:
    """Four scripted agents on the ledger at two levels, with and without faults, three trials: every
    plot has something to draw (a fitted horizon, a dominated agent, pass^k falling with k)."""
    db = tmp_path_factory.mktemp("plotted-store") / "arena.db"
    ledger_runs("plotted", db)
    return StoredRun(db, "plotted")


@pytest.fixture(scope="session")
def plotted_site(plotted: StoredRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return report_site(plotted.db, tmp_path_factory.mktemp("plotted-site") / "report", plotted.run_id)


class Browser:
    """A headless Chromium with a fresh profile; every page it opens records console errors."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.errors: list[str] = []
        self.pages: list[Any] = []

    def open(self, url: str, *, ready: bool = True) -> Any:
        page = self.context.new_page()
        self.pages.append(page)
        page.on("console", lambda m: m.type == "error" and self.errors.append(f"{url}: {m.text}"))
        page.on("pageerror", lambda e: self.errors.append(f"{url}: uncaught {e}"))
        page.goto(url)
        if ready:
            page.wait_for_selector("body[data-ready='1']", timeout=15_000)
        return page

    def take_errors(self) -> list[str]:
        errors, self.errors = self.errors, []
        return errors

    def close_pages(self) -> None:
        for page in self.pages:
            page.close()
        self.pages = []


# Module scope, not session: while Playwright's sync API is open its event loop counts as running
# in this thread, and any later test calling asyncio.run() would fail.
@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    require(Path(CHROMIUM).exists(), "Debian's chromium", "run scripts/setup.sh (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "Playwright for Python", "run scripts/setup.sh (pip install -e '.[dev]')")
        raise
    profile = tempfile.mkdtemp(prefix="arena-chromium-")
    try:
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 900},
            )
            try:
                yield Browser(context)
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture()
def browser(chromium: Browser) -> Iterator[Browser]:
    """The session's browser; a test fails if any page it opened logged an error."""
    chromium.take_errors()
    yield chromium
    chromium.close_pages()  # before the test's other fixtures go (a live page polls its server)
    assert chromium.take_errors() == []


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def pytest_terminal_summary(terminalreporter: Any) -> None:
    shots = sorted(ARTIFACTS.glob("*.png")) if ARTIFACTS.exists() else []
    if shots:
        terminalreporter.write_line(f"viewer screenshots: {ARTIFACTS} ({', '.join(p.name for p in shots)})")


def records(stored_run: StoredRun) -> list[dict[str, Any]]:
    """Every episode record as the JSONL export gives it."""
    result = arena("export", stored_run.run_id, "--db", str(stored_run.db), "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]
