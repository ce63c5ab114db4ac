"""Fixtures for agent tests: real runs (Runner + Store + the `files` family, process sandbox)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from arena.runner import LimitOverrides, RunConfig, Runner, new_run_id, stored_config, validate_config
from arena.sandbox import SandboxConfig
from arena.store import Store

RunAgents = Callable[..., Awaitable[tuple[Store, str]]]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "arena.db"


@pytest.fixture
def run_agents(db_path: Path) -> RunAgents:
    """`await run_agents(specs, seeds=..., options=..., limits=...)`: one stored run to its end."""

    async def run(
        agents: list[str],
        *,
        seeds: list[int] | None = None,
        options: dict[str, dict[str, Any]] | None = None,
        limits: dict[str, Any] | None = None,
        max_attempts: int = 1,
        concurrency: int = 2,
    ) -> tuple[Store, str]:
        config = RunConfig(
            agents=agents, families=["files"], seeds=seeds or [0],
            sandbox=SandboxConfig(kind="process", unsafe_local=True), concurrency=concurrency,
            max_attempts=max_attempts, limits=LimitOverrides(**(limits or {})), agent_options=options or {},
        )
        factories = validate_config(config)
        store = Store(db_path)
        run_id = new_run_id()
        store.create_run(run_id, stored_config(config, factories), config.plan())
        await Runner(store, run_id, config, factories=factories).run()
        return store, run_id

    return run
