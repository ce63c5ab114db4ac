"""The flat per (agent, family, level) aggregates of the first reports, kept for `report --json`
readers and callers of `aggregate`; they are a view of the summary's groups, never computed apart.

Error episodes (infrastructure failures) are counted and shown, but never as the agent failing:
they are left out of every rate.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel

from arena.metrics.episode import episode_metrics
from arena.metrics.groups import Group
from arena.store import StoredEpisode


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


def flat(group: Group) -> Aggregate:
    o, c = group.outcomes, group.cost
    scored = o.successes + o.fails
    return Aggregate(
        agent=group.agent or "", family=group.family or "", level=group.level or "", episodes=o.episodes,
        successes=o.successes, fails=o.fails, errors=o.errors, pending=o.pending, tasks=o.tasks,
        success_rate=group.success.value, ci_low=group.success.low, ci_high=group.success.high,
        mean_score=group.mean_score,
        pass_at_k={k: r.value for k, r in group.reliability.pass_at_k.items() if r.value is not None},
        pass_hat_k={k: r.value for k, r in group.reliability.pass_hat_k.items() if r.value is not None},
        mean_steps=c.mean_steps, mean_seconds=c.mean_seconds,
        mean_tool_errors=group.reflection.errors_per_episode,
        input_tokens=c.input_tokens, output_tokens=c.output_tokens, cost_usd=c.cost_usd,
        cost_per_success=c.cost_per_success, seconds_per_success=c.seconds_per_success if scored else None,
    )


def aggregate(episodes: Iterable[StoredEpisode]) -> list[Aggregate]:
    """Per (agent, family, level) aggregates of stored episodes (results only, no steps)."""
    from arena.metrics.summary import SummaryOptions, summarize

    rows = [episode_metrics(ep, None) for ep in episodes]
    options = SummaryOptions(horizon_bootstrap=0)
    return [flat(g) for g in summarize(rows, [], options).by_family]
