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
    """(intercept, slope) of the weighted logistic regression, with `ridge` on the slope only."""
    centre = float(np.average(x, weights=w))
    xc = x - centre
    a, b = 0.0, 0.0

    def loss(a: float, b: float) -> float:
        z = a + b * xc
        return float(np.sum(w * (np.logaddexp(0, z) - y * z)) + 0.5 * ridge * b * b)

    current = loss(a, b)
    for _ in range(200):
        p = 1 / (1 + np.exp(-(a + b * xc)))
        r = w * (p - y)
        g = np.array([r.sum(), (r * xc).sum() + ridge * b])
        s = w * p * (1 - p)
        h = np.array([[s.sum(), (s * xc).sum()], [(s * xc).sum(), (s * xc * xc).sum() + ridge]])
        try:
            step = np.linalg.solve(h + 1e-12 * np.eye(2), g)
        except np.linalg.LinAlgError:
            break
        t = 1.0
        while t > 1e-8:
            na, nb = a - t * step[0], b - t * step[1]
            new = loss(na, nb)
            if new <= current:
                break
            t /= 2
        else:
            break
        a, b = na, nb
        if current - new < 1e-12:
            current = new
            break
        current = new
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


def _horizons(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """log2 of the 50% and 80% horizons of one (re)sample; +-inf where no fit can say."""
    if y.min() == 1:
        return math.inf, math.inf
    if y.max() == 0 or len(np.unique(x)) < 2:
        return -math.inf, -math.inf
    a, b = fit_logistic(x, y, w)
    if b >= 0:
        return math.inf, math.inf
    return horizon_at(a, b, 0.5), horizon_at(a, b, 0.8)


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
    structure: dict[Hashable, dict[Hashable, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, (f, t) in enumerate(zip(fams, tasks, strict=True)):
        structure[f][t].append(i)
    family_list = list(structure)
    out = np.empty((draws, 2))
    for d in range(draws):
        picked: list[int] = []
        new_fams: list[int] = []
        new_tasks: list[int] = []
        for fi, f in enumerate(rng.integers(0, len(family_list), len(family_list))):
            family = structure[family_list[f]]
            task_list = list(family.values())
            for ti, t in enumerate(rng.integers(0, len(task_list), len(task_list))):
                runs = task_list[t]
                chosen = rng.integers(0, len(runs), len(runs))
                picked.extend(runs[c] for c in chosen)
                new_fams.extend([fi] * len(runs))
                new_tasks.extend([fi * 100_000 + ti] * len(runs))
        idx = np.array(picked)
        out[d] = _horizons(x[idx], y[idx], weights(new_fams, new_tasks))
    return out


def _bounds(log2_values: np.ndarray) -> tuple[float | None, float | None]:
    low, high = np.percentile(log2_values, [2.5, 97.5])
    return (None if not math.isfinite(low) else float(2.0**low), None if not math.isfinite(high) else float(2.0**high))


def _points(rows: list[EpisodeMetrics]) -> list[HorizonPoint]:
    by_minutes: dict[float, list[bool]] = defaultdict(list)
    for r in rows:
        by_minutes[float(r.human_minutes or 0)].append(r.success)
    return [HorizonPoint(minutes=m, successes=sum(v), episodes=len(v)) for m, v in sorted(by_minutes.items())]
