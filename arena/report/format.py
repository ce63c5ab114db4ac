"""Cells of the terminal report: rates with intervals, money, durations. Every cell is a `Text`,
never a markup string, so names a user chose (`openai:ok`, `[bold]`) show exactly as written."""

from __future__ import annotations

import math

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from arena.metrics.stats import Rate

DASH = "—"
FEW = "*"  # marks a figure that rests on fewer tasks than the report's minimum


# Columns of names and sentences may wrap; figures never do (a figure cut in two misleads).
WRAPPING = frozenset({"agent", "family", "check", "what blocks the next level", "dominated by", "verdict"})


def table(title: str, *columns: str | tuple[str, str], caption: str | None = None) -> Table:
    """A compact table: no vertical rules, one space between columns, so more columns fit in 80."""
    t = Table(title=Text(title, style="bold"), title_justify="left", min_width=len(title), box=box.SIMPLE_HEAD,
              pad_edge=False,
              show_edge=False, collapse_padding=True, header_style="bold",
              caption=Text(caption, style="dim") if caption else None, caption_justify="left")
    for col in columns:
        name, justify = col if isinstance(col, tuple) else (col, "left")
        wraps = name in WRAPPING
        t.add_column(Text(name), justify=justify, overflow="fold", no_wrap=not wraps)  # type: ignore[arg-type]
    return t


def family_label(family: str | None) -> Text:
    """A family as the terminal shows it: an import path `pkg.module:Class` by its class name."""
    if family is None:
        return Text("all")
    return Text(family.rsplit(":", 1)[-1] if ":" in family else family)


def noted(part: RenderableType) -> RenderableType:
    """A table with its caption as a line of its own below it, wrapped to the console rather than
    squeezed into the table's width."""
    if isinstance(part, Table) and part.caption is not None:
        caption, part.caption = part.caption, None
        return Group(part, caption)
    return part


def name(text: str | None) -> Text:
    return Text(text if text is not None else "all")


def pct(x: float | None, digits: int = 0) -> str:
    if x is None or math.isnan(x):
        return DASH
    return f"{100 * x:.{digits}f}%"


def rate(r: Rate | None, *, interval: bool = True, good: float | None = 0.8) -> Text:
    """`93% [81-98]` (value, 95% interval), coloured by whether the lower bound clears `good`."""
    if r is None or r.value is None:
        return Text(DASH)
    style = ""
    if good is not None and r.low is not None:
        style = "green" if r.low >= good else "yellow" if r.value >= 0.5 else "red"
    text = Text(pct(r.value), style=style)
    if interval and r.low is not None and r.high is not None:
        text.append(f" [{100 * r.low:.0f}-{100 * r.high:.0f}]")
    if r.few:
        text.append(FEW, style="dim")
    return text


def number(x: float | None, digits: int = 1, unit: str = "") -> str:
    return DASH if x is None else f"{x:,.{digits}f}{unit}"


def money(x: float | None) -> str:
    if x is None:
        return "unknown"
    if x == 0:
        return "$0"
    return f"${x:.4f}" if x < 1 else f"${x:,.2f}"


def seconds(x: float | None) -> str:
    if x is None:
        return DASH
    if x < 120:
        return f"{x:.1f}s"
    return f"{x / 60:.1f}m" if x < 7200 else f"{x / 3600:.1f}h"


def minutes(x: float | None) -> str:
    if x is None:
        return DASH
    if x < 1:
        return f"{x * 60:.0f}s"
    if x < 120:
        return f"{x:.1f}m" if x < 10 else f"{x:.0f}m"
    return f"{x / 60:.1f}h"


def tokens(x: float | None) -> str:
    if x is None:
        return DASH
    if x >= 10_000_000:
        return f"{x / 1_000_000:.0f}M"
    if x >= 100_000:
        return f"{x / 1000:.0f}k"
    return f"{x:,.0f}"
