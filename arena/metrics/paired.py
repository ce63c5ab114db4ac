"""Is agent A really better than agent B? Paired comparisons on the same tasks.

A side is one agent in one run (`Side`); two sides are compared on the tasks both ran under the
same condition: the same family, split, seed, level, wording and fault rate. Trials are repeats
of a task, not pairs (trial 2 of A has nothing more in common with trial 2 of B than with its
trial 1), so each metric is first averaged over a side's trials of a task, and the unit of every
test is the task: d_t = A's mean on task t minus B's.

- difference: the mean of d_t over paired tasks, with a 95% paired bootstrap interval over tasks.
- p-value: a paired sign-flip test on the d_t (under "no difference" each d_t is as likely
  negative as positive). With one trial per task and success as the metric this is exactly the
  exact McNemar test (the binomial test on the discordant tasks); pass^k per task gets the same
  test (a sign test where every difference is +-1). Exact up to 16 differing tasks, Monte Carlo
  beyond.
- multiple comparisons: within a comparison of two sides, the per-family p-values of each metric
  are Holm-adjusted over the families; the all-families row of each level is the primary test and
  is not adjusted. With more than two sides every pair is compared, and the Holm adjustment of the
  all-families rows runs over the pairs.
- verdict: "A better" (or "B better", "cheaper", "faster") only when the adjusted p-value is
  below alpha (0.05) and the difference is one the metric can show (times differing by under the
  millisecond they are stored to are not); otherwise "no clear difference", with the number of
  paired tasks, so a small run honestly says it cannot tell.

Metrics: success, score, pass^k (k from the gates, at most the trials both ran), cost per
episode, steps and time per episode.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable
from itertools import combinations
from statistics import fmean as mean
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from arena.metrics.episode import EpisodeMetrics
from arena.metrics.stats import BOOTSTRAP, holm, pass_hat_k, percentile, resample, sign_flip_p

ALPHA = 0.05
Better = Literal["higher", "lower"]
# The smallest difference a metric can show. Episode times are stored to the millisecond: a mean
# difference under one is rounding, and on a loaded machine the odd tick falls on one side's
# episodes often enough to pass the test by chance.
RESOLUTION = {"seconds": 0.001}


class Side(BaseModel):
    run_id: str
    agent: str
    label: str


class CompareRow(BaseModel):
    level: str
    family: str | None  # None: every family of the level
    metric: str  # "success", "score", "pass^3", "cost", "steps", "seconds"
    better: Better  # which way is better for this metric
    a: float | None  # the mean over paired tasks
    b: float | None
    diff: float | None  # a - b
    low: float | None
    high: float | None
    p: float | None
    p_adjusted: float | None = None
    test: str = ""
    tasks: int = 0  # paired tasks
    differing: int = 0  # paired tasks on which the two differ
    verdict: str = ""
    winner: str | None = None  # the label of the better side, when the data say so


class PairComparison(BaseModel):
    a: Side
    b: Side
    rows: list[CompareRow] = Field(default_factory=list)


class Comparison(BaseModel):
    sides: list[Side]
    alpha: float = ALPHA
    k: int
    pairs: list[PairComparison]
    notes: list[str] = Field(default_factory=list)


Cell = tuple[str, str, int, str, int, float]
Task = tuple[str, str, int]


def _by_cell(rows: list[EpisodeMetrics]) -> dict[Cell, list[EpisodeMetrics]]:
    found: dict[Cell, list[EpisodeMetrics]] = defaultdict(list)
    for r in rows:
        if r.scored:
            found[r.cell].append(r)  # type: ignore[index]
    return found


def _metric_values(k: int) -> list[tuple[str, Better, Callable[[list[EpisodeMetrics]], float | None]]]:
    def success(eps: list[EpisodeMetrics]) -> float:
        return mean(float(e.success) for e in eps)

    def pass_k(eps: list[EpisodeMetrics]) -> float | None:
        return pass_hat_k(len(eps), sum(e.success for e in eps), k) if len(eps) >= k else None

    def cost(eps: list[EpisodeMetrics]) -> float | None:
        values = [e.cost_usd for e in eps]
        return None if not any(e.used_model for e in eps) or any(v is None for v in values) else mean(
            v for v in values if v is not None)

    return [
        ("success", "higher", success),
        ("score", "higher", lambda eps: mean(e.score or 0.0 for e in eps)),
        (f"pass^{k}", "higher", pass_k),
        ("cost", "lower", cost),
        ("steps", "lower", lambda eps: mean(float(e.steps) for e in eps)),
        ("seconds", "lower", lambda eps: mean(e.seconds for e in eps)),
    ]


def paired_differences(
    a: dict[Cell, list[EpisodeMetrics]], b: dict[Cell, list[EpisodeMetrics]],
    value: Callable[[list[EpisodeMetrics]], float | None],
) -> tuple[list[float], list[float]]:
    """Per paired task, A's and B's mean value (over the task's cells under the same conditions)."""
    per_task_a: dict[Task, list[float]] = defaultdict(list)
    per_task_b: dict[Task, list[float]] = defaultdict(list)
    for cell in sorted(set(a) & set(b), key=str):
        va, vb = value(a[cell]), value(b[cell])
        if va is None or vb is None:
            continue
        per_task_a[cell[:3]].append(va)
        per_task_b[cell[:3]].append(vb)
    tasks = sorted(per_task_a, key=str)
    return [mean(per_task_a[t]) for t in tasks], [mean(per_task_b[t]) for t in tasks]


def compare_rows(
    a_rows: list[EpisodeMetrics], b_rows: list[EpisodeMetrics], *, level: str, family: str | None, k: int,
    rng: np.random.Generator, draws: int = BOOTSTRAP,
) -> list[CompareRow]:
    a_cells, b_cells = _by_cell(a_rows), _by_cell(b_rows)
    rows = []
    for name, better, value in _metric_values(k):
        va, vb = paired_differences(a_cells, b_cells, value)
        row = CompareRow(level=level, family=family, metric=name, better=better, a=None, b=None, diff=None,
                         low=None, high=None, p=None, tasks=len(va))
        if va:
            d = np.array(va) - np.array(vb)
            row.a, row.b, row.diff = float(mean(va)), float(mean(vb)), float(d.mean())
            row.differing = int(np.sum(np.abs(d) > 1e-12))
            means = d[resample(rng, len(d), draws)].mean(axis=1)
            row.low, row.high = percentile(means)
            row.p = sign_flip_p(d.tolist(), rng)
            nonzero = np.abs(d[np.abs(d) > 1e-12])
            equal = not nonzero.size or bool(np.allclose(nonzero, nonzero[0]))
            # One binary pair per task: the sign test on the discordant tasks is exact McNemar.
            single = all(len(v) == 1 for v in a_cells.values()) and all(len(v) == 1 for v in b_cells.values())
            one_pair = single and len({c[:3] for c in a_cells}) == len(a_cells)
            row.test = ("exact McNemar" if name == "success" and one_pair and equal else
                        "sign test" if equal else "sign-flip permutation")
        rows.append(row)
    return rows


def verdicts(rows: list[CompareRow], labels: tuple[str, str], alpha: float) -> None:
    for row in rows:
        p = row.p_adjusted if row.p_adjusted is not None else row.p
        if row.diff is None or p is None:
            row.verdict = "no paired tasks" if not row.tasks else "not measured"
            continue
        if p >= alpha or abs(row.diff) < RESOLUTION.get(row.metric, 1e-12):
            row.verdict = "no clear difference"
            continue
        a_wins = row.diff > 0 if row.better == "higher" else row.diff < 0
        row.winner = labels[0] if a_wins else labels[1]
        word = {"cost": "cheaper", "seconds": "faster", "steps": "fewer steps"}.get(row.metric, "better")
        row.verdict = f"{row.winner} {word}"


def compare_sides(
    sides: list[Side], rows_by_side: dict[str, list[EpisodeMetrics]], *, k: int = 3, alpha: float = ALPHA,
    seed: int = 0, draws: int = BOOTSTRAP,
) -> Comparison:
    """Compare every pair of sides (rows_by_side: side label -> its episode metrics)."""
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    trials = {s.label: max((len(v) for v in _by_cell(rows_by_side[s.label]).values()), default=0) for s in sides}
    k_used = max(1, min(k, *trials.values())) if trials else k
    if k_used < k:
        notes.append(f"pass^{k} needs {k} trials per task; compared at k={k_used}")
    pairs = []
    for a, b in combinations(sides, 2):
        pair = PairComparison(a=a, b=b)
        ra, rb = rows_by_side[a.label], rows_by_side[b.label]
        levels = sorted({r.level for r in ra} & {r.level for r in rb})
        for level in levels:
            la = [r for r in ra if r.level == level]
            lb = [r for r in rb if r.level == level]
            overall = compare_rows(la, lb, level=level, family=None, k=k_used, rng=rng, draws=draws)
            families = sorted({r.family for r in la} & {r.family for r in lb})
            per_family: list[CompareRow] = []
            if len(families) > 1:
                for family in families:
                    per_family += compare_rows([r for r in la if r.family == family],
                                               [r for r in lb if r.family == family], level=level, family=family,
                                               k=k_used, rng=rng, draws=draws)
                _adjust(per_family, key=lambda r: r.metric)
            pair.rows += overall + per_family
        if not levels:
            notes.append(f"{a.label} and {b.label} share no level")
        pairs.append(pair)
    if len(pairs) > 1:  # the primary rows of each pair, adjusted over the pairs
        primary = [r for p in pairs for r in p.rows if r.family is None]
        _adjust(primary, key=lambda r: (r.level, r.metric))
    for pair in pairs:
        verdicts(pair.rows, (pair.a.label, pair.b.label), alpha)
    return Comparison(sides=sides, alpha=alpha, k=k_used, pairs=pairs, notes=notes)


def _adjust(rows: list[CompareRow], key: Callable[[CompareRow], Hashable]) -> None:
    groups: dict[Hashable, list[CompareRow]] = defaultdict(list)
    for r in rows:
        groups[key(r)].append(r)
    for members in groups.values():
        for r, adjusted in zip(members, holm([r.p for r in members]), strict=True):
            r.p_adjusted = adjusted
