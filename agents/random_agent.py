"""The random agent: random valid tool calls, then submit. The floor every agent must beat."""

from __future__ import annotations

import random
from typing import Any

from arena.types import Action, Observation, TaskView, ToolCall, ToolSpec

WORDS = ["a", "data", "out", "report", "x", "1", "logs", "answer.txt", ".", "README.md", "old", "new"]


class RandomAgent:
    def __init__(self, seed: int = 0, max_steps: int = 8) -> None:
        self.rng = random.Random(seed)
        self.max_steps = max_steps
        self.tools: list[ToolSpec] = []
        self.taken = 0

    async def reset(self, view: TaskView) -> None:
        self.tools = [t for t in view.tools if t.name != "submit"]
        self.taken = 0
        self.budget = self.rng.randint(1, min(self.max_steps, view.limits.max_steps - 1) or 1)

    async def act(self, obs: Observation) -> Action:
        self.taken += 1
        if self.taken > self.budget or not self.tools:
            return Action.submit(answer=self.rng.choice(WORDS))
        tool = self.rng.choice(self.tools)
        args = {name: self._value(schema) for name, schema in tool.parameters.get("properties", {}).items()}
        return Action(tool_calls=[ToolCall(name=tool.name, arguments=args)])

    def _value(self, schema: dict[str, Any]) -> Any:
        kind = schema.get("type")
        if "enum" in schema:
            return self.rng.choice(schema["enum"])
        if kind is None and "anyOf" in schema:
            return self._value(self.rng.choice([s for s in schema["anyOf"] if s.get("type") != "null"] or [{}]))
        if kind == "integer":
            return self.rng.randint(0, 20)
        if kind == "number":
            return round(self.rng.uniform(0, 100), 2)
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "array":
            return [self._value(schema.get("items", {})) for _ in range(self.rng.randint(0, 2))]
        if kind == "object":
            return {}
        return " ".join(self.rng.choice(WORDS) for _ in range(self.rng.randint(1, 2)))
