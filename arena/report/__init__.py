"""Reports of stored runs. Every report reads one summary (`arena.metrics.summary`), so the
terminal tables, `arena report --json` and the HTML report never disagree.

- `print_report(store, run_id, console, *, options=...)`: the terminal report;
- `report_json(store, run_id, *, options=...)`: the summary as JSON (plus the flat `aggregates`);
- `print_compare(store, names, console, ...)` / `render_compare(comparison)`: paired comparisons;
- `runs_table(runs)`: the stored runs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console, RenderableType

from arena.metrics import Comparison, Summary, SummaryOptions, build_summary, compare
from arena.metrics.legacy import flat
from arena.report.comparison import render_compare
from arena.report.terminal import render, runs_table
from arena.store import Store

__all__ = ["print_compare", "print_report", "render", "render_compare", "report_data", "report_json",
           "runs_table", "summary_data"]


def summary_data(summary: Summary) -> dict[str, Any]:
    """The JSON object of a summary: the summary itself, plus the flat per (agent, family, level)
    `aggregates` and the run's id, status and counts that earlier readers use."""
    data = summary.model_dump(mode="json")
    assert not set(data) & {"run_id", "status", "episodes", "done", "aggregates"}
    run = summary.runs[0] if summary.runs else None
    legacy = {
        "run_id": run.id if run else None,
        "status": run.status if run else None,
        "episodes": sum(r.episodes for r in summary.runs),
        "done": sum(r.done for r in summary.runs),
        "aggregates": [flat(g).model_dump(mode="json") for g in summary.by_family],
    }
    return {**legacy, **data}


def report_data(store: Store, run_id: str | Sequence[str], *, options: SummaryOptions | None = None) -> dict[str, Any]:
    return summary_data(build_summary(store, run_id, options))


def report_json(store: Store, run_id: str | Sequence[str], *, options: SummaryOptions | None = None) -> str:
    return json.dumps(report_data(store, run_id, options=options), indent=2)


def print_report(
    store: Store, run_id: str | Sequence[str], console: Console | None = None, *,
    options: SummaryOptions | None = None, summary: Summary | None = None,
) -> Summary:
    """Print the terminal report of a stored run (or several) and return the summary behind it."""
    console = console or Console()
    summary = summary or build_summary(store, run_id, options)
    _print(console, render(summary))
    return summary


def print_compare(
    store: Store, names: Sequence[str], console: Console | None = None, *, run_id: str | None = None,
    options: SummaryOptions | None = None, alpha: float = 0.05,
) -> Comparison:
    """Print the paired comparison of the named sides (see `arena.metrics.sides`) and return it."""
    console = console or Console()
    comparison = compare(store, list(names), run_id=run_id, options=options, alpha=alpha)
    _print(console, render_compare(comparison))
    return comparison


def _print(console: Console, parts: list[RenderableType]) -> None:
    for part in parts:
        console.print(part)
        console.print()
