"""The run summary in the HTML report, read as a person reads it: the overview's tables say what
`arena report` says (the same summary, parsed from `arena report --json`, rendered by the terminal
report, cell for cell), the plots draw the marks the figures call for, and say so when a figure is
missing, and the paired comparison calls a real difference and none where there is none."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from rich.console import Group as RichGroup
from rich.table import Table
from rich.text import Text

from arena.metrics import Comparison, Summary
from arena.report import render, render_compare
from tests.viewer.conftest import Browser, StoredRun, arena, ledger_runs, report_json, report_site, screenshot

READ_TABLES = """(selector) => [...document.querySelectorAll(selector)].map((t) => ({
  title: t.dataset.title,
  headers: [...t.querySelectorAll("thead th")].map((th) => th.innerText.trim()),
  rows: [...t.querySelectorAll("tbody tr")].map((tr) => [...tr.children].map((td) => td.innerText.trim())),
  values: [...t.querySelectorAll("tbody tr")].map((tr) => [...tr.children].map((td) => td.dataset.value ?? null)),
}))"""


def terminal_tables(parts: list[Any]) -> dict[str, dict[str, Any]]:
    """The terminal report's tables by title: headers and the plain text of every cell."""
    found = {}
    for part in parts:
        table = part.renderables[0] if isinstance(part, RichGroup) else part
        if not isinstance(table, Table):
            continue
        plain = [[c.plain if isinstance(c, Text) else str(c) for c in col.cells] for col in table.columns]
        title = table.title.plain if isinstance(table.title, Text) else str(table.title)
        found[title] = {"headers": [c.header.plain if isinstance(c.header, Text) else str(c.header)
                                    for c in table.columns],
                        "rows": [list(r) for r in zip(*plain, strict=True)]}
    return found


def page_tables(page: Any, selector: str = "table.figures") -> dict[str, dict[str, Any]]:
    return {t["title"]: t for t in page.evaluate(READ_TABLES, selector)}


def assert_same_tables(terminal: dict[str, dict[str, Any]], html: dict[str, dict[str, Any]]) -> None:
    """Every terminal table is in the page, with the same columns (the page may add unnamed ones,
    links and bars) and the same text in every cell, row for row."""
    assert terminal
    for title, want in terminal.items():
        assert title in html, f"{title!r} not in the page (it has {sorted(html)})"
        got = html[title]
        named = [i for i, head in enumerate(got["headers"]) if head]
        assert [got["headers"][i] for i in named] == want["headers"], title
        assert [[row[i] for i in named] for row in got["rows"]] == want["rows"], title


def test_the_overview_says_what_the_terminal_and_json_reports_say(plotted: StoredRun, plotted_site: Path,
                                                                  stored_run: StoredRun, site: Path,
                                                                  browser: Browser) -> None:
    for run, report in ((plotted, plotted_site), (stored_run, site)):
        data = report_json(run.db, run.run_id)
        summary = Summary.model_validate(data)
        page = browser.open((report / "index.html").as_uri())
        html = page_tables(page)
        assert_same_tables(terminal_tables(render(summary)), html)
        assert page.locator("#run-title").inner_text() == render(summary)[0].plain
        # The figures behind the text are the JSON's, to the last bit.
        levels = html["Success by level"]
        for row, values in zip(levels["rows"], levels["values"], strict=True):
            for level, value in zip(summary.levels, values[1:], strict=True):
                group = summary.group(row[0], level)
                assert value is None if group is None else float(value) == group.success.value


def test_one_row_per_family_when_there_are_several(tmp_path: Path, browser: Browser) -> None:
    stored = arena("run", "--agents", "oracle,random", "--families", "files,helpdesk", "--seeds", "0-1",
                   "--trials", "2", "--sandbox", "process", "--unsafe-local", "--db", str(tmp_path / "f.db"),
                   "--run-id", "two-families", "--quiet")
    assert stored.returncode == 0, stored.stderr
    out = report_site(tmp_path / "f.db", tmp_path / "report", "two-families")
    data = report_json(tmp_path / "f.db", "two-families")
    page = browser.open((out / "index.html").as_uri())
    title = "Reliability: pass^k (all k trials succeed)"
    assert len(page_tables(page)[title]["rows"]) == len(data["by_level"]) == 2
    page.check("#per-family")
    table = page_tables(page)[title]
    assert table["headers"][:3] == ["agent", "level", "family"]
    assert [r[:3] for r in table["rows"]] == [[g["agent"], g["level"], g["family"]] for g in data["by_family"]]
    column = table["headers"].index("pass^2")
    assert [float(v[column]) for v in table["values"]] == [g["reliability"]["pass_hat_k"]["2"]["value"]
                                                           for g in data["by_family"]]


def marks(page: Any, plot: str, selector: str) -> list[dict[str, Any]]:
    """The data attributes of a plot's marks."""
    return page.evaluate(
        "([plot, sel]) => [...document.querySelectorAll(`.plot-slot[data-plot='${plot}'] ${sel}`)]"
        ".map((e) => Object.assign({}, e.dataset))", [plot, selector])


def test_the_plots_draw_the_summary(plotted: StoredRun, plotted_site: Path, browser: Browser) -> None:
    data = report_json(plotted.db, plotted.run_id)
    summary = Summary.model_validate(data)
    page = browser.open((plotted_site / "index.html").as_uri())
    agents, levels = summary.agents, summary.levels
    assert page.locator("#plot-legend .legend-key").all_inner_texts() == agents
    # Success by level: a group of bars per level, a bar per agent in each, each with its interval.
    assert [g["group"] for g in marks(page, "success_by_level", "g.bar-group")] == levels
    bars = marks(page, "success_by_level", "rect.bar")
    assert sorted((b["agent"], b["level"]) for b in bars) == sorted((a, lv) for a in agents for lv in levels)
    for b in bars:
        assert float(b["value"]) == summary.group(b["agent"], b["level"]).success.value  # type: ignore[union-attr]
    assert page.locator(".plot-slot[data-plot='success_by_level'] .ci").count() == len(bars)
    # pass^k: one line per agent and level, a point per k.
    lines = marks(page, "pass_hat_k", "path.line")
    assert sorted((x["agent"], x["level"]) for x in lines) == sorted((a, lv) for a in agents for lv in levels)
    assert len(marks(page, "pass_hat_k", "circle.point")) == len(lines) * 3
    # Cost against success: a frontier per level, the dominated agents drawn as such.
    assert len(marks(page, "cost_frontier", "path.frontier")) == len(levels)
    drawn = {(p["agent"], p["level"]): p["dominated"] == "1" for p in marks(page, "cost_frontier", "circle.point")}
    assert drawn == {(p.agent, p.level): p.dominated for p in summary.frontier}
    assert {a for (a, _), d in drawn.items() if d} == {"pricey", "steady"}
    labels = page.locator(".plot-slot[data-plot='cost_frontier'] text.point-label.dominated").all_text_contents()
    assert sorted(labels) == ["pricey (dominated)"] * 2 + ["steady (dominated)"] * 2
    # Time horizon: the fitted curve of every agent and level, and its 50% horizon where it is on the axis.
    fits = marks(page, "time_horizon", "path.fit")
    assert sorted((f["agent"]) for f in fits) == sorted(h.agent for h in summary.horizons if h.status == "ok")
    assert len(fits) == 8 and len(marks(page, "time_horizon", "line.h50")) == 8
    text = page.locator(".plot-slot[data-plot='time_horizon'] ul.horizons").first.inner_text()
    sharp = summary.horizon("sharp", "copilot")
    assert sharp is not None and sharp.h50 is not None and f"sharp 50% at {round(sharp.h50)}m" in text
    # Reflection: a bar per agent and measured figure; faults: with and without, per agent and level.
    reflection = marks(page, "reflection", "rect.bar")
    measured = {(g.agent, name) for g in summary.by_agent for name in ("recovery", "corrected_at_once",
                                                                          "blind_repeat", "verified")
                if getattr(g.reflection, name).value is not None}
    assert {(b["agent"], b["metric"]) for b in reflection} == measured
    faulted = marks(page, "faults", "rect.bar")
    assert sorted((b["agent"], b["level"], b["faults"]) for b in faulted) == sorted(
        (a, lv, f) for a in agents for lv in levels for f in ("with", "without"))
    pricey = summary.group("pricey", "agent").reliability.faults  # type: ignore[union-attr]
    shown = next(b for b in faulted if b["agent"] == "pricey" and b["level"] == "agent" and b["faults"] == "with")
    assert pricey is not None and float(shown["value"]) == pricey.with_faults.value
    assert page.locator(".plot-note").count() == 0  # nothing missing in this run
    print(f"overview screenshot: {screenshot(page, 'overview-plots')}")


def test_plots_say_what_is_missing(stored_run: StoredRun, site: Path, tmp_path: Path, browser: Browser) -> None:
    one = tmp_path / "one.db"
    stored = arena("run", "--agents", "oracle", "--families", "files", "--seeds", "0-3", "--sandbox", "process",
                   "--unsafe-local", "--db", str(one), "--run-id", "one", "--quiet")
    assert stored.returncode == 0, stored.stderr
    page = browser.open((report_site(one, tmp_path / "report", "one") / "index.html").as_uri())
    note = {name: page.locator(f".plot-slot[data-plot='{name}'] .plot-note").all_inner_texts()
            for name in ("success_by_level", "pass_hat_k", "cost_frontier", "time_horizon", "reflection", "faults")}
    assert note["pass_hat_k"] == ["pass^k needs several trials of each task: run with --trials 3 (this run has one "
                                  "per task)."]
    assert "No agent used a model" in note["cost_frontier"][0]
    assert "--faults 0,0.2" in note["faults"][0]
    assert note["success_by_level"] == note["time_horizon"] == note["reflection"] == []
    assert page.locator(".plot-slot[data-plot='success_by_level'] rect.bar").count() == 1
    horizon = page.locator(".plot-slot[data-plot='time_horizon']")
    assert horizon.locator("path.fit").count() == 0 and "every task succeeded" in horizon.inner_text()
    assert "nothing to compare" in page.locator("#comparison").inner_text()
    screenshot(page, "overview-one-agent")
    # The round-one run: one agent used a model (a frontier of one), no horizon could be fitted.
    page = browser.open((site / "index.html").as_uri())
    assert page.locator(".plot-slot[data-plot='cost_frontier'] circle.point").count() == 3  # markup, each level
    assert page.locator(".plot-slot[data-plot='time_horizon'] path.fit").count() == 0
    assert page.locator(".plot-slot[data-plot='faults'] rect.bar").count() > 0


def test_plots_stay_readable_with_eight_agents(tmp_path: Path, browser: Browser) -> None:
    db = tmp_path / "eight.db"
    ledger_runs("eight", db)
    page = browser.open((report_site(db, tmp_path / "report", "eight") / "index.html").as_uri())
    assert page.locator("#plot-legend .legend-key").count() == 8
    assert page.locator(".plot-slot[data-plot='success_by_level'] rect.bar").count() == 8
    assert page.locator(".plot-slot[data-plot='pass_hat_k'] path.line").count() == 8
    # Every mark lies inside its plot, and no plot needs a scroll bar at this width.
    outside = page.evaluate("""() => [...document.querySelectorAll('#plots svg.plot')].flatMap((svg) => {
      const box = svg.getBoundingClientRect();
      return [...svg.querySelectorAll('rect, circle, path, line, text')].filter((e) => {
        const b = e.getBoundingClientRect();
        return b.left < box.left - 1 || b.top < box.top - 1 || b.right > box.right + 1 || b.bottom > box.bottom + 1;
      }).map((e) => e.outerHTML.slice(0, 80));
    })""")
    assert outside == []
    assert page.evaluate("[...document.querySelectorAll('.plot-body')].filter((b) => b.scrollWidth > b.clientWidth "
                         "+ 1).length") == 0
    screenshot(page, "overview-eight-agents")


def test_the_comparison_calls_a_real_difference_and_no_other(plotted: StoredRun, plotted_site: Path,
                                                            browser: Browser) -> None:
    cli = arena("compare", "--run", plotted.run_id, "--db", str(plotted.db), "--json")
    assert cli.returncode == 0, cli.stderr
    assert json.loads((plotted_site / "comparison.json").read_text()) == json.loads(cli.stdout)
    comparison = Comparison.model_validate_json(cli.stdout)
    page = browser.open((plotted_site / "index.html").as_uri())
    pairs = page_tables(page, "#t-pairs")["Pairs: success on the same tasks"]["rows"]
    verdicts = {(a, b, level): verdict for a, b, level, _, _, _, verdict, _ in pairs}
    assert len(pairs) == 6 * 2  # every pair of four agents, at both levels
    assert verdicts[("sharp", "pricey", "agent")] == verdicts[("sharp", "pricey", "copilot")] == "sharp better"
    assert verdicts[("steady", "twin", "agent")] == verdicts[("steady", "twin", "copilot")] == "no clear difference"
    # Each pair's tables are `arena compare`'s, cell for cell; two that play alike differ on nothing.
    for i, pair in enumerate(comparison.pairs):
        page.select_option("#pair-picker", str(i))
        expect(page.locator(".pair-title")).to_have_text(f"{pair.a.label} vs {pair.b.label}")
        shown = page_tables(page, ".pair-detail table.figures")
        assert_same_tables(terminal_tables(render_compare(Comparison(
            sides=comparison.sides, alpha=comparison.alpha, k=comparison.k, pairs=[pair]))), shown)
        if {pair.a.label, pair.b.label} == {"steady", "twin"}:
            called = [r for t in shown.values() for r in t["rows"] if r[-1] != "no clear difference"]
            assert called == [], called
    page.locator("#t-pairs tbody tr", has_text="pricey").filter(has_text="twin").first.locator("a").click()
    expect(page.locator(".pair-title")).to_have_text("twin vs pricey")
    assert page.locator(".pair-detail svg.diff-bar .ci.called").count() >= 1
    screenshot(page, "comparison")
    assert page.locator("nav a", has_text="Comparison").get_attribute("href") == "index.html#comparison"


def test_two_runs_compare_their_agents(tmp_path: Path, browser: Browser) -> None:
    db = tmp_path / "runs.db"
    ledger_runs("before-after", db)
    page = browser.open((report_site(db, tmp_path / "report", "before", "after") / "index.html").as_uri())
    pairs = page_tables(page, "#t-pairs")["Pairs: success on the same tasks"]["rows"]
    # each agent against itself in the other run: `model` improved, `other` played the same tasks alike
    assert [(a, b, verdict) for a, b, _, _, _, _, verdict, _ in pairs] == [
        ("before:model", "after:model", "after:model better"), ("before:other", "after:other", "no clear difference")]
    assert [r[4] for r in pairs][1] == "+0 [+0,+0]"
