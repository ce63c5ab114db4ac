"""The figures of a group of episodes (an agent at a level on a family, or any coarser cut): the
outcomes and why episodes ended, success with its interval, reliability, reflection, the level's
own figures, cost and speed, and the checks that fail most often.

Totals are sums over the group's episodes (tokens, cost, errors, ...); `*_per_episode` and
`mean_*` are means over its scored episodes; rates carry an interval over tasks (`Rate`).
"""

from __future__ import annotations

from collections import Counter
from statistics import fmean as mean

import numpy as np
from pydantic import BaseModel, Field

from arena.metrics.cost import CostStatus, per_success
from arena.metrics.episode import EpisodeMetrics
from arena.metrics.reliability import Reliability, reliability
from arena.metrics.stats import BOOTSTRAP, MIN_TASKS, Rate, clustered_rate
from arena.types import Level

TOP_CHECKS = 5


class Outcomes(BaseModel):
    episodes: int = 0  # planned
    successes: int = 0
    fails: int = 0
    errors: int = 0  # the arena's failures: never counted against the agent
    pending: int = 0  # not run (yet)
    tasks: int = 0
    why: dict[str, int] = Field(default_factory=dict)  # episodes by why they ended (see WHY_LABELS)


class ReflectionFigures(BaseModel):
    errors_per_episode: float | None = None  # failed tool results, mean over scored episodes
    episodes: int = 0  # scored episodes whose steps were read
    calls: int = 0  # totals over those episodes from here on
    own_errors: int = 0
    fault_errors: int = 0
    faults: int = 0
    blind_repeats: int = 0
    good_retries: int = 0
    loops: int = 0
    reflects: int = 0
    recovery: Rate = Field(default_factory=Rate)  # own errors later recovered
    corrected: Rate = Field(default_factory=Rate)  # own errors followed by a different call
    corrected_at_once: Rate = Field(default_factory=Rate)
    blind_repeat: Rate = Field(default_factory=Rate)  # own errors repeated unchanged right away
    fault_retry: Rate = Field(default_factory=Rate)  # injected faults followed by a retry
    faults_recovered: Rate = Field(default_factory=Rate)  # transient faults after which the tool worked
    looped: Rate = Field(default_factory=Rate)  # episodes with a loop
    verified: Rate = Field(default_factory=Rate)  # episodes that looked at their work before submitting
    reflect_changed: Rate = Field(default_factory=Rate)  # reflect calls followed by a change of course


class CopilotFigures(BaseModel):
    episodes: int = 0
    subgoals: int = 0  # total
    self_done: Rate = Field(default_factory=Rate)  # subgoals met by the agent itself
    met: Rate = Field(default_factory=Rate)
    rejected: int = 0  # totals
    interventions: int = 0
    takeovers: int = 0
    rejected_per_episode: float | None = None
    interventions_per_episode: float | None = None
    takeovers_per_episode: float | None = None
    taken_over: Rate = Field(default_factory=Rate)  # episodes with a takeover


class WorkerFigures(BaseModel):
    jobs: int = 0
    job_success: Rate = Field(default_factory=Rate)
    parts: int = 0  # total
    parts_done: Rate = Field(default_factory=Rate)
    by_part_family: dict[str, Rate] = Field(default_factory=dict)  # where workers fail
    faults_met: int = 0  # total
    faults_recovered: Rate = Field(default_factory=Rate)


class CostFigures(BaseModel):
    used_model: bool = False
    input_tokens: int = 0  # totals over every finished episode
    output_tokens: int = 0
    cost_usd: float | None = None  # None when any episode's price is unknown
    cost_status: CostStatus = "no model"
    cost_per_episode: float | None = None  # means over finished episodes
    tokens_per_episode: float | None = None
    cost_per_success: float | None = None
    per_success_status: CostStatus = "no model"  # "no success": a known cost and no success
    tokens_per_success: float | None = None
    mean_steps: float | None = None  # means over scored episodes
    mean_tool_calls: float | None = None
    mean_seconds: float | None = None
    seconds_total: float = 0.0
    seconds_per_success: float | None = None


class FailedCheck(BaseModel):
    family: str
    name: str
    failed: int  # scored episodes where it failed
    ran: int  # scored episodes where it ran


class Group(BaseModel):
    """One cut of episodes; a field that is None is not cut on (`family=None`: every family)."""

    agent: str | None
    level: Level | None = None
    family: str | None = None
    template: str | None = None
    difficulty: int | None = None
    outcomes: Outcomes
    success: Rate
    mean_score: float | None = None
    reliability: Reliability
    reflection: ReflectionFigures
    cost: CostFigures
    copilot: CopilotFigures | None = None
    worker: WorkerFigures | None = None
    failed_checks: list[FailedCheck] = Field(default_factory=list)


def group_figures(
    rows: list[EpisodeMetrics], rng: np.random.Generator, *, agent: str | None, level: Level | None = None,
    family: str | None = None, template: str | None = None, difficulty: int | None = None,
    min_tasks: int = MIN_TASKS, draws: int = BOOTSTRAP,
) -> Group:
    finished = [r for r in rows if r.outcome is not None]
    scored = [r for r in finished if r.scored]
    successes = sum(r.success for r in scored)
    outcomes = Outcomes(
        episodes=len(rows), successes=successes, fails=len(scored) - successes,
        errors=sum(r.outcome == "error" for r in finished), pending=len(rows) - len(finished),
        tasks=len({r.task for r in rows}), why=dict(Counter(r.why for r in rows)),
    )
    levels = {r.level for r in rows}
    return Group(
        agent=agent, level=level, family=family, template=template, difficulty=difficulty, outcomes=outcomes,
        success=clustered_rate(((r.task, float(r.success), 1.0) for r in scored), min_tasks=min_tasks),
        mean_score=mean(r.score or 0.0 for r in scored) if scored else None,
        reliability=reliability(scored, rng, min_tasks=min_tasks, draws=draws),
        reflection=reflection_figures(scored, min_tasks),
        cost=cost_figures(finished, scored),
        copilot=copilot_summary(scored, min_tasks) if "copilot" in levels else None,
        worker=worker_summary(scored, min_tasks) if "worker" in levels else None,
        failed_checks=failed_checks(scored),
    )


def _share(rows: list[EpisodeMetrics], num: str, den: str, min_tasks: int) -> Rate:
    return clustered_rate(
        ((r.task, float(getattr(r.reflection, num)), float(getattr(r.reflection, den))) for r in rows),
        min_tasks=min_tasks,
    )


def reflection_figures(scored: list[EpisodeMetrics], min_tasks: int) -> ReflectionFigures:
    rows = [r for r in scored if r.reflection is not None]
    out = ReflectionFigures(episodes=len(rows),
                            errors_per_episode=mean(r.tool_errors for r in scored) if scored else None)
    if not rows:
        return out
    for name in ("calls", "own_errors", "fault_errors", "faults", "blind_repeats", "good_retries", "loops",
                 "reflects"):
        setattr(out, name, sum(getattr(r.reflection, name) for r in rows))
    out.recovery = _share(rows, "recovered", "own_errors", min_tasks)
    out.corrected = _share(rows, "corrected", "own_errors", min_tasks)
    out.corrected_at_once = _share(rows, "corrected_at_once", "own_errors", min_tasks)
    out.blind_repeat = _share(rows, "blind_repeats", "own_errors", min_tasks)
    out.fault_retry = _share(rows, "good_retries", "retryable_faults", min_tasks)
    out.faults_recovered = _share(rows, "faults_recovered", "fault_errors", min_tasks)
    out.reflect_changed = _share(rows, "reflect_changed", "reflect_judged", min_tasks)
    out.looped = clustered_rate(((r.task, float(r.reflection.loops > 0), 1.0) for r in rows  # type: ignore[union-attr]
                                 ), min_tasks=min_tasks)
    out.verified = clustered_rate(
        ((r.task, float(bool(r.reflection.verified)), 1.0) for r in rows  # type: ignore[union-attr]
         if r.reflection.verified is not None),  # type: ignore[union-attr]
        min_tasks=min_tasks,
    )
    return out


def copilot_summary(scored: list[EpisodeMetrics], min_tasks: int) -> CopilotFigures:
    rows = [r for r in scored if r.copilot is not None]
    out = CopilotFigures(episodes=len(rows))
    if not rows:
        return out
    figures = [r.copilot for r in rows]
    out.subgoals = sum(c.subgoals for c in figures)  # type: ignore[union-attr]
    out.self_done = clustered_rate(((r.task, float(r.copilot.self_done), float(r.copilot.subgoals))  # type: ignore[union-attr]
                                    for r in rows), min_tasks=min_tasks)
    out.met = clustered_rate(((r.task, float(r.copilot.met), float(r.copilot.subgoals))  # type: ignore[union-attr]
                              for r in rows), min_tasks=min_tasks)
    out.rejected = sum(c.rejected for c in figures)  # type: ignore[union-attr]
    out.interventions = sum(c.interventions for c in figures)  # type: ignore[union-attr]
    out.takeovers = sum(c.takeovers for c in figures)  # type: ignore[union-attr]
    out.rejected_per_episode = out.rejected / len(rows)
    out.interventions_per_episode = out.interventions / len(rows)
    out.takeovers_per_episode = out.takeovers / len(rows)
    out.taken_over = clustered_rate(((r.task, float(r.copilot.takeovers > 0), 1.0)  # type: ignore[union-attr]
                                     for r in rows), min_tasks=min_tasks)
    return out


def worker_summary(scored: list[EpisodeMetrics], min_tasks: int) -> WorkerFigures:
    rows = [r for r in scored if r.worker is not None]
    out = WorkerFigures(jobs=len(rows))
    if not rows:
        return out
    out.job_success = clustered_rate(((r.task, float(r.success), 1.0) for r in rows), min_tasks=min_tasks)
    out.parts = sum(r.worker.parts for r in rows)  # type: ignore[union-attr]
    out.parts_done = clustered_rate(((r.task, float(r.worker.parts_done), float(r.worker.parts))  # type: ignore[union-attr]
                                     for r in rows), min_tasks=min_tasks)
    families = sorted({f for r in rows for f in r.worker.part_families})  # type: ignore[union-attr]
    out.by_part_family = {
        f: clustered_rate(((r.task, float(sum(r.worker.part_families.get(f, []))),  # type: ignore[union-attr]
                            float(len(r.worker.part_families.get(f, [])))) for r in rows),  # type: ignore[union-attr]
                          min_tasks=min_tasks)
        for f in families
    }
    reflected = [r for r in rows if r.reflection is not None]
    out.faults_met = sum(r.reflection.faults for r in reflected)  # type: ignore[union-attr]
    out.faults_recovered = _share(reflected, "faults_recovered", "fault_errors", min_tasks)
    return out


def cost_figures(finished: list[EpisodeMetrics], scored: list[EpisodeMetrics]) -> CostFigures:
    used = [r for r in finished if r.used_model]
    successes = sum(r.success for r in scored)
    tokens_in = sum(r.input_tokens for r in finished)
    tokens_out = sum(r.output_tokens for r in finished)
    known = bool(used) and all(r.cost_usd is not None for r in used)
    cost = sum(r.cost_usd or 0.0 for r in used) if known else None
    cps, status = per_success(cost, successes, bool(used))
    seconds = sum(r.seconds for r in finished)
    return CostFigures(
        used_model=bool(used), input_tokens=tokens_in, output_tokens=tokens_out, cost_usd=cost,
        cost_status="no model" if not used else "ok" if known else "unknown",
        cost_per_episode=cost / len(finished) if cost is not None and finished else None,
        tokens_per_episode=(tokens_in + tokens_out) / len(finished) if used and finished else None,
        cost_per_success=cps, per_success_status=status,
        tokens_per_success=(tokens_in + tokens_out) / successes if used and successes else None,
        mean_steps=mean(r.steps for r in scored) if scored else None,
        mean_tool_calls=mean(r.tool_calls for r in scored) if scored else None,
        mean_seconds=mean(r.seconds for r in scored) if scored else None,
        seconds_total=round(seconds, 3),
        seconds_per_success=seconds / successes if successes else None,
    )


def failed_checks(scored: list[EpisodeMetrics], top: int = TOP_CHECKS) -> list[FailedCheck]:
    failed: Counter[tuple[str, str]] = Counter()
    ran: Counter[tuple[str, str]] = Counter()
    for r in scored:
        for name in r.checks:
            ran[(r.family, name)] += 1
        for name in r.failed_checks:
            failed[(r.family, name)] += 1
    ordered = sorted(failed.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return [FailedCheck(family=f, name=n, failed=c, ran=ran[(f, n)]) for (f, n), c in ordered]
