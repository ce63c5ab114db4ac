"""Metrics: per episode results aggregated per (agent, family, level), with confidence intervals.

Error episodes (infrastructure failures) are counted and shown, but never as the agent failing:
they are left out of every rate. pass@k and pass^k use the unbiased estimators over the trials of
each task (tau-bench): pass^k is the mean over tasks of C(c, k) / C(n, k), the chance that k
trials drawn from the n run all succeed; pass@k is the mean of 1 - C(n - c, k) / C(n, k).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from statistics import mean

from pydantic import BaseModel

from arena.store import StoredEpisode

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (sound at 0%, 100% and small n)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


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


class Aggregate(BaseModel):
    agent: str
    family: str
    level: str
    episodes: int
    successes: int
    fails: int
    errors: int
    pending: int
    tasks: int
    success_rate: float | None
    ci_low: float | None
    ci_high: float | None
    mean_score: float | None
    pass_at_k: dict[int, float]
    pass_hat_k: dict[int, float]
    mean_steps: float | None
    mean_seconds: float | None
    mean_tool_errors: float | None
    input_tokens: int
    output_tokens: int
    cost_usd: float | None  # None when any episode's price was unknown
    cost_per_success: float | None
    seconds_per_success: float | None


def aggregate(episodes: Iterable[StoredEpisode]) -> list[Aggregate]:
    groups: dict[tuple[str, str, str], list[StoredEpisode]] = defaultdict(list)
    for ep in episodes:
        groups[(ep.key.agent, ep.key.family, ep.key.level)].append(ep)
    return [_aggregate(key, eps) for key, eps in groups.items()]


def _aggregate(key: tuple[str, str, str], eps: list[StoredEpisode]) -> Aggregate:
    done = [e.result for e in eps if e.result is not None]
    scored = [r for r in done if r.outcome != "error"]
    successes = sum(r.outcome == "success" for r in scored)
    n = len(scored)
    low, high = wilson(successes, n) if n else (None, None)

    # Trials per task, leaving errors out; k runs up to the smallest trial count over tasks.
    per_task: dict[tuple[str, int], list[bool]] = defaultdict(list)
    for e in eps:
        if e.result is not None and e.result.outcome != "error":
            per_task[(e.key.split, e.key.seed)].append(e.result.outcome == "success")
    max_k = min((len(v) for v in per_task.values()), default=0)
    pass_at = {k: mean(pass_at_k(len(v), sum(v), k) for v in per_task.values()) for k in range(1, max_k + 1)}
    pass_hat = {k: mean(pass_hat_k(len(v), sum(v), k) for v in per_task.values()) for k in range(1, max_k + 1)}

    costs = [r.usage.cost_usd for r in done]
    cost = None if not done or any(c is None for c in costs) else sum(c for c in costs if c is not None)
    seconds = sum(r.seconds for r in done)
    return Aggregate(
        agent=key[0],
        family=key[1],
        level=key[2],
        episodes=len(eps),
        successes=successes,
        fails=n - successes,
        errors=len(done) - n,
        pending=len(eps) - len(done),
        tasks=len({(e.key.split, e.key.seed) for e in eps}),
        success_rate=successes / n if n else None,
        ci_low=low,
        ci_high=high,
        mean_score=mean(r.score for r in scored) if scored else None,
        pass_at_k=pass_at,
        pass_hat_k=pass_hat,
        mean_steps=mean(r.steps for r in scored) if scored else None,
        mean_seconds=mean(r.seconds for r in scored) if scored else None,
        mean_tool_errors=mean(r.tool_errors for r in scored) if scored else None,
        input_tokens=sum(r.usage.input_tokens for r in done),
        output_tokens=sum(r.usage.output_tokens for r in done),
        cost_usd=cost,
        cost_per_success=cost / successes if cost is not None and successes else None,
        seconds_per_success=seconds / successes if successes else None,
    )
