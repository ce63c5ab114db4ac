"""Reliability: does the agent do it every time, under faults, whatever the wording?

A task under one condition (level, wording, fault rate) is a cell; its trials are repeats. Only
scored episodes count (errors are the arena's failures, never the agent's).

- pass^k: the mean over cells of C(c, k) / C(n, k) (n trials, c successes), the chance that k
  trials drawn from the n all succeed (tau-bench's unbiased estimator); pass@k: the mean of
  1 - C(n - c, k) / C(n, k). For each k, the cells with at least k trials; the interval is a
  bootstrap over tasks (see `arena.metrics.stats.bootstrap_mean`). pass^1 = pass@1 is the success
  rate over the cells, with the success rate's interval.
- outcome consistency: the mean over cells with two trials or more of (2p - 1)^2, p the cell's
  success rate (1 when every trial agrees, 0 at a coin flip; as HAL reports it); flips: the share
  of those cells whose trials disagree.
- fault robustness: on tasks run both without faults and with them (`--faults 0,0.2` plans both,
  the same task, level, wording and trials), success with faults over success without, capped
  at 1: min(1, S_faults / S_clean), S the mean per-task success rate. Per fault rate and pooled
  over every rate above 0; the interval is a paired bootstrap over tasks, widened to at least the
  ratio of the two Wilson bounds. Undefined when the agent never succeeds without faults.
- paraphrase robustness: on cells run under two wordings or more (`--paraphrases N`), the success
  rate per wording and its spread (highest minus lowest), and the share of tasks whose outcome
  depends on the wording: the majority outcome (success rate >= 1/2) differs between wordings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable
from statistics import fmean as mean

import numpy as np
from pydantic import BaseModel, Field

from arena.metrics.episode import EpisodeMetrics
from arena.metrics.stats import (
    BOOTSTRAP,
    MIN_TASKS,
    Rate,
    bootstrap_mean,
    clustered_rate,
    pass_at_k,
    pass_hat_k,
    ratio_capped,
)

Cell = tuple[Hashable, ...]


class FaultRobustness(BaseModel):
    rates: list[float]  # the fault rates above 0 that were paired with fault-free episodes
    tasks: int
    with_faults: Rate
    without_faults: Rate
    ratio: Rate  # min(1, with / without)
    by_rate: dict[str, Rate] = Field(default_factory=dict)  # the ratio per fault rate ("0.2")


class ParaphraseRobustness(BaseModel):
    wordings: int
    tasks: int
    by_wording: dict[int, Rate]
    spread: float | None  # highest minus lowest success rate over wordings
    sensitive: Rate  # share of tasks whose outcome depends on the wording


class Reliability(BaseModel):
    trials: int = 0  # the most trials a cell had
    pass_hat_k: dict[int, Rate] = Field(default_factory=dict)
    pass_at_k: dict[int, Rate] = Field(default_factory=dict)
    consistency: float | None = None
    consistency_cells: int = 0
    flips: Rate = Field(default_factory=Rate)
    faults: FaultRobustness | None = None
    paraphrase: ParaphraseRobustness | None = None


def cells(rows: list[EpisodeMetrics]) -> dict[Cell, list[bool]]:
    found: dict[Cell, list[bool]] = defaultdict(list)
    for r in rows:
        if r.scored:
            found[r.cell].append(r.success)
    return found


def pass_k_by_task(by_cell: dict[Cell, list[bool]], k: int, *, at: bool = False) -> dict[Hashable, float]:
    """Per task, the mean over its cells with k trials or more of pass^k (pass@k with `at`)."""
    per_task: dict[Hashable, list[float]] = defaultdict(list)
    estimator = pass_at_k if at else pass_hat_k
    for cell, outcomes in by_cell.items():
        if len(outcomes) >= k:
            per_task[cell[:3]].append(estimator(len(outcomes), sum(outcomes), k))
    return {task: mean(values) for task, values in per_task.items()}


def reliability(rows: list[EpisodeMetrics], rng: np.random.Generator, *, min_tasks: int = MIN_TASKS,
                draws: int = BOOTSTRAP) -> Reliability:
    scored = [r for r in rows if r.scored]
    by_cell = cells(scored)
    out = Reliability(trials=max((len(v) for v in by_cell.values()), default=0))
    if out.trials:
        # pass^1 and pass@1 are the success rate over cells: the same figure, with the same interval.
        first = clustered_rate(((c[:3], float(sum(v)), float(len(v))) for c, v in by_cell.items()),
                               min_tasks=min_tasks)
        out.pass_hat_k[1] = out.pass_at_k[1] = first
    for k in range(2, out.trials + 1):
        hat = pass_k_by_task(by_cell, k)
        at = pass_k_by_task(by_cell, k, at=True)
        n = sum(1 for v in by_cell.values() if len(v) >= k)
        out.pass_hat_k[k] = bootstrap_mean(list(hat.values()), rng, draws=draws, min_tasks=min_tasks, n=n)
        out.pass_at_k[k] = bootstrap_mean(list(at.values()), rng, draws=draws, min_tasks=min_tasks, n=n)
    repeated = {c: v for c, v in by_cell.items() if len(v) >= 2}
    if repeated:
        out.consistency = mean((2 * sum(v) / len(v) - 1) ** 2 for v in repeated.values())
        out.consistency_cells = len(repeated)
        out.flips = clustered_rate(((c[:3], float(0 < sum(v) < len(v)), 1.0) for c, v in repeated.items()),
                                   min_tasks=min_tasks)
    out.faults = fault_robustness(scored, rng, min_tasks=min_tasks, draws=draws)
    out.paraphrase = paraphrase_robustness(scored, min_tasks=min_tasks)
    return out


def fault_robustness(rows: list[EpisodeMetrics], rng: np.random.Generator, *, min_tasks: int = MIN_TASKS,
                     draws: int = BOOTSTRAP) -> FaultRobustness | None:
    # The pair: the same task, level and wording, with and without faults.
    by_pair: dict[Cell, dict[float, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        by_pair[(r.family, r.split, r.seed, r.level, r.paraphrase)][r.faults].append(r.success)
    paired = {p: v for p, v in by_pair.items() if 0.0 in v and any(rate > 0 for rate in v)}
    if not paired:
        return None
    rates = sorted({rate for v in paired.values() for rate in v if rate > 0})

    def ratio(use: set[float]) -> tuple[Rate, int]:
        with_f: dict[Cell, list[float]] = defaultdict(list)
        without: dict[Cell, list[float]] = defaultdict(list)
        for pair, by_rate in paired.items():
            faulted = [x for rate in use if rate in by_rate for x in by_rate[rate]]
            if faulted:
                with_f[pair[:3]].append(mean(faulted))
                without[pair[:3]].append(mean(by_rate[0.0]))
        tasks = sorted(with_f, key=str)
        a = [mean(with_f[t]) for t in tasks]
        b = [mean(without[t]) for t in tasks]
        return ratio_capped(a, b, rng, draws=draws, min_tasks=min_tasks), len(tasks)

    pooled, tasks = ratio(set(rates))
    faulted_rows = [r for r in rows if r.faults > 0 and (r.family, r.split, r.seed, r.level, r.paraphrase) in paired]
    clean_rows = [r for r in rows if r.faults == 0 and (r.family, r.split, r.seed, r.level, r.paraphrase) in paired]
    return FaultRobustness(
        rates=rates, tasks=tasks,
        with_faults=clustered_rate(((r.task, float(r.success), 1.0) for r in faulted_rows), min_tasks=min_tasks),
        without_faults=clustered_rate(((r.task, float(r.success), 1.0) for r in clean_rows), min_tasks=min_tasks),
        ratio=pooled,
        by_rate={f"{rate:g}": ratio({rate})[0] for rate in rates} if len(rates) > 1 else {f"{rates[0]:g}": pooled},
    )


def paraphrase_robustness(rows: list[EpisodeMetrics], *, min_tasks: int = MIN_TASKS) -> ParaphraseRobustness | None:
    by_cell: dict[Cell, dict[int, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        by_cell[(r.family, r.split, r.seed, r.level, r.faults)][r.paraphrase].append(r.success)
    varied = {c: v for c, v in by_cell.items() if len(v) >= 2}
    if not varied:
        return None
    wordings = sorted({p for v in varied.values() for p in v})
    by_wording = {
        p: clustered_rate(((c[:3], float(sum(v[p])), float(len(v[p]))) for c, v in varied.items() if p in v),
                          min_tasks=min_tasks)
        for p in wordings
    }
    values = [r.value for r in by_wording.values() if r.value is not None]
    sensitive = clustered_rate(
        ((c[:3], float(len({sum(o) / len(o) >= 0.5 for o in v.values()}) > 1), 1.0) for c, v in varied.items()),
        min_tasks=min_tasks,
    )
    return ParaphraseRobustness(
        wordings=len(wordings), tasks=len({c[:3] for c in varied}), by_wording=by_wording,
        spread=max(values) - min(values) if values else None, sensitive=sensitive,
    )
