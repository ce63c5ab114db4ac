"""The oracle: plays the family's reference solution through the same tools as any agent.
It shows every task is solvable with the tools given (the ceiling).

Only this built-in class is handed the reference solution (`receives_solution`), never a user's
agent that happens to have a `bind_solution` method. At the copilot level it hands each subgoal
in after playing its steps; under injected faults it retries a call that met a transient failure,
as any careful agent should.
"""

from __future__ import annotations

import asyncio
from typing import Any

from arena.types import Action, Observation, TaskView, ToolCall


class OracleAgent:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay  # seconds to wait before each action (tests interrupt runs mid-way with it)
        self._solution: list[ToolCall] = []
        self._plan: list[ToolCall] = []
        self._next = 0
        self._last: ToolCall | None = None

    def bind_solution(self, solution: list[ToolCall]) -> None:
        self._solution = [c.model_copy() for c in solution]

    async def reset(self, view: TaskView) -> None:
        self._plan = plan_for(self._solution, copilot=view.level == "copilot")
        self._next = 0
        self._last = None

    async def act(self, obs: Observation) -> Action:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self._last is not None and obs.results and obs.results[-1].fault == "error":
            call = self._last  # a transient failure: the call did not run, so run it again
        elif self._next < len(self._plan):
            call = self._plan[self._next]
            self._next += 1
        else:
            call = ToolCall(name="submit")
        self._last = call
        return Action(tool_calls=[call.model_copy(update={"id": ToolCall(name=call.name).id, "subgoal": None})])


def plan_for(solution: list[ToolCall], *, copilot: bool) -> list[ToolCall]:
    """The calls to play: the solution ending in submit; for a copilot, a hand-in (submit) after
    each subgoal's steps, the final one carrying the solution's answer."""
    calls = [c for c in solution if c.name != "submit"]
    final = next((c for c in reversed(solution) if c.name == "submit"), ToolCall(name="submit"))
    if not copilot:
        return [*calls, final]
    plan: list[ToolCall] = []
    for i, call in enumerate(calls):
        plan.append(call)
        following = calls[i + 1] if i + 1 < len(calls) else None
        if following is not None and following.subgoal and following.subgoal != call.subgoal:
            plan.append(ToolCall(name="submit"))
    return [*plan, final]


def receives_solution(agent: Any) -> bool:
    """The reference solution goes only to the built-in oracle, by exact type."""
    return type(agent) is OracleAgent
