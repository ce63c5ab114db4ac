"""The statistics every figure rests on: intervals for rates, bootstrap over tasks, exact tests.

Episodes of one task are not independent (trials of the same task succeed or fail together), so
every interval treats the task as the unit of sampling:

- `clustered_rate`: a share (successes over episodes, recovered over errors, ...) with a Wilson
  interval on the effective number of observations: the count divided by the design effect that
  the spread between tasks shows (Kish). When every observation agrees (0% or 100%) the spread
  says nothing, and each task counts once. Sound at 0%, 100% and small n.
- `bootstrap_mean`: a mean of per-task values in [0, 1] (pass^k, pass@k) with a percentile
  bootstrap over tasks, never narrower than the Wilson interval of the same mean over the number
  of tasks (a variable in [0, 1] with mean p has variance at most p(1-p)), so five tasks that all
  pass give [57%, 100%], not [100%, 100%].
- `sign_flip_p`: the two-sided p-value of a paired difference by flipping signs per task: exact
  (the binomial sign test, which is exact McNemar on one trial per task, when every difference is
  +-d; full enumeration up to 16 tasks) or Monte Carlo beyond that.
- `holm`: Holm-Bonferroni adjusted p-values for a family of tests.

Bootstrap resamples come from a seeded generator, so a report is the same every time it is built.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from itertools import product

import numpy as np
from pydantic import BaseModel

Z95 = 1.959963984540054
MIN_TASKS = 10  # a figure resting on fewer tasks is flagged `few`
BOOTSTRAP = 1000
EXACT_FLIPS = 16  # enumerate every sign pattern up to this many tasks
MONTE_CARLO_FLIPS = 20000


def wilson(successes: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (sound at 0%, 100% and small n).
    `successes` and `n` may be fractional (effective counts)."""
    if n <= 0:
        return 0.0, 1.0
    p = min(1.0, max(0.0, successes / n))
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low, high = max(0.0, centre - half), min(1.0, centre + half)
    # At the edges the formula's rounding can leave the point just outside; the interval holds it.
    return min(low, p), max(high, p)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """Probability that k of the n trials, drawn without replacement, all succeed."""
    if k > n:
        raise ValueError(f"k={k} exceeds the {n} trials")
    return math.comb(c, k) / math.comb(n, k)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k trials drawn from the n succeeds."""
    if k > n:
        raise ValueError(f"k={k} exceeds the {n} trials")
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


class Rate(BaseModel):
    """A rate with its 95% interval. `n` counts what it is a share of (episodes, errors,
    subgoals, tasks), `tasks` the distinct tasks behind it; `few` says it rests on fewer tasks
    than the report's minimum, so read it with care."""

    value: float | None = None
    low: float | None = None
    high: float | None = None
    n: int = 0
    tasks: int = 0
    few: bool = True

    @classmethod
    def empty(cls) -> Rate:
        return cls()


def clustered_rate(
    observations: Iterable[tuple[Hashable, float, float]], *, min_tasks: int = MIN_TASKS, z: float = Z95
) -> Rate:
    """A share from (task, numerator, denominator) observations, with a Wilson interval on the
    effective sample size that the between-task spread allows (see the module docstring)."""
    num: dict[Hashable, float] = {}
    den: dict[Hashable, float] = {}
    for task, y, m in observations:
        if m <= 0:
            continue
        num[task] = num.get(task, 0.0) + y
        den[task] = den.get(task, 0.0) + m
    total = sum(den.values())
    tasks = len(den)
    if tasks == 0 or total <= 0:
        return Rate(n=0, tasks=0, few=True)
    p = sum(num.values()) / total
    n_eff = effective_n(list(num.values()), list(den.values()), p)
    low, high = wilson(p * n_eff, n_eff, z)
    return Rate(value=p, low=low, high=high, n=round(total), tasks=tasks, few=tasks < min_tasks)


def effective_n(ys: Sequence[float], ms: Sequence[float], p: float) -> float:
    """Observations over the design effect of clustering: between the number of clusters (every
    cluster all alike) and the number of observations (clusters no more alike than chance)."""
    n, total = len(ms), float(sum(ms))
    floor = min(float(n), total)
    if n < 2 or p <= 0.0 or p >= 1.0:
        return floor
    cluster_var = n / (n - 1) * sum((y - p * m) ** 2 for y, m in zip(ys, ms, strict=True)) / total**2
    simple_var = p * (1 - p) / total
    if cluster_var <= 0:
        return total
    return min(total, max(floor, total * simple_var / cluster_var))


def resample(rng: np.random.Generator, n: int, draws: int = BOOTSTRAP) -> np.ndarray:
    """(draws, n) indices: each row one bootstrap resample of n units, drawn with replacement."""
    return rng.integers(0, n, size=(draws, n))


def percentile(values: np.ndarray, z: float = Z95) -> tuple[float, float]:
    tail = 100 * (1 - _normal_cdf(z))
    finite = values[~np.isnan(values)]
    if finite.size == 0:
        return math.nan, math.nan
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_mean(
    values: Sequence[float], rng: np.random.Generator, *, draws: int = BOOTSTRAP, min_tasks: int = MIN_TASKS,
    n: int | None = None,
) -> Rate:
    """The mean of per-task values in [0, 1], with a bootstrap interval over tasks widened to at
    least the Wilson interval over the number of tasks."""
    if not values:
        return Rate(n=0, tasks=0, few=True)
    x = np.asarray(values, dtype=float)
    mean = float(x.mean())
    means = x[resample(rng, len(x), draws)].mean(axis=1)
    b_low, b_high = percentile(means)
    w_low, w_high = wilson(mean * len(x), len(x))
    return Rate(value=mean, low=min(b_low, w_low), high=max(b_high, w_high), n=n if n is not None else len(x),
                tasks=len(x), few=len(x) < min_tasks)


def ratio_capped(
    numerators: Sequence[float], denominators: Sequence[float], rng: np.random.Generator, *,
    draws: int = BOOTSTRAP, min_tasks: int = MIN_TASKS,
) -> Rate:
    """min(1, mean(num) / mean(den)) over paired tasks, each value a per-task rate in [0, 1], with
    a paired bootstrap over tasks widened to at least the ratio of the two Wilson bounds."""
    if not numerators or sum(denominators) <= 0:
        return Rate(n=len(numerators), tasks=len(numerators), few=True)
    a = np.asarray(numerators, dtype=float)
    b = np.asarray(denominators, dtype=float)
    n = len(a)
    value = min(1.0, float(a.sum() / b.sum()))
    picks = resample(rng, n, draws)
    tops, bottoms = a[picks].sum(axis=1), b[picks].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(bottoms > 0, np.minimum(1.0, tops / np.where(bottoms > 0, bottoms, 1)), np.nan)
    b_low, b_high = percentile(ratios)
    a_low, a_high = wilson(a.sum(), n)
    d_low, d_high = wilson(b.sum(), n)
    w_low = min(1.0, a_low / d_high) if d_high > 0 else 0.0
    w_high = min(1.0, a_high / d_low) if d_low > 0 else 1.0
    low = w_low if math.isnan(b_low) else min(b_low, w_low)
    high = w_high if math.isnan(b_high) else max(b_high, w_high)
    return Rate(value=value, low=low, high=high, n=n, tasks=n, few=n < min_tasks)


def binomial_two_sided(k: int, n: int) -> float:
    """Exact two-sided p-value of k successes in n fair coin flips (twice the smaller tail)."""
    if n == 0:
        return 1.0
    k = min(k, n - k)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def sign_flip_p(differences: Sequence[float], rng: np.random.Generator | None = None) -> float:
    """Two-sided p-value that paired per-task differences centre on zero: under the null each
    difference is as likely negative as positive, so the statistic is the sum over random signs."""
    d = np.asarray([x for x in differences if abs(x) > 1e-12], dtype=float)
    n = len(d)
    if n == 0:
        return 1.0
    observed = abs(float(d.sum()))
    magnitudes = np.abs(d)
    if np.allclose(magnitudes, magnitudes[0]):
        return binomial_two_sided(int((d > 0).sum()), n)
    if n <= EXACT_FLIPS:
        signs = np.array(list(product((1.0, -1.0), repeat=n)))
        sums = np.abs(signs @ magnitudes)
        return float(np.mean(sums >= observed - 1e-9))
    rng = rng or np.random.default_rng(0)
    signs = rng.choice((1.0, -1.0), size=(MONTE_CARLO_FLIPS, n))
    sums = np.abs(signs @ magnitudes)
    return float((1 + np.sum(sums >= observed - 1e-9)) / (1 + MONTE_CARLO_FLIPS))


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values (None stays None and does not count as a test)."""
    indexed = sorted(((p, i) for i, p in enumerate(pvalues) if p is not None), key=lambda t: t[0])
    m = len(indexed)
    adjusted: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def _normal_cdf(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))
