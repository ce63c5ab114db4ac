"""The oracle: plays the family's reference solution through the same tools as any agent.
It shows every task is solvable with the tools given (the ceiling)."""

from __future__ import annotations

from arena.types import Action, Observation, TaskView, ToolCall


class OracleAgent:
    def __init__(self) -> None:
        self._plan: list[ToolCall] = []
        self._next = 0

    def bind_solution(self, solution: list[ToolCall]) -> None:
        self._plan = [c.model_copy() for c in solution]
        if not self._plan or self._plan[-1].name != "submit":
            self._plan.append(ToolCall(name="submit"))

    async def reset(self, view: TaskView) -> None:
        self._next = 0

    async def act(self, obs: Observation) -> Action:
        if self._next >= len(self._plan):
            return Action.submit()
        call = self._plan[self._next]
        self._next += 1
        return Action(tool_calls=[call.model_copy(update={"id": ToolCall(name=call.name).id})])
