"""`arena compare` names agents as their episodes do: by label, for `label=spec` agents too."""

from __future__ import annotations

import asyncio

from arena.config import RunConfig
from arena.metrics.sides import compare
from arena.runner import Runner, stored_config, validate_config
from arena.store import Store


def test_labelled_agents_are_compared_by_their_labels() -> None:
    config = RunConfig(agents=["ceiling=oracle", "floor=random"], families=["helpdesk"], seeds=list(range(12)))
    store = Store(":memory:")
    factories = validate_config(config)
    store.create_run("r", stored_config(config, factories), config.plan())
    asyncio.run(Runner(store, "r", config, factories=factories).run())
    comparison = compare(store, [], run_id="r")
    (pair,) = comparison.pairs
    success = next(row for row in pair.rows if row.metric == "success" and row.family is None)
    assert {s.label for s in comparison.sides} == {"ceiling", "floor"}
    assert success.tasks == 12 and success.verdict != "no clear difference"
