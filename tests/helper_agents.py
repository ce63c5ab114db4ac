"""Agents and families used by tests through import paths (as users pass their own)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from arena.agents.oracle import OracleAgent
from arena.errors import SandboxError
from arena.protocols import Sandbox, State
from arena.types import Action, Observation, Task
from tests.minimal_family import GreetingFamily


class SlowOracle(OracleAgent):
    """The oracle, taking its time: gives a test the chance to kill a run mid-way."""

    async def act(self, obs: Observation) -> Action:
        await asyncio.sleep(float(os.environ.get("ARENA_TEST_DELAY", "0.3")))
        return await super().act(obs)


class CrashingAgent:
    async def reset(self, view: object) -> None:
        return None

    async def act(self, obs: Observation) -> Action:
        raise ValueError("agent bug")


class FlakyGreeting(GreetingFamily):
    """Setup fails on the first attempt of each task (counted in a marker file), then works."""

    name = "flaky"

    async def setup(self, task: Task, sandbox: Sandbox) -> State:
        marker = Path(os.environ["ARENA_TEST_MARKERS"]) / f"{task.seed}"
        if not marker.exists():
            marker.write_text("failed once")
            raise SandboxError("sandbox died (simulated)")
        return State()


class BrokenGreeting(GreetingFamily):
    name = "broken"

    async def setup(self, task: Task, sandbox: Sandbox) -> State:
        raise SandboxError("sandbox died (simulated)")
