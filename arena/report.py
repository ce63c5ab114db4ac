"""Reports of a stored run: a terminal table and machine-readable JSON."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from arena.metrics import Aggregate, aggregate
from arena.store import RunInfo, Store


def run_aggregates(store: Store, run_id: str) -> list[Aggregate]:
    return sorted(aggregate(store.episodes(run_id)), key=lambda a: (a.family, a.level, a.agent))


def report_json(store: Store, run_id: str) -> str:
    info = store.get_run(run_id)
    assert info is not None
    data: dict[str, Any] = {
        "run_id": run_id,
        "status": info.status,
        "episodes": info.episodes,
        "done": info.done,
        "aggregates": [a.model_dump(mode="json") for a in run_aggregates(store, run_id)],
    }
    return json.dumps(data, indent=2)


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _money(x: float | None) -> str:
    if x is None:
        return "unknown"
    return f"${x:.4f}" if x < 1 else f"${x:,.2f}"


def _rate_cell(a: Aggregate) -> Text:
    if a.success_rate is None:
        return Text("—")
    style = "green" if a.ci_low is not None and a.ci_low >= 0.8 else "yellow" if a.success_rate >= 0.5 else "red"
    return Text.assemble((_pct(a.success_rate), style), f" [{_pct(a.ci_low)}-{_pct(a.ci_high)}]")


def report_table(aggs: list[Aggregate], title: str) -> Table:
    trials = max((max(a.pass_hat_k, default=0) for a in aggs), default=0)
    levels = {a.level for a in aggs}
    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column("agent")
    table.add_column("family")
    if len(levels) > 1:
        table.add_column("level")
    table.add_column("ok/fail/err", justify="right")
    table.add_column("success [95% CI]")
    if trials > 1:
        table.add_column(f"pass^{trials}", justify="right")
    any_model = any(a.input_tokens or a.output_tokens for a in aggs)
    model_cols = ("tokens", "cost", "$/success") if any_model else ()
    for col in ("steps", "time", *model_cols):
        table.add_column(col, justify="right")
    for a in aggs:
        used_model = bool(a.input_tokens or a.output_tokens)
        row: list[str | Text] = [a.agent, a.family]
        if len(levels) > 1:
            row.append(a.level)
        row += [
            f"{a.successes}/{a.fails}/{a.errors}" + (f" +{a.pending}?" if a.pending else ""),
            _rate_cell(a),
        ]
        if trials > 1:
            row.append(_pct(a.pass_hat_k.get(trials)))
        row += [
            "—" if a.mean_steps is None else f"{a.mean_steps:.1f}",
            "—" if a.mean_seconds is None else f"{a.mean_seconds:.1f}s",
        ]
        if any_model:
            row += [
                f"{a.input_tokens + a.output_tokens:,}" if used_model else "—",
                _money(a.cost_usd) if used_model else "—",
                _money(a.cost_per_success) if used_model else "—",
            ]
        table.add_row(*row)
    return table


def print_report(store: Store, run_id: str, console: Console | None = None) -> None:
    console = console or Console()
    info = store.get_run(run_id)
    assert info is not None
    aggs = run_aggregates(store, run_id)
    console.print(report_table(aggs, f"Run {run_id} ({info.status}, {info.done}/{info.episodes} episodes done)"))
    if any(len(a.pass_hat_k) > 1 for a in aggs):
        console.print(pass_hat_table(aggs))
    errors = [(e.key.id, e.result.error) for e in store.episodes(run_id) if e.result and e.result.outcome == "error"]
    for key, err in errors[:5]:
        console.print(f"[red]error[/red] {key}: {err}")
    if len(errors) > 5:
        console.print(f"[red]… and {len(errors) - 5} more error episodes[/red]")


def pass_hat_table(aggs: list[Aggregate]) -> Table:
    """Reliability as k grows: an agent at 80% pass^1 may be far lower at pass^3."""
    ks = sorted({k for a in aggs for k in a.pass_hat_k})
    table = Table(title="Reliability: pass^k (all k trials succeed)", title_justify="left", header_style="bold")
    table.add_column("agent")
    table.add_column("family")
    for k in ks:
        table.add_column(f"pass^{k}", justify="right")
    for a in aggs:
        table.add_row(a.agent, a.family, *[_pct(a.pass_hat_k.get(k)) for k in ks])
    return table


def runs_table(runs: list[RunInfo]) -> Table:
    import datetime as dt

    table = Table(title="Runs", title_justify="left", header_style="bold")
    for col in ("run id", "created", "status", "done", "agents", "families", "sandbox"):
        table.add_column(col)
    for r in runs:
        cfg = r.config
        table.add_row(
            r.id,
            dt.datetime.fromtimestamp(r.created).strftime("%Y-%m-%d %H:%M"),
            r.status,
            f"{r.done}/{r.episodes}",
            ", ".join(cfg.get("agents", [])),
            ", ".join(cfg.get("families", [])),
            str(cfg.get("sandbox", {}).get("kind", "")),
        )
    return table
