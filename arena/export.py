"""Exports of a stored run, one episode at a time (so a large run streams):

- JSONL: one `arena.episode/1` record per line (`arena.trajectory.episode_record`): key, task info,
  result and the steps of the episode's last attempt.
- CSV: one row per episode with its main figures (`episode_figures`); the HTML episode table shows
  the same figures.
- aggregates CSV: one row per agent x level x family of the run summary (`write_aggregates`), the
  figures of `arena report` with their intervals.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import IO, Any

from arena.metrics.groups import CostFigures, Group, Outcomes, ReflectionFigures
from arena.metrics.reliability import Reliability
from arena.metrics.stats import Rate
from arena.metrics.summary import Summary
from arena.store import Store, StoredEpisode
from arena.trajectory import episode_record, numbered
from arena.types import StepRecord

FIGURES = [
    "run_id", "number", "id", "agent", "family", "split", "seed", "level", "trial", "paraphrase", "fault_rate",
    "task_id", "template", "difficulty", "human_minutes", "status", "attempts", "outcome", "termination",
    "score", "checks_passed", "checks", "failed_checks", "steps", "tool_calls", "tool_errors", "faults_injected",
    "supervisor_steps", "help", "takeovers", "hand_ins_rejected", "parts_done", "parts", "input_tokens",
    "output_tokens", "cost_usd", "seconds", "error",
]


def episode_figures(run_id: str, number: int, ep: StoredEpisode, steps: list[StepRecord]) -> dict[str, Any]:
    """The main figures of one episode, flat; None where the episode has not finished."""
    r, k, task = ep.result, ep.key, ep.task
    events = [e.kind for s in steps for e in s.events]
    failed = [c.name for c in r.checks if not c.passed] if r else []
    return {
        "run_id": run_id, "number": number, "id": k.id, "agent": k.agent, "family": k.family, "split": k.split,
        "seed": k.seed, "level": k.level, "trial": k.trial, "paraphrase": k.paraphrase, "fault_rate": k.faults,
        "task_id": ep.task_id, "template": task.template if task else None,
        "difficulty": task.difficulty if task else None, "human_minutes": task.human_minutes if task else None,
        "status": ep.status, "attempts": ep.attempts,
        "outcome": r.outcome if r else None, "termination": r.termination if r else None,
        "score": r.score if r else None,
        "checks_passed": sum(c.passed for c in r.checks) if r else None, "checks": len(r.checks) if r else None,
        "failed_checks": " ".join(failed),
        "steps": r.steps if r else len(steps), "tool_calls": r.tool_calls if r else None,
        "tool_errors": r.tool_errors if r else None,
        "faults_injected": sum(res.fault is not None for s in steps for res in s.results),
        "supervisor_steps": sum(s.actor == "supervisor" for s in steps),
        "help": events.count("help"), "takeovers": events.count("takeover"),
        "hand_ins_rejected": events.count("hand_in_rejected"),
        "parts_done": sum(p.success for p in r.parts) if r and r.parts else None,
        "parts": len(r.parts) if r and r.parts else None,
        "input_tokens": r.usage.input_tokens if r else None, "output_tokens": r.usage.output_tokens if r else None,
        "cost_usd": r.usage.cost_usd if r else None, "seconds": r.seconds if r else None,
        "error": r.error if r else None,
    }


def episodes_with_steps(store: Store, run_id: str) -> Iterator[tuple[int, StoredEpisode, list[StepRecord]]]:
    """Every episode of the run in plan order with the steps of its last attempt, one at a time."""
    for number, ep in numbered(store, run_id):
        yield number, ep, store.steps(run_id, ep.key, ep.attempts) if ep.attempts else []


def write_jsonl(store: Store, run_id: str, out: IO[str]) -> int:
    count = 0
    for number, ep, steps in episodes_with_steps(store, run_id):
        out.write(json.dumps(episode_record(run_id, number, ep, steps), ensure_ascii=False) + "\n")
        count += 1
    return count


def csv_cell(value: Any) -> Any:
    """A CSV cell: empty for None; text a spreadsheet would run as a formula (an agent may write an
    error message that starts with `=`) gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def write_csv(store: Store, run_id: str, out: IO[str]) -> int:
    writer = csv.DictWriter(out, fieldnames=FIGURES, lineterminator="\n")
    writer.writeheader()
    count = 0
    for number, ep, steps in episodes_with_steps(store, run_id):
        writer.writerow({k: csv_cell(v) for k, v in episode_figures(run_id, number, ep, steps).items()})
        count += 1
    return count


# ---------------------------------------------------------------------- the aggregates (`--aggregates`)

def _rate(prefix: str, rate: Rate | None) -> dict[str, Any]:
    rate = rate or Rate()
    return {prefix: rate.value, f"{prefix}_low": rate.low, f"{prefix}_high": rate.high}


def aggregate_row(group: Group, k: int) -> dict[str, Any]:
    """One agent x level x family of a summary, flat: counts, rates with their 95% interval (`_low`,
    `_high`), means per episode and totals, as the report shows them."""
    o, rel, r, c = group.outcomes, group.reliability, group.reflection, group.cost
    copilot, worker, faults = group.copilot, group.worker, rel.faults
    return {
        "agent": group.agent, "level": group.level, "family": group.family,
        "episodes": o.episodes, "successes": o.successes, "fails": o.fails, "errors": o.errors,
        "pending": o.pending, "tasks": o.tasks, "few_tasks": group.success.few,
        **_rate("success", group.success), "mean_score": group.mean_score,
        "trials": rel.trials, "k": k, **_rate("pass_hat_k", rel.pass_hat_k.get(k)),
        **_rate("pass_at_k", rel.pass_at_k.get(k)), "consistency": rel.consistency,
        **_rate("fault_robustness", faults.ratio if faults else None),
        **_rate("success_with_faults", faults.with_faults if faults else None),
        **_rate("success_without_faults", faults.without_faults if faults else None),
        **_rate("self_done", copilot.self_done if copilot else None),
        "help_per_episode": copilot.interventions_per_episode if copilot else None,
        "takeovers_per_episode": copilot.takeovers_per_episode if copilot else None,
        "rejected_per_episode": copilot.rejected_per_episode if copilot else None,
        **_rate("job_success", worker.job_success if worker else None),
        **_rate("parts_done", worker.parts_done if worker else None),
        "faults_met": r.faults, **_rate("faults_recovered", r.faults_recovered),
        "own_errors": r.own_errors, "tool_errors_per_episode": r.errors_per_episode,
        **_rate("recovered", r.recovery), **_rate("fixed_next", r.corrected_at_once),
        "blind_repeats": r.blind_repeats, **_rate("blind_repeat", r.blind_repeat),
        **_rate("verified", r.verified), **_rate("stuck", r.looped), "reflects": r.reflects,
        "mean_steps": c.mean_steps, "mean_tool_calls": c.mean_tool_calls, "mean_seconds": c.mean_seconds,
        "seconds_per_success": c.seconds_per_success, "input_tokens": c.input_tokens,
        "output_tokens": c.output_tokens, "cost_usd": c.cost_usd, "cost_per_episode": c.cost_per_episode,
        "cost_per_success": c.cost_per_success, "cost_status": c.cost_status,
        "failed_checks": " ".join(f"{f.name}:{f.failed}/{f.ran}" for f in group.failed_checks),
    }


def aggregate_columns() -> list[str]:
    empty = Group(agent=None, outcomes=Outcomes(), success=Rate(), reliability=Reliability(),
                  reflection=ReflectionFigures(), cost=CostFigures())
    return list(aggregate_row(empty, 1))


def write_aggregates(summary: Summary, out: IO[str]) -> int:
    """The summary's agent x level x family figures as CSV, one row each; returns the rows written."""
    k = summary.options.gates.k
    writer = csv.DictWriter(out, fieldnames=aggregate_columns(), lineterminator="\n")
    writer.writeheader()
    for group in summary.by_family:
        writer.writerow({name: csv_cell(value) for name, value in aggregate_row(group, k).items()})
    return len(summary.by_family)
