"""Agents and families used by tests through import paths (as users pass their own)."""

from __future__ import annotations

import os
from pathlib import Path

from arena.errors import SandboxError
from arena.protocols import Sandbox, State
from arena.types import Action, Observation, Task
from tests.minimal_family import GreetingFamily


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
