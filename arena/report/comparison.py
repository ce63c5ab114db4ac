"""The terminal view of a paired comparison: per pair of sides, per level (and family), each
metric's two means, the difference with its 95% interval, the p-value and the verdict."""

from __future__ import annotations

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from arena.metrics.paired import CompareRow, Comparison, PairComparison
from arena.report.format import DASH, family_label, money, noted, number, table

RATES = ("success", "score")


def _in_cents(row: CompareRow) -> bool:
    return row.metric == "cost" and max(abs(row.a or 0), abs(row.b or 0)) < 1


def _value(row: CompareRow, x: float | None) -> str:
    metric = row.metric
    if x is None:
        return DASH
    if metric in RATES or metric.startswith("pass^"):
        return f"{100 * x:.0f}%"
    if metric == "cost":
        return f"{100 * x:.2f}¢" if _in_cents(row) else money(x)
    if metric == "seconds":
        return f"{x:.1f}s"
    return number(x)


def _diff(row: CompareRow) -> str:
    if row.diff is None:
        return DASH
    low, high = row.low or 0.0, row.high or 0.0
    if row.metric in RATES or row.metric.startswith("pass^"):
        return f"{100 * row.diff:+.0f} [{100 * low:+.0f},{100 * high:+.0f}]"
    if _in_cents(row):
        return f"{100 * row.diff:+.2f} [{100 * low:+.2f},{100 * high:+.2f}]"
    return f"{row.diff:+.1f} [{low:+.1f},{high:+.1f}]"


def _p(row: CompareRow) -> str:
    p = row.p_adjusted if row.p_adjusted is not None else row.p
    if p is None:
        return DASH
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def pair_tables(pair: PairComparison, alpha: float) -> list[Table]:
    """One table per level: the all-families rows first, then per family."""
    tables = []
    for level in dict.fromkeys(r.level for r in pair.rows):
        rows = [r for r in pair.rows if r.level == level]
        tasks = max((r.tasks for r in rows if r.family is None), default=0)
        several = any(r.family is not None for r in rows)
        t = table(f"{level}: A = {pair.a.label} vs B = {pair.b.label}, {tasks} paired tasks",
                  *(["family"] if several else []), "metric", ("A", "right"), ("B", "right"),
                  ("A-B [95% CI]", "right"), ("p", "right"), "verdict",
                  caption="means over paired tasks; differences of rates in points, of cost in cents (¢) below $1; "
                          "p: paired sign-flip test over tasks (exact McNemar for success with one trial per task), "
                          f"Holm-adjusted over families; a verdict needs p < {alpha:g}")
        for row in rows:
            style = "bold green" if row.winner else ""
            t.add_row(*([family_label(row.family)] if several else []), row.metric, _value(row, row.a),
                      _value(row, row.b), _diff(row), _p(row), Text(row.verdict, style=style))
        tables.append(t)
    return tables


def render_compare(comparison: Comparison) -> list[RenderableType]:
    parts: list[RenderableType] = [noted(t) for p in comparison.pairs for t in pair_tables(p, comparison.alpha)]
    for note in comparison.notes:
        parts.append(Text(f"note: {note}", style="yellow"))
    return parts
