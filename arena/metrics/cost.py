"""Cost from stored tokens, re-priced on request, and the cost-vs-success frontier.

Each step's `Usage` carries its tokens (and, where the agent knows it, the model's name). With a
price table given at report time (the format of agents/prices.toml: `[models."NAME"]` with
`input` and `output` in USD per million tokens) the cost of every step is recomputed from its
tokens: the step's model, else the agent's model as stored with the run, looked up as the agents
look it up (exact name, then without a date suffix, then without a provider prefix). A model the
table does not know keeps the cost stored with the run. An episode's cost is unknown when any of
its steps that used tokens has an unknown cost: an unknown is never shown as zero.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from arena.agents.openai_settings import Price, cost_usd, load_prices, price_for
from arena.types import StepRecord, Usage

PriceTable = dict[str, Price]
CostStatus = Literal["ok", "no success", "unknown", "no model"]


def price_table(source: dict[str, Any] | str | None) -> PriceTable | None:
    """A report-time price table: a path to a TOML file, or a table; merged over agents/prices.toml."""
    if source is None:
        return None
    if isinstance(source, str):
        return load_prices(source)
    return load_prices({name: Price.model_validate(entry) for name, entry in source.items()})


def episode_usage(
    steps: list[StepRecord] | None, stored: Usage, *, prices: PriceTable | None = None, model: str | None = None,
) -> tuple[int, int, float | None]:
    """(input tokens, output tokens, cost) of one episode, re-priced from its steps when a table is given."""
    if prices is None or steps is None:
        return stored.input_tokens, stored.output_tokens, stored.cost_usd
    tokens_in = tokens_out = 0
    total = 0.0
    known = True
    any_cost = False
    for step in steps:
        usage = step.action.usage
        if usage is None:
            continue
        tokens_in += usage.input_tokens
        tokens_out += usage.output_tokens
        name = getattr(usage, "model", None) or model
        price = price_for(name, prices) if name else None
        cost = cost_usd(price, usage.input_tokens, usage.output_tokens) if price is not None else usage.cost_usd
        if cost is None:
            if usage.input_tokens or usage.output_tokens:
                known = False
            continue
        total += cost
        any_cost = True
    if not known:
        return tokens_in, tokens_out, None
    return tokens_in, tokens_out, round(total, 8) if any_cost else stored.cost_usd


def per_success(cost: float | None, successes: int, used_model: bool) -> tuple[float | None, CostStatus]:
    """Cost per success and how to read it: with a known cost and no success it is "no success"."""
    if not used_model:
        return None, "no model"
    if cost is None:
        return None, "unknown"
    if successes == 0:
        return None, "no success"
    return cost / successes, "ok"


class FrontierPoint(BaseModel):
    """One agent at one level on the cost-vs-success plane. `dominated_by` lists the agents that
    are at least as successful for at most the cost (one of the two strictly)."""

    agent: str
    level: str | None
    success: float | None
    success_low: float | None = None
    success_high: float | None = None
    cost: float | None  # mean per episode, in `axis` units
    axis: Literal["cost", "tokens"]
    dominated: bool = False
    dominated_by: list[str] = []
    on_frontier: bool = False


def frontier(points: list[FrontierPoint]) -> list[FrontierPoint]:
    """Mark the dominated points (among those with both a success rate and a cost)."""
    placed = [p for p in points if p.success is not None and p.cost is not None]
    for p in placed:
        p.dominated_by = sorted(
            q.agent for q in placed
            if q is not p and q.success >= p.success and q.cost <= p.cost  # type: ignore[operator]
            and (q.success > p.success or q.cost < p.cost)  # type: ignore[operator]
        )
        p.dominated = bool(p.dominated_by)
        p.on_frontier = not p.dominated
    return points
