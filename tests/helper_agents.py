"""Agents and families used by tests through import paths (as users pass their own)."""

from __future__ import annotations

import gc
import json
import os
import time
from pathlib import Path

from arena.errors import SandboxError
from arena.protocols import Sandbox, State
from arena.types import Action, Check, CheckResult, Observation, Subgoal, Task, TaskView, ToolCall
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


record_gc_thresholds: list[tuple[int, ...]] = []


class GcWatchingAgent:
    """Records the garbage collector's thresholds as it sees them mid-run, then submits."""

    async def reset(self, view: TaskView) -> None:
        record_gc_thresholds.append(gc.get_threshold())

    async def act(self, obs: Observation) -> Action:
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


class TwoStepGreeting(GreetingFamily):
    """Two subgoals, each with its own check and its own tagged reference step."""

    name = "twostep"

    def generate(self, seed: int, split: str) -> Task:
        task = super().generate(seed, split)
        return task.model_copy(update={
            "family": self.name,
            "instructions": ["Write the greeting into greeting.txt, then write 'Regards' into signature.txt."] * 3,
            "subgoals": [
                Subgoal(name="file", description="greeting.txt holds the greeting", checks=["greeting"]),
                Subgoal(name="signed", description="signature.txt says Regards", checks=["signature"]),
            ],
        })

    async def check(self, task: Task, sandbox: Sandbox, state: State) -> CheckResult:
        result = await super().check(task, sandbox, state)
        try:
            text = (await sandbox.read_file("signature.txt")).decode().strip()
        except OSError:
            text = None
        return CheckResult(checks=[*result.checks, Check(name="signature", passed=text == "Regards",
                                                          detail=str(text))])

    def solution(self, task: Task) -> list[ToolCall]:
        return [
            ToolCall(name="write_file", arguments={"path": "greeting.txt", "content": task.params["expected"]},
                     subgoal="file"),
            ToolCall(name="write_file", arguments={"path": "signature.txt", "content": "Regards"}, subgoal="signed"),
        ]


class MarkupFamily(GreetingFamily):
    """A family whose text looks like Rich markup and emoji codes: it must be shown as written."""

    name = "markup"

    def generate(self, seed: int, split: str) -> Task:
        task = super().generate(seed, split)
        text = "Write [bold]it[/bold] :ok: into greeting.txt [/]"
        return task.model_copy(update={"family": self.name, "template": "[red]greet[/red]", "instructions": [text] * 3})
