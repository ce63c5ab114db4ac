"""Run a config to its end in this process, the way `arena run` does, and hand back the store: for
tests of agents and families that want the real runner, store and sandboxes without the CLI."""

from __future__ import annotations

import asyncio
from pathlib import Path

from arena.config import RunConfig
from arena.runner import Runner, stored_config, validate_config
from arena.store import Store


def run_to_end(config: RunConfig, *, db: str | Path = ":memory:", run_id: str = "r") -> Store:
    """Plan, store and run `config` as run `run_id` in `db` (in memory by default); returns the store."""
    store = Store(db)
    factories = validate_config(config)
    store.create_run(run_id, stored_config(config, factories), config.plan())
    asyncio.run(Runner(store, run_id, config, factories=factories).run())
    return store
