"""Agents the viewer tests run through import paths, as users pass their own."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from arena.types import Action, Observation, TaskView, ToolCall, Usage

# Text that would do harm if a viewer took it as HTML or Rich markup.
HOSTILE_MESSAGE = "[bold]not bold[/bold] :thumbs_up: <img src=x onerror=\"window.pwned='message'\">"
HOSTILE_OUTPUT = "<script>window.pwned='output'</script>"
HOSTILE_ANSWER = "</script><script>window.pwned='answer'</script>"


class MarkupAgent:
    """Writes markup everywhere it can: its message, a command's output, its answer; reports usage."""

    async def reset(self, view: TaskView) -> None:
        return None

    async def act(self, obs: Observation) -> Action:
        usage = Usage(input_tokens=120, output_tokens=30, cost_usd=0.0004, model="markup-model")
        if obs.step == 0:
            command = f"echo \"{HOSTILE_OUTPUT}\"; seq 1 200"
            return Action(tool_calls=[ToolCall(name="bash", arguments={"command": command})],
                          message=HOSTILE_MESSAGE, usage=usage)
        return Action.submit(HOSTILE_ANSWER, usage=usage)


class GatedAgent:
    """Lists the work directory, then waits until the file named by $ARENA_TEST_GATE exists (at most
    60 s) before it submits: an episode that is visibly under way while a test watches."""

    async def reset(self, view: TaskView) -> None:
        return None

    async def act(self, obs: Observation) -> Action:
        if obs.step == 0:
            return Action.call("list_dir", path=".")
        gate = Path(os.environ["ARENA_TEST_GATE"])
        deadline = time.monotonic() + 60
        while not gate.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return Action.submit("done waiting")
