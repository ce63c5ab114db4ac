"""A scripted agent: replays a fixed list of actions. The test double for the episode loop,
public so that users can test their own families with it."""

from __future__ import annotations

from collections.abc import Iterable

from arena.types import Action, Observation, TaskView


class ScriptedAgent:
    def __init__(self, actions: Iterable[Action]) -> None:
        self.actions = list(actions)
        self.observations: list[Observation] = []
        self.view: TaskView | None = None

    async def reset(self, view: TaskView) -> None:
        self.view = view
        self.observations = []

    async def act(self, obs: Observation) -> Action:
        self.observations.append(obs)
        index = len(self.observations) - 1
        return self.actions[index] if index < len(self.actions) else Action.submit()
