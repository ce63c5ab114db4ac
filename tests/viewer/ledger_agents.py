"""Scripted agents on the metrics tests' ledger family whose figures are known by construction, for
the plots and the paired comparison: success falls with the task's human minutes (so a time
horizon can be fitted), trials differ (so pass^k falls with k), each step costs a known amount (so
there is a cost frontier with a dominated agent), and transient faults are retried or not."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from arena.store import Store
from arena.types import Action, EpisodeKey, Usage
from tests.metrics.ledger import Plan, chance, give_up_on_faults, minutes_of, retry_faults, run, values_for

RUN_ID = "plotted"
SEEDS = range(16)  # task lengths 0.5 to 64 minutes, each twice
HAND_IN = Action.submit()


def succeeds(horizon: float, slope: float = 1.5) -> Callable[[EpisodeKey, str], bool]:
    """Success with chance 1 / (1 + (minutes / horizon) ** slope): 50% at `horizon` minutes."""
    def rule(key: EpisodeKey, salt: str) -> bool:
        p = 1 / (1 + math.exp(slope * (math.log2(minutes_of(key.seed)) - math.log2(horizon))))
        return chance(key, salt) < p
    return rule


def ledger_agent(name: str, rule: Callable[[EpisodeKey, str], bool], cost: float, *, retry: bool = True,
                 salt: str | None = None) -> Callable[[EpisodeKey], Plan]:
    """Writes both notes (the first one wrong when `rule` says it fails), each step billed `cost`."""
    def make(key: EpisodeKey) -> Plan:
        v = values_for(key)
        usage = Usage(input_tokens=1000, output_tokens=100, cost_usd=cost, model=f"{name}-model")
        alpha = v["alpha"] if rule(key, salt if salt is not None else name) else "wrong"
        steps = [Action.call("write_note", usage=usage, key="alpha", value=alpha),
                 Action.call("write_note", usage=usage, key="beta", value=v["beta"])]
        if key.level == "copilot":
            steps.insert(1, HAND_IN)
        return Plan(steps, react=retry_faults if retry else give_up_on_faults)
    return make


# steady and twin play by the same rule with their own dice: no real difference between them.
AGENTS: dict[str, Callable[[EpisodeKey], Any]] = {
    "sharp": ledger_agent("sharp", succeeds(40), 0.004),
    "steady": ledger_agent("steady", succeeds(6), 0.001),
    "twin": ledger_agent("twin", succeeds(6), 0.001),
    "pricey": ledger_agent("pricey", succeeds(3), 0.006, retry=False),  # worse and dearer than sharp: dominated
}


def plotted_run(db: Path) -> Store:
    return run(db, RUN_ID, AGENTS, seeds=SEEDS, trials=3, levels=("copilot", "agent"), faults=[0.0, 0.3])


def eight_run(db: Path) -> Store:
    """Eight agents with horizons from 1 to 64 minutes, at the agent level: are the plots still readable?"""
    agents = {f"agent-{i}-with-a-long-name": ledger_agent(f"a{i}", succeeds(2 ** (i * 6 / 7)), 0.001 * (i + 1))
              for i in range(8)}
    return run(db, "eight", agents, seeds=range(12), trials=2)


def before_after(db: Path) -> Store:
    """Two runs of the same two agents: `model` got better, `other` played the same (same rule, same dice)."""
    other = ledger_agent("other", succeeds(6), 0.001)
    run(db, "before", {"model": ledger_agent("model", succeeds(2), 0.002), "other": other}, seeds=SEEDS)
    return run(db, "after", {"model": ledger_agent("model", succeeds(60), 0.002), "other": other}, seeds=SEEDS)


# `python -m tests.viewer.ledger_agents plotted|eight|before-after DB`: the viewer tests make these runs in a
# process of their own (the real runner calls asyncio.run, which an open Playwright session forbids).
if __name__ == "__main__":
    {"plotted": plotted_run, "eight": eight_run, "before-after": before_after}[sys.argv[1]](Path(sys.argv[2]))
