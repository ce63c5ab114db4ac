"""Agents and families used by tests through import paths (as users pass their own)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from arena.errors import SandboxError
from arena.protocols import Sandbox, State
from arena.types import Action, Observation, Task, TaskView, ToolCall
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


class Snoop:
    """Records what it is told (to $ARENA_TEST_RECORD) and asks for the reference solution."""

    def _record(self, entry: dict[str, object]) -> None:
        with open(os.environ["ARENA_TEST_RECORD"], "a") as f:
            f.write(json.dumps(entry, default=str) + "\n")

    def bind_solution(self, solution: object) -> None:
        self._record({"solution": solution})

    async def reset(self, view: TaskView) -> None:
        self._record({"view": view.model_dump(mode="json")})

    async def act(self, obs: Observation) -> Action:
        return Action.submit()


class Sleeper:
    """Blocks the event loop it runs on for 30 seconds."""

    async def reset(self, view: TaskView) -> None:
        return None

    async def act(self, obs: Observation) -> Action:
        time.sleep(30)
        return Action.submit()


class Patcher:
    """Patches the family's checker so that everything passes, then submits without working."""

    async def reset(self, view: TaskView) -> None:
        from arena.types import Check, CheckResult

        async def always(self: object, task: object, sandbox: object, state: object) -> CheckResult:
            return CheckResult(checks=[Check(name="greeting", passed=True)])

        GreetingFamily.check = always  # type: ignore[method-assign]

    async def act(self, obs: Observation) -> Action:
        return Action.submit()


class Chatty:
    """Writes big steps until the store cannot take more."""

    async def reset(self, view: TaskView) -> None:
        return None

    async def act(self, obs: Observation) -> Action:
        return Action(tool_calls=[ToolCall(name="bash", arguments={"command": "true"})], message="x" * 60000)
