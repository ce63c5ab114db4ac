"""The static report opened from file:// in headless Chromium, used as a person would: the pages
load without console errors, filters narrow the episode table, a trajectory shows its steps, the
side-by-side page shows both episodes, and nothing an agent wrote runs as code."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

from playwright.sync_api import expect

from arena.store import Store, StoredEpisode
from arena.viewer import build_site
from tests.viewer.agents import HOSTILE_ANSWER, HOSTILE_MESSAGE, HOSTILE_OUTPUT
from tests.viewer.conftest import Browser, StoredRun, arena, screenshot


def number_of(episodes: list[StoredEpisode], **want: object) -> int:
    return next(i for i, e in enumerate(episodes) if all(getattr(e.key, k) == v for k, v in want.items()))


def test_overview_shows_the_summary_per_agent_level_and_family(site: Path, stored_run: StoredRun,
                                                                browser: Browser) -> None:
    page = browser.open(site.as_uri() + "/index.html")
    assert page.locator("#runs tbody tr").count() == 1
    assert page.locator("#summary").get_attribute("data-state") == "present"  # the documented command writes it
    outcomes = page.locator("#t-outcomes tbody tr")
    assert outcomes.count() == 9  # 3 agents x 3 levels, one family
    oracle = outcomes.filter(has_text="oracle").filter(has_text="worker")
    assert "8/0/0" in oracle.inner_text() and "100% [" in oracle.inner_text()  # 2 seeds x 2 fault rates x 2 trials
    # Sorting by success puts the oracle's rows (100%) last, then first.
    page.locator("#t-outcomes thead button", has_text="success").click()
    assert "oracle" not in outcomes.first.inner_text()
    page.locator("#t-outcomes thead button", has_text="success").click()
    assert "oracle" in outcomes.first.inner_text()
    assert page.locator(".plot-slot").count() == 6 and page.locator(".plot-slot svg.plot").count() >= 5
    print(f"overview screenshot: {screenshot(page, 'overview')}")
    # A row's link opens its episodes in the table.
    oracle.locator("a", has_text="episodes").click()
    page.wait_for_selector("#episodes[data-loaded='complete']")
    assert page.locator("#table-status").get_attribute("data-matches") == "8"
    assert all("oracle" in t and "worker" in t for t in page.locator("#episodes tbody tr").all_inner_texts())


def test_without_a_summary_the_overview_counts_what_is_stored(stored_run: StoredRun, tmp_path: Path,
                                                              browser: Browser) -> None:
    out = tmp_path / "report"
    build_site(Store(stored_run.db, read_only=True), [stored_run.run_id], out)  # no summary
    page = browser.open((out / "index.html").as_uri())
    assert "No run summary beside this site" in page.locator("#summary-state").inner_text()
    by_level = page.locator("#by-level tbody tr")
    assert by_level.count() == 9  # 3 agents x 3 levels
    assert "100.0%" in by_level.filter(has_text="oracle").filter(has_text="worker").inner_text()
    page.locator("#by-level thead button", has_text="success").click()
    assert "oracle" not in by_level.first.inner_text()
    page.locator("#by-level thead button", has_text="success").click()
    assert "oracle" in by_level.first.inner_text()
    assert page.locator(".plot-slot .empty", has_text="waiting for a summary").count() == 6


def test_filters_search_and_pages_narrow_the_episode_table(site: Path, stored_run: StoredRun,
                                                           browser: Browser) -> None:
    episodes = stored_run.store().episodes(stored_run.run_id)
    page = browser.open(site.as_uri() + "/episodes.html")
    table = page.locator("#episodes")
    page.wait_for_selector("#episodes[data-loaded='complete']")
    status = page.locator("#table-status")
    assert status.get_attribute("data-matches") == str(len(episodes)) and "72 episodes" in status.inner_text()
    assert table.locator("tbody tr").count() == 50  # the first page
    page.select_option("select[name='outcome']", "fail")
    fails = sum(e.result is not None and e.result.outcome == "fail" for e in episodes)
    assert status.get_attribute("data-matches") == str(fails)
    page.select_option("select[name='level']", "copilot")
    page.select_option("select[name='agent']", "random")
    rows = table.locator("tbody tr")
    wanted = [e for e in episodes if e.key.agent == "random" and e.key.level == "copilot"]
    assert rows.count() == len(wanted) == 8
    assert all("random" in t and "copilot" in t and "fail" in t for t in rows.all_inner_texts())
    page.select_option("select[name='faults']", "met")
    met = int(status.get_attribute("data-matches"))
    assert 0 < met < len(wanted)
    screenshot(page, "episodes-filtered")
    page.click("button:text('reset')")
    page.fill("input[name='q']", "no_takeover")  # search finds a failed check by name
    assert int(status.get_attribute("data-matches")) >= 8
    assert all("no_takeover" in t for t in table.locator("tbody tr").all_inner_texts())
    page.fill("input[name='q']", "")
    page.fill("input[name='time_max']", "0")
    assert status.get_attribute("data-matches") == "0" and "No episode matches" in table.inner_text()
    page.fill("input[name='time_max']", "")
    page.click("nav.pager button:text('next')")
    assert page.locator("#page-of").inner_text() == "page 2 of 2" and table.locator("tbody tr").count() == 22
    assert "page=2" in page.url  # the address keeps the view: back from an episode returns here
    # Sorting by score descending puts successes first.
    page.locator("#episodes thead button", has_text="score").click()
    page.locator("#episodes thead button", has_text="score").click()
    assert "success" in table.locator("tbody tr").first.inner_text()


def test_the_trajectory_page_shows_the_steps_of_a_known_episode(site: Path, stored_run: StoredRun,
                                                                 browser: Browser) -> None:
    store = stored_run.store()
    episodes = store.episodes(stored_run.run_id)
    number = number_of(episodes, agent="random", level="copilot", faults=0.3, trial=0, seed=0)
    ep = episodes[number]
    steps = store.steps(stored_run.run_id, ep.key)
    page = browser.open(site.as_uri() + f"/episode.html#{stored_run.run_id}/{number}")
    assert page.locator("h1").inner_text().startswith(f"Episode {number}: random on files (copilot)")
    assert page.locator(".banner").get_attribute("data-outcome") == ep.result.outcome
    shown = page.locator("#steps > li.step")
    assert shown.count() == len(steps)
    for i, step in enumerate(steps):
        text = shown.nth(i).inner_text()
        assert f"step {step.index}" in text
        for call in step.action.tool_calls:
            assert call.name in text
    assert page.locator("#steps li.step.supervisor").count() == sum(s.actor == "supervisor" for s in steps)
    faults = sum(r.fault is not None for s in steps for r in s.results)
    assert page.locator(".badge.fault").count() == faults
    checks = page.locator("#checks tbody tr")
    assert checks.count() == len(ep.result.checks)
    assert page.locator("#checks tr.fail", has_text="no_takeover").count() == 1
    # The checks come after the steps.
    assert page.evaluate("document.querySelector('#steps').compareDocumentPosition("
                         "document.querySelector('#checks')) & Node.DOCUMENT_POSITION_FOLLOWING") > 0
    assert page.locator("#siblings tbody tr").count() == sum(
        e.key.seed == ep.key.seed and e.key.split == ep.key.split for e in episodes) - 1
    print(f"trajectory screenshot: {screenshot(page, 'trajectory')}")
    # The neighbour link moves on without a reload.
    page.click(".neighbours a.next")
    page.wait_for_selector(f"h1:text-matches('^Episode {number + 1}:')")


def test_long_output_is_folded_and_agent_text_stays_text(site: Path, stored_run: StoredRun,
                                                         browser: Browser) -> None:
    episodes = stored_run.store().episodes(stored_run.run_id)
    number = number_of(episodes, agent="markup", level="agent", faults=0.0, trial=0, seed=0)
    page = browser.open(site.as_uri() + f"/episode.html#{stored_run.run_id}/{number}")
    text = page.locator("#steps").inner_text()
    assert HOSTILE_MESSAGE in text and HOSTILE_OUTPUT in text and HOSTILE_ANSWER in text
    assert page.evaluate("window.pwned") is None
    assert page.locator("#steps img, #steps script").count() == 0
    fold = page.locator("#steps details.fold").first
    assert re.search(r"show all 20\d lines", fold.inner_text()) and "\n200" not in fold.inner_text()
    fold.locator("summary").click()
    expect(fold).to_contain_text("199\n200")  # filled in when opened
    facts = page.locator(".facts").inner_text()
    assert "240 in, 60 out" in facts and "$0.0008" in facts


def test_side_by_side_shows_both_episodes_step_against_step(site: Path, stored_run: StoredRun,
                                                           browser: Browser) -> None:
    store = stored_run.store()
    episodes = store.episodes(stored_run.run_id)
    a = number_of(episodes, agent="oracle", level="worker", faults=0.3, trial=0, seed=1)
    b = number_of(episodes, agent="random", level="worker", faults=0.3, trial=0, seed=1)
    steps_a = store.steps(stored_run.run_id, episodes[a].key)
    steps_b = store.steps(stored_run.run_id, episodes[b].key)
    run = stored_run.run_id
    page = browser.open(site.as_uri() + f"/compare.html#a={run}%2F{a}&b={run}%2F{b}")
    assert page.locator("#diff-line").inner_text() == "A succeeded; B failed."
    assert page.locator(".banner").count() == 2
    pairs = page.locator("#pairs > .pair")
    assert pairs.count() == max(len(steps_a), len(steps_b))
    first = pairs.first.inner_text()
    assert steps_a[0].action.tool_calls[0].name in first and steps_b[0].action.tool_calls[0].name in first
    assert page.locator("#checks-compared tr.differs").count() >= 1
    assert page.locator("#difference tr.differs", has_text="outcome").count() == 1
    screenshot(page, "side-by-side")
    # The trajectory page's "side by side" link leads here, and the picker swaps B.
    page = browser.open(site.as_uri() + f"/episode.html#{run}/{a}")
    page.locator("details.siblings > summary").click()  # many siblings: folded at first
    page.locator("#siblings a.side-by-side").first.click()
    page.wait_for_selector("#pairs")
    assert "compare.html#a=" in page.url
    # Two rows ticked in the table make the same comparison.
    page = browser.open(site.as_uri() + "/episodes.html")
    page.wait_for_selector("#episodes[data-loaded='complete']")
    page.fill("input[name='q']", 'worker "seed 1" f0.3 t0')
    boxes = page.locator("#episodes tbody input[type='checkbox']")
    assert boxes.count() == 3  # oracle, random, markup
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.click("#compare-selected")
    page.wait_for_selector("#pairs")
    assert page.locator(".side-head").count() == 2


def test_a_summary_beside_the_site_fills_the_summary_section(stored_run: StoredRun, site: Path, tmp_path: Path,
                                                             browser: Browser) -> None:
    out = tmp_path / "report"
    out.mkdir()
    shutil.copyfile(site / "summary.json", out / "summary.json")
    build_site(Store(stored_run.db, read_only=True), [stored_run.run_id], out)  # no summary given: the file is read
    page = browser.open((out / "index.html").as_uri())
    assert page.locator("#summary").get_attribute("data-state") == "present"
    assert page.locator("#t-levels tbody tr").count() == 3 and page.locator("#comparison .notice").count() == 1
    # A summary.json the arena did not write: said so, and shown as data.
    (out / "summary.json").write_text(json.dumps({"schema_version": 1, "by_level": [{"agent": "oracle"}]}))
    build_site(Store(stored_run.db, read_only=True), [stored_run.run_id], out)
    page = browser.open((out / "index.html").as_uri())
    assert "This summary lacks runs, options" in page.locator("#summary-state").inner_text()
    slot = page.locator(".plot-slot[data-plot='success_by_level']")
    assert "drawn from summary.by_level, but the summary lacks runs" in slot.inner_text()
    frontier = page.locator(".plot-slot[data-plot='cost_frontier']")
    assert "summary.frontier is not in this summary" in frontier.inner_text()
    assert page.locator("#by-level tbody tr").count() == 9  # the stored counts instead
    page.locator("#raw-summary summary").click()
    expect(page.locator("#raw-summary pre.json")).to_contain_text('"agent": "oracle"')


def test_the_site_needs_no_network_and_refuses_foreign_folders(site: Path, stored_run: StoredRun,
                                                              tmp_path: Path, browser: Browser) -> None:
    for html in site.glob("*.html"):
        text = html.read_text()
        assert not re.search(r"(src|href)=\"(https?:)?//", text), html
    for script in [site / "assets" / "app.js", site / "assets" / "style.css"]:
        assert "http://" not in script.read_text() and "https://" not in script.read_text()
    # A copy of the folder opens anywhere: every path is relative.
    moved = tmp_path / "moved"
    shutil.copytree(site, moved)
    page = browser.open((moved / "episodes.html").as_uri())
    page.wait_for_selector("#episodes[data-loaded='complete']")
    assert page.locator("#episodes tbody tr").count() == 50
    # A missing data file is an error in the console (so the checks for none are not idle).
    (moved / "data" / "rows" / "0000.js").unlink()
    browser.open((moved / "episodes.html").as_uri())
    assert any("data/rows/0000.js" in e for e in browser.take_errors())
    # An unknown or malformed episode id says so, and loads nothing outside the report.
    page = browser.open(moved.as_uri() + "/episode.html#../../etc/passwd")
    assert "No such episode" in page.locator("main").inner_text()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    result = arena("report", stored_run.run_id, "--db", str(stored_run.db), "--html", str(foreign))
    assert result.returncode == 2 and "new or empty folder" in result.stderr
    assert (foreign / "notes.txt").read_text() == "keep me" and not (foreign / "index.html").exists()
    # Building again over an earlier report replaces it.
    again = arena("report", stored_run.run_id, "--db", str(stored_run.db), "--html", str(moved))
    assert again.returncode == 0, again.stderr


def test_several_runs_in_one_report(stored_run: StoredRun, tmp_path: Path, browser: Browser) -> None:
    db = tmp_path / "copy.db"  # the session's store stays as it is
    with sqlite3.connect(stored_run.db) as source, sqlite3.connect(db) as copy:
        source.backup(copy)
    odd = "retry of 12/01: ü"  # a run id that cannot be a folder name
    later = arena("run", "--agents", "oracle", "--families", "files", "--seeds", "0", "--sandbox", "process",
                  "--unsafe-local", "--db", str(db), "--run-id", odd, "--quiet")
    assert later.returncode == 0, later.stderr
    out = tmp_path / "both"
    result = arena("report", stored_run.run_id, odd, "--db", str(db), "--html", str(out))
    assert result.returncode == 0, result.stderr
    page = browser.open((out / "index.html").as_uri())
    assert page.locator("#runs tbody tr").count() == 2
    assert page.locator("#t-outcomes tbody tr", has_text=odd).count() == 1  # rows per run (as run:agent)
    # one agent in each run: the runs' agents are compared
    assert page.locator("#t-pairs tbody tr").count() == 1
    table = browser.open((out / "episodes.html").as_uri())
    table.wait_for_selector("#episodes[data-loaded='complete']")
    table.select_option("select[name='run']", odd)
    assert table.locator("#table-status").get_attribute("data-matches") == "1"
    table.locator("#episodes tbody a.ep-link").first.click()
    table.wait_for_selector("#steps")
    assert odd in table.locator(".key").inner_text()
    # The same task played in the other run is one of its siblings.
    assert table.locator("#siblings tbody tr", has_text=stored_run.run_id).count() >= 1
    both = arena("report", stored_run.run_id, odd, "--db", str(db))  # the terminal report takes several too
    assert both.returncode == 0 and odd in both.stdout, both.stderr


def test_a_large_report_shows_progress_on_a_terminal(stored_run: StoredRun, tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from arena.viewer import build_site

    screen = io.StringIO()
    build_site(stored_run.store(), [stored_run.run_id], tmp_path / "r",
               console=Console(file=screen, force_terminal=True, width=100))
    shown = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", screen.getvalue())
    assert "report" in shown and "72/72 episodes" in shown
