"""The terminal report of a summary: narrow tables (they fit 80 columns), one topic each.

Each table says in its caption what is a total and what is a mean; rates show a 95% interval over
tasks, and `*` marks a figure that rests on fewer tasks than the summary's minimum.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from arena.metrics.autonomy import LEVEL_ORDER
from arena.metrics.cost import CostStatus
from arena.metrics.episode import WHY_LABELS
from arena.metrics.groups import Group
from arena.metrics.summary import Summary
from arena.report.format import (
    DASH,
    FEW,
    family_label,
    minutes,
    money,
    name,
    noted,
    number,
    pct,
    rate,
    seconds,
    table,
    tokens,
)
from arena.store import RunInfo

MAX_K_COLUMNS = 4
MAX_ERRORS_SHOWN = 5


def render(summary: Summary, *, title: str | None = None) -> list[RenderableType]:
    """Every table of the report, in reading order (tables with nothing to show are left out)."""
    parts: list[RenderableType | None] = [
        Text(title or _title(summary), style="bold"),
        levels_table(summary),
        certification_table(summary),
        family_table(summary),
        copilot_table(summary),
        worker_table(summary),
        pass_k_table(summary),
        robustness_table(summary),
        reflection_table(summary),
        faults_table(summary),
        verification_table(summary),
        cost_table(summary),
        frontier_table(summary),
        horizon_table(summary),
        why_table(summary),
        checks_table(summary),
        *breakdown_tables(summary),
        errors_text(summary),
    ]
    return [noted(p) for p in parts if p is not None]


def _title(summary: Summary) -> str:
    runs = summary.runs
    private = sorted({r.private_split for r in runs if r.private_split})
    mark = f"; private split, salt {', '.join(private)}" if private else ""
    if len(runs) == 1:
        r = runs[0]
        return f"Run {r.id} ({r.status}, {r.done}/{r.episodes} episodes done{mark})"
    return f"Runs {', '.join(r.id for r in runs)} ({sum(r.done for r in runs)}/{sum(r.episodes for r in runs)} " \
           f"episodes done{mark})"


def _few_caption(summary: Summary, text: str) -> str:
    return f"{text}; {FEW} fewer than {summary.options.min_tasks} tasks"


def levels_table(summary: Summary) -> Table:
    levels = summary.levels
    t = table("Success by level", "agent", *levels,
              caption=_few_caption(summary, "success over scored episodes, 95% CI over tasks"))
    for agent in summary.agents:
        groups = [summary.group(agent, lv) for lv in levels]
        t.add_row(name(agent), *[rate(g.success) if g else Text(DASH) for g in groups])
    return t


def _k(summary: Summary) -> int:
    trials = max((g.reliability.trials for g in summary.by_level), default=0)
    return min(summary.options.gates.k, trials) if trials else 0


def family_table(summary: Summary) -> Table:
    k = _k(summary)
    several_levels = len(summary.levels) > 1
    several = len(summary.families) > 1
    cols: list[str | tuple[str, str]] = ["agent", *(["level"] if several_levels else []),
                                         *(["family"] if several else []), ("ok/fail/err", "right"), "success"]
    if k > 1:
        cols.append((f"pass^{k}", "right"))
    cols.append(("score", "right"))
    title = "Outcomes" + ("" if several else f" on {family_label(summary.families[0]) if summary.families else ''}")
    t = table(title, *cols, caption=_few_caption(
        summary, "ok/fail/err: episodes (totals; errors are the arena's failures, never the agent's); success with "
                 "its 95% CI over tasks; score: mean share of goal checks passed"))
    for g in summary.by_family:
        o = g.outcomes
        counts = f"{o.successes}/{o.fails}/{o.errors}" + (f" +{o.pending}?" if o.pending else "")
        row: list[Text | str] = [name(g.agent), *([name(g.level)] if several_levels else []),
                                 *([family_label(g.family)] if several else []), counts, rate(g.success)]
        if k > 1:
            row.append(rate(g.reliability.pass_hat_k.get(k), interval=False, good=None))
        row.append(pct(g.mean_score))
        t.add_row(*row)
    return t


def _level_rows(summary: Summary, level: str) -> Iterable[Group]:
    """A level's rows: per agent over every family, then per family when there are several."""
    several = len(summary.families) > 1
    for agent in summary.agents:
        overall = summary.group(agent, level)  # type: ignore[arg-type]
        if overall is None:
            continue
        yield overall
        if several:
            yield from (g for g in summary.by_family if g.agent == agent and g.level == level)


def copilot_table(summary: Summary) -> Table | None:
    if "copilot" not in summary.levels:
        return None
    several = len(summary.families) > 1
    t = table("Copilot: subgoals with a supervisor", "agent", *(["family"] if several else []), "self-done",
              ("rejected", "right"), ("help", "right"), ("taken over", "right"),
              caption="self-done: subgoals met by the agent, with no help and no takeover (95% CI); rejected "
                      "hand-ins, help and takeovers: means per episode")
    for g in _level_rows(summary, "copilot"):
        c = g.copilot
        if c is None or not c.episodes:
            continue
        t.add_row(name(g.agent), *([family_label(g.family)] if several else []), rate(c.self_done),
                  number(c.rejected_per_episode), number(c.interventions_per_episode), number(c.takeovers_per_episode))
    return t


def worker_table(summary: Summary) -> Table | None:
    if "worker" not in summary.levels:
        return None
    several = len(summary.families) > 1
    t = table("Worker: whole jobs alone", "agent", *(["family"] if several else []), "job success", "parts done",
              ("faults", "right"), "recovered",
              caption="job success, parts done: with their 95% CI; faults: injected faults met (total); recovered: "
                      "transient faults after which the tool worked")
    for g in _level_rows(summary, "worker"):
        w = g.worker
        if w is None or not w.jobs:
            continue
        t.add_row(name(g.agent), *([family_label(g.family)] if several else []), rate(w.job_success),
                  rate(w.parts_done, good=None), str(w.faults_met), rate(w.faults_recovered, interval=False, good=None))
    return t


def pass_k_table(summary: Summary) -> Table | None:
    trials = max((g.reliability.trials for g in summary.by_level), default=0)
    if trials < 2:
        return None
    ks = list(range(1, min(trials, MAX_K_COLUMNS) + 1))
    if trials not in ks:
        ks[-1] = trials
    t = table("Reliability: pass^k (all k trials succeed)", "agent", "level",
              *[(f"pass^{k}", "right") for k in ks], f"pass^{ks[-1]} [CI]",
              caption="the chance that k trials of a task all succeed (unbiased, mean over tasks)")
    for g in summary.by_level:
        hats = g.reliability.pass_hat_k
        t.add_row(name(g.agent), name(g.level), *[pct(hats[k].value) if k in hats else DASH for k in ks],
                  rate(hats.get(ks[-1]), good=0.6))
    return t


def robustness_table(summary: Summary) -> Table | None:
    rows = [g for g in summary.by_level if g.reliability.consistency is not None or g.reliability.faults
            or g.reliability.paraphrase]
    if not rows:
        return None
    t = table("Consistency and robustness", "agent", "level", ("consist.", "right"), "flips",
              "faults ratio", "wording", caption="consist.: mean (2p-1)^2 over tasks; flips: tasks whose trials "
              "disagree; faults ratio: success with faults / without; wording: tasks whose outcome depends on it")
    for g in rows:
        rel = g.reliability
        faults = rate(rel.faults.ratio, good=0.9) if rel.faults else Text(DASH)
        wording = rate(rel.paraphrase.sensitive, good=None) if rel.paraphrase else Text(DASH)
        t.add_row(name(g.agent), name(g.level), number(rel.consistency, 2), rate(rel.flips, good=None), faults,
                  wording)
    return t


def reflection_table(summary: Summary) -> Table | None:
    rows = [g for g in summary.by_level if g.reflection.episodes]
    if not rows:
        return None
    t = table("Reflection: its own errors", "agent", "level", ("errors", "right"), "recovered", "fixed next",
              ("blind", "right"), caption="errors, blind (the failed call repeated unchanged): totals; recovered: "
              "errors whose goal was reached later; fixed next: the next call was a different one")
    for g in rows:
        r = g.reflection
        t.add_row(name(g.agent), name(g.level), str(r.own_errors), rate(r.recovery, good=None),
                  rate(r.corrected_at_once, interval=False, good=None), str(r.blind_repeats))
    return t


def faults_table(summary: Summary) -> Table | None:
    rows = [g for g in summary.by_level if g.reflection.faults]
    if not rows:
        return None
    t = table("Reflection: injected faults", "agent", "level", ("faults", "right"), ("retries", "right"), "retried",
              "tool worked later", caption="faults, retries: totals; retried: faults followed by the same call again "
              "(right after a transient fault); tool worked later: transient faults after which the tool succeeded")
    for g in rows:
        r = g.reflection
        t.add_row(name(g.agent), name(g.level), str(r.faults), str(r.good_retries),
                  rate(r.fault_retry, interval=False, good=None), rate(r.faults_recovered, interval=False, good=None))
    return t


def verification_table(summary: Summary) -> Table | None:
    rows = [g for g in summary.by_level if g.reflection.episodes]
    if not rows:
        return None
    t = table("Reflection: checking its work", "agent", "level", "verified", "stuck", ("reflect", "right"),
              "changed course", caption="verified: looked at its work after the last change, before submitting; "
              "stuck: episodes with a loop; reflect: calls (total)")
    for g in rows:
        r = g.reflection
        t.add_row(name(g.agent), name(g.level), rate(r.verified, good=None), rate(r.looped, interval=False, good=None),
                  str(r.reflects), rate(r.reflect_changed, interval=False, good=None))
    return t


def _per_success(cost: float | None, status: CostStatus) -> str:
    if status == "ok":
        return money(cost)
    return {"no success": "no success", "unknown": "unknown", "no model": DASH}[status]


def cost_table(summary: Summary) -> Table:
    any_model = any(g.cost.used_model for g in summary.by_level)
    cols: list[str | tuple[str, str]] = ["agent", "level", ("steps", "right"), ("time", "right")]
    if any_model:
        cols += [("tokens", "right"), ("cost", "right"), ("$/success", "right")]
    cols.append(("time/succ.", "right"))
    t = table("Cost and speed", *cols, caption="steps, time: means per episode; tokens, cost: totals; per success: "
              "the total over the successes")
    for g in summary.by_level:
        c = g.cost
        row: list[Text | str] = [name(g.agent), name(g.level), number(c.mean_steps), seconds(c.mean_seconds)]
        if any_model:
            used = c.used_model
            row += [tokens(c.input_tokens + c.output_tokens) if used else DASH,
                    money(c.cost_usd) if used else DASH, _per_success(c.cost_per_success, c.per_success_status)]
        row.append(seconds(c.seconds_per_success) if g.outcomes.successes else DASH)
        t.add_row(*row)
    return t


def frontier_table(summary: Summary) -> Table | None:
    points = summary.frontier
    if len({p.agent for p in points}) < 2:
        return None
    t = table("Cost against success", "level", "agent", "success", ("per episode", "right"), "dominated by",
              caption="an agent is dominated when another is as successful for less, or more successful for as "
                      "much")
    for p in points:
        cost = money(p.cost) if p.axis == "cost" else f"{tokens(p.cost)} tok"
        t.add_row(name(p.level), name(p.agent), pct(p.success), cost,
                  Text(", ".join(p.dominated_by) if p.dominated else "on the frontier"))
    return t


def horizon_table(summary: Summary) -> Table | None:
    if not summary.horizons:
        return None
    t = table("Time horizon (METR)", "agent", "level", "50% [CI]", "80%", ("tasks", "right"),
              caption="the task length, in human minutes, done half (80%) of the time: a logistic fit of success on "
                      "log2 minutes, with a bootstrap over families, tasks and trials")
    for h in summary.horizons:
        if h.status == "ok":
            low = minutes(h.h50_low) if h.h50_low is not None else "0"
            high = minutes(h.h50_high) if h.h50_high is not None else "∞"
            text = Text(f"{minutes(h.h50)} [{low}-{high}]" + (" extrap." if h.extrapolated else ""))
            t.add_row(name(h.agent), name(h.level), text, minutes(h.h80), str(h.tasks))
        else:
            short = {"all_success": f"> {minutes(h.max_minutes)} (all done)",
                     "all_fail": f"< {minutes(h.min_minutes)} (none done)",
                     "too_few": "too few tasks", "no_decline": "no decline"}[h.status]
            t.add_row(name(h.agent), name(h.level), Text(short), DASH, str(h.tasks))
    return t


def why_table(summary: Summary) -> Table | None:
    kinds = [k for k in WHY_LABELS if k not in ("success", "pending")
             and any(g.outcomes.why.get(k) for g in summary.by_level)]
    if not kinds:
        return None
    t = table("Why episodes failed", "agent", "level", *[(WHY_LABELS[k], "right") for k in kinds],
              caption="episodes (totals) by how they ended")
    for g in summary.by_level:
        t.add_row(name(g.agent), name(g.level), *[str(g.outcomes.why.get(k, 0)) for k in kinds])
    return t


def checks_table(summary: Summary) -> Table | None:
    rows = [(g, c) for g in summary.by_level for c in g.failed_checks[:3]]
    if not rows:
        return None
    t = table("Checks failing most often", "agent", "level", "family", "check", ("failed", "right"),
              caption="failed: scored episodes in which the check failed, of those in which it ran")
    for g, c in rows:
        t.add_row(name(g.agent), name(g.level), family_label(c.family), name(c.name), f"{c.failed}/{c.ran}")
    return t


def breakdown_tables(summary: Summary) -> list[Table]:
    tables = []
    for dimension in ("template", "difficulty"):
        groups = [g for g in summary.breakdowns if getattr(g, dimension) is not None]
        if not groups:
            continue
        t = table(f"By {dimension}", "agent", "level", "family", dimension, ("ok/fail/err", "right"),
                  "success [CI]", ("score", "right"), caption="ok/fail/err: totals; score: mean over scored episodes")
        for g in groups:
            o = g.outcomes
            t.add_row(name(g.agent), name(g.level), family_label(g.family), Text(str(getattr(g, dimension))),
                      f"{o.successes}/{o.fails}/{o.errors}", rate(g.success), pct(g.mean_score))
        tables.append(t)
    return tables


def certification_table(summary: Summary) -> Table:
    several = len(summary.families) > 1
    cols = ["agent", *(["family"] if several else []), "certified", "what blocks the next level"]
    g = summary.options.gates
    t = table("Certified autonomy level", *cols, caption=(
        f"gates on 95% lower bounds: copilot self-done >= {pct(g.copilot.self_done)}; agent success >= "
        f"{pct(g.agent.success)}, pass^{g.k} >= {pct(g.agent.pass_hat_k)}; worker job success >= "
        f"{pct(g.worker.success)}, pass^{g.k} >= {pct(g.worker.pass_hat_k)}, fault robustness >= "
        f"{pct(g.worker.fault_robustness)}"))
    for c in summary.certifications:
        if c.family is not None and not several:
            continue
        level = Text(c.level or "none", style="bold green" if c.level else "yellow")
        blocking = c.blocking_text or ("the top level" if c.level == LEVEL_ORDER[-1] else "")
        t.add_row(name(c.agent), *([family_label(c.family)] if several else []), level, Text(blocking))
    return t


def errors_text(summary: Summary) -> Text | None:
    if not summary.errors:
        return None
    text = Text()
    for e in summary.errors[:MAX_ERRORS_SHOWN]:
        text.append("error ", style="red")
        text.append(f"{e.episode}: {e.error}\n")
    if summary.error_count > MAX_ERRORS_SHOWN:
        text.append(f"… and {summary.error_count - MAX_ERRORS_SHOWN} more error episodes", style="red")
    return text


def runs_table(runs: list[RunInfo]) -> Table:
    import datetime as dt

    t = table("Runs", "run id", "created", "status", "done", "agents", "families", "sandbox")
    for r in runs:
        cfg = r.config
        t.add_row(
            name(r.id), dt.datetime.fromtimestamp(r.created).strftime("%Y-%m-%d %H:%M"), r.status,
            f"{r.done}/{r.episodes}", Text(", ".join(cfg.get("agents", []))), Text(", ".join(cfg.get("families", []))),
            Text(str(cfg.get("sandbox", {}).get("kind", ""))),
        )
    return t
