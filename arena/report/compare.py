"""The terminal view of a paired comparison: per pair of sides, per level (and family), each
metric's two means, the difference with its 95% interval, the p-value and the verdict."""

from __future__ import annotations

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from arena.metrics.compare import CompareRow, Comparison, PairComparison
from arena.report.format import DASH, money, name, noted, number, table

RATES = ("success", "score")


def _value(metric: str, x: float | None) -> str:
    if x is None:
        return DASH
    if metric in RATES or metric.startswith("pass^"):
        return f"{100 * x:.0f}%"
    if metric == "cost":
        return money(x)
    if metric == "seconds":
        return f"{x:.1f}s"
    return number(x)


def _diff(row: CompareRow) -> str:
    if row.diff is None:
        return DASH
    if row.metric in RATES or row.metric.startswith("pass^"):
        return f"{100 * row.diff:+.0f} [{100 * (row.low or 0):+.0f},{100 * (row.high or 0):+.0f}]"
    if row.metric == "cost":
        return f"{row.diff:+.4f} [{row.low or 0:+.4f},{row.high or 0:+.4f}]"
    return f"{row.diff:+.1f} [{row.low or 0:+.1f},{row.high or 0:+.1f}]"


def _p(row: CompareRow) -> str:
    p = row.p_adjusted if row.p_adjusted is not None else row.p
    if p is None:
        return DASH
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def pair_table(pair: PairComparison, alpha: float) -> Table:
    levels = {r.level for r in pair.rows}
    tasks = max((r.tasks for r in pair.rows if r.family is None), default=0)
    cols: list[str | tuple[str, str]] = [*(["level"] if len(levels) > 1 else []), "family", "metric",
                                         ("A", "right"), ("B", "right"), ("A-B [95% CI]", "right"), ("p", "right"),
                                         "verdict"]
    t = table(f"A = {pair.a.label}  vs  B = {pair.b.label} (paired on {tasks} tasks)", *cols,
              caption=f"means over paired tasks; rates in points; p: paired sign-flip test over tasks (exact "
                      f"McNemar for success with one trial), Holm-adjusted over families; verdict at {alpha:g}")
    for row in pair.rows:
        style = "bold green" if row.winner else ""
        cells: list[Text | str] = [*([name(row.level)] if len(levels) > 1 else []), name(row.family), row.metric,
                                   _value(row.metric, row.a), _value(row.metric, row.b), _diff(row), _p(row),
                                   Text(row.verdict, style=style)]
        t.add_row(*cells)
    return t


def render_compare(comparison: Comparison) -> list[RenderableType]:
    parts: list[RenderableType] = [noted(pair_table(p, comparison.alpha)) for p in comparison.pairs]
    for note in comparison.notes:
        parts.append(Text(f"note: {note}", style="yellow"))
    return parts
