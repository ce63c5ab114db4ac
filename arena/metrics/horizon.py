"""Time horizon, as METR fits it: how long a task (in estimated human minutes) the agent completes
with 50% (and 80%) probability.

A logistic regression of success on x = log2(human minutes): P(success) = 1 / (1 + exp(-(a + b x))),
fitted by weighted maximum likelihood with METR's tiny ridge penalty on the slope (1e-5, which
keeps a perfectly separated fit finite). Each episode's weight is 1 / (sqrt(tasks in its family) x
episodes of its task), normalised to sum to 1, so no family or task dominates (METR's
inverse-square-root family weighting, with each task's runs sharing its weight). The q horizon is
2^((logit(q) - a) / b): the 50% horizon at a + b x = 0, the 80% one at a + b x = logit(0.8).

Intervals come from a hierarchical bootstrap: families with replacement, then tasks within each
drawn family, then episodes within each drawn task, refitting each time; the 2.5th and 97.5th
percentiles. A resample in which the agent never fails has no upper bound (`high` None).

No fit is made, and the status says why, when every scored episode succeeded (`all_success`: the
horizon is beyond the longest task), when none did (`all_fail`: below the shortest), with fewer
than 4 tasks or fewer than 2 distinct task lengths (`too_few`), or when success does not fall as
tasks grow longer (`no_decline`). A horizon outside the range of task lengths run is marked
`extrapolated`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from arena.metrics.episode import EpisodeMetrics

RIDGE = 1e-5
MIN_TASKS = 4
HORIZON_BOOTSTRAP = 500
OPEN = 64.0  # log2 minutes beyond which a bootstrap bound counts as open
Status = Literal["ok", "all_success", "all_fail", "too_few", "no_decline"]
NOTES: dict[str, str] = {
    "ok": "",
    "all_success": "every task succeeded: the horizon is beyond the longest task run",
    "all_fail": "no task succeeded: the horizon is below the shortest task run",
    "too_few": "too few tasks or task lengths to fit (needs 4 tasks and 2 lengths)",
    "no_decline": "success does not fall as tasks get longer: no horizon to read",
}


class HorizonPoint(BaseModel):
    minutes: float
    successes: int
    episodes: int


class Horizon(BaseModel):
    agent: str
    level: str | None
    status: Status
    note: str = ""
    tasks: int = 0
    families: int = 0
    episodes: int = 0
    min_minutes: float | None = None
    max_minutes: float | None = None
    intercept: float | None = None
    slope: float | None = None  # per doubling of task length (negative: longer tasks fail more)
    h50: float | None = None  # minutes
    h50_low: float | None = None
    h50_high: float | None = None  # None with a fitted h50: no upper bound
    h80: float | None = None
    h80_low: float | None = None
    h80_high: float | None = None
    extrapolated: bool = False
    points: list[HorizonPoint] = Field(default_factory=list)  # success by task length, for plots


def fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, ridge: float = RIDGE) -> tuple[float, float]:
    """(intercept, slope) of the weighted logistic regression, with `ridge` on the slope only.
    Weights are normalised to sum to 1, as METR's are; the likelihood only sees the total weight
    of wins and of losses at each distinct x."""
    xs, inverse = np.unique(x, return_inverse=True)
    wins = np.bincount(inverse, weights=w * y, minlength=len(xs))
    losses = np.bincount(inverse, weights=w * (1 - y), minlength=len(xs))
    a, b = fit_batch(xs, wins[None, :], losses[None, :], ridge)
    return float(a[0]), float(b[0])


def fit_batch(xs: np.ndarray, wins: np.ndarray, losses: np.ndarray, ridge: float = RIDGE) -> tuple[np.ndarray, ...]:
    """Newton's method with step halving for many fits at once: row i of `wins` and `losses` (each
    (fits, len(xs))) holds the weight of successes and failures at each x. Returns (intercepts,
    slopes)."""
    total = wins + losses
    norm = total.sum(axis=1, keepdims=True)
    wins, total = wins / norm, total / norm
    centre = (total * xs).sum(axis=1)
    xc = xs[None, :] - centre[:, None]
    a = np.zeros(len(total))
    b = np.zeros(len(total))

    def loss(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        z = a[:, None] + b[:, None] * xc
        return (total * np.logaddexp(0, z) - wins * z).sum(axis=1) + 0.5 * ridge * b * b

    current = loss(a, b)
    for _ in range(100):
        p = 1 / (1 + np.exp(-(a[:, None] + b[:, None] * xc)))
        r = total * p - wins
        ga, gb = r.sum(axis=1), (r * xc).sum(axis=1) + ridge * b
        v = total * p * (1 - p)
        h00, h01, h11 = v.sum(axis=1) + 1e-12, (v * xc).sum(axis=1), (v * xc * xc).sum(axis=1) + ridge
        det = h00 * h11 - h01 * h01
        da, db = (h11 * ga - h01 * gb) / det, (h00 * gb - h01 * ga) / det
        t = np.ones(len(a))
        new = loss(a - da, b - db)
        for _ in range(40):  # halve the step where it does not lower the loss
            worse = new > current + 1e-15
            if not worse.any():
                break
            t = np.where(worse, t / 2, t)
            new = np.where(worse, loss(a - t * da, b - t * db), new)
        moved = new <= current + 1e-15
        a, b = np.where(moved, a - t * da, a), np.where(moved, b - t * db, b)
        gain = current - np.where(moved, new, current)
        current = np.where(moved, new, current)
        if np.all(gain < 1e-13):
            break
    return a - b * centre, b


def horizon_at(intercept: float, slope: float, q: float) -> float:
    """log2 minutes at which the fitted success probability is q."""
    return (math.log(q / (1 - q)) - intercept) / slope


def weights(families: Sequence[Hashable], tasks: Sequence[Hashable]) -> np.ndarray:
    per_task: dict[Hashable, int] = defaultdict(int)
    family_tasks: dict[Hashable, set[Hashable]] = defaultdict(set)
    for f, t in zip(families, tasks, strict=True):
        per_task[t] += 1
        family_tasks[f].add(t)
    w = np.array([1 / (math.sqrt(len(family_tasks[f])) * per_task[t]) for f, t in zip(families, tasks, strict=True)])
    return w / w.sum()


def _status(x: np.ndarray, y: np.ndarray, tasks: int) -> Status:
    if tasks < MIN_TASKS or len(np.unique(x)) < 2:
        return "too_few"
    if y.min() == 1:
        return "all_success"
    if y.max() == 0:
        return "all_fail"
    return "ok"


def fit_horizon(
    rows: list[EpisodeMetrics], *, agent: str, level: str | None, rng: np.random.Generator,
    draws: int = HORIZON_BOOTSTRAP,
) -> Horizon:
    scored = [r for r in rows if r.scored and r.human_minutes is not None and r.human_minutes > 0]
    minutes = np.array([r.human_minutes for r in scored], dtype=float)
    x = np.log2(minutes) if scored else np.zeros(0)
    y = np.array([float(r.success) for r in scored])
    fams = [r.family for r in scored]
    tasks = [r.task for r in scored]
    out = Horizon(agent=agent, level=level, status="too_few", tasks=len(set(tasks)), families=len(set(fams)),
                  episodes=len(scored), points=_points(scored))
    if scored:
        out.min_minutes, out.max_minutes = float(minutes.min()), float(minutes.max())
    status = _status(x, y, out.tasks) if scored else "too_few"
    if status == "ok":
        a, b = fit_logistic(x, y, weights(fams, tasks))
        out.intercept, out.slope = a, b
        if b >= 0:
            status = "no_decline"
    out.status, out.note = status, NOTES[status]
    if status != "ok":
        return out
    assert out.intercept is not None and out.slope is not None
    log50, log80 = horizon_at(out.intercept, out.slope, 0.5), horizon_at(out.intercept, out.slope, 0.8)
    out.h50, out.h80 = 2.0**log50, 2.0**log80
    out.extrapolated = not (out.min_minutes or 0) <= out.h50 <= (out.max_minutes or 0)
    if draws <= 0:
        return out
    samples = _bootstrap(x, y, fams, tasks, rng, draws)
    (out.h50_low, out.h50_high), (out.h80_low, out.h80_high) = (_bounds(samples[:, 0]), _bounds(samples[:, 1]))
    return out


def _bootstrap(x: np.ndarray, y: np.ndarray, fams: list[Hashable], tasks: list[Hashable],
               rng: np.random.Generator, draws: int) -> np.ndarray:
    """log2 horizons (50%, 80%) of `draws` hierarchical resamples. Each resample draws families,
    then tasks within each drawn family, then episodes within each drawn task, all with
    replacement; a drawn copy keeps its original sizes, so each copy's episodes keep their weight."""
    structure: dict[Hashable, dict[Hashable, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, (f, t) in enumerate(zip(fams, tasks, strict=True)):
        structure[f][t].append(i)
    order = [i for family in structure.values() for runs in family.values() for i in runs]
    task_runs = [len(runs) for family in structure.values() for runs in family.values()]
    family_tasks = np.array([len(family) for family in structure.values()])
    family_start = np.concatenate([[0], np.cumsum(family_tasks)[:-1]])
    runs_of = np.array(task_runs)
    task_start = np.concatenate([[0], np.cumsum(runs_of)[:-1]])
    base = weights(fams, tasks)[order]
    xs, ys = x[order], y[order]
    xs, x_index = np.unique(xs, return_inverse=True)
    wins = np.zeros((draws, len(xs)))
    losses = np.zeros((draws, len(xs)))
    for d in range(draws):
        picked_f = rng.integers(0, len(family_tasks), len(family_tasks))
        sizes = family_tasks[picked_f]
        local = (rng.random(sizes.sum()) * np.repeat(sizes, sizes)).astype(int)
        picked_t = np.repeat(family_start[picked_f], sizes) + local
        runs = runs_of[picked_t]
        local_runs = (rng.random(runs.sum()) * np.repeat(runs, runs)).astype(int)
        picked = np.repeat(task_start[picked_t], runs) + local_runs
        w = base[picked]
        wins[d] = np.bincount(x_index[picked], weights=w * ys[picked], minlength=len(xs))
        losses[d] = np.bincount(x_index[picked], weights=w * (1 - ys[picked]), minlength=len(xs))
    return horizons_of(xs, wins, losses)


def horizons_of(xs: np.ndarray, wins: np.ndarray, losses: np.ndarray) -> np.ndarray:
    """(fits, 2) log2 of the 50% and 80% horizons; +inf where nothing failed or success does not
    fall with length, -inf where nothing succeeded, NaN where one length alone was drawn."""
    out = np.full((len(wins), 2), np.nan)
    all_won = losses.sum(axis=1) == 0
    all_lost = wins.sum(axis=1) == 0
    lengths = ((wins + losses) > 0).sum(axis=1)
    fit = ~all_won & ~all_lost & (lengths >= 2)
    out[all_won] = math.inf
    out[all_lost & ~all_won] = -math.inf
    if fit.any():
        a, b = fit_batch(xs, wins[fit], losses[fit])
        with np.errstate(divide="ignore", invalid="ignore"):
            h50 = np.where(b < 0, -a / b, math.inf)
            h80 = np.where(b < 0, (math.log(4.0) - a) / b, math.inf)
        out[fit] = np.stack([h50, h80], axis=1)
    return out


def _bounds(log2_values: np.ndarray) -> tuple[float | None, float | None]:
    """The 95% percentile interval; a bound past every task length a fit can produce is open (None)."""
    clipped = np.clip(log2_values, -OPEN, OPEN)  # +-inf (no fit) interpolate as far bounds, not as NaN
    if np.isnan(clipped).all():
        return None, None
    low, high = np.nanpercentile(clipped, [2.5, 97.5])
    return (None if low <= -OPEN + 1 else float(2.0**low), None if high >= OPEN - 1 else float(2.0**high))


def _points(rows: list[EpisodeMetrics]) -> list[HorizonPoint]:
    by_minutes: dict[float, list[bool]] = defaultdict(list)
    for r in rows:
        by_minutes[float(r.human_minutes or 0)].append(r.success)
    return [HorizonPoint(minutes=m, successes=sum(v), episodes=len(v)) for m, v in sorted(by_minutes.items())]
