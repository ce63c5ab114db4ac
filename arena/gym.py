"""Gymnasium view: a synchronous wrapper over the one episode loop (`arena.episode.Episode`).

    env = gymnasium.make("arena/files-v0", level="agent", split="dev", sandbox="bwrap")
    obs, info = env.reset(seed=3)
    obs, reward, terminated, truncated, info = env.step('{"name": "list_dir", "arguments": {}}')

Observations and actions are JSON text (ASCII), so any policy, including a language model, can
read and write them. The reward is the check score on the final step and 0 before; `terminated`
means the agent submitted, `truncated` that a limit ended the episode.
"""

from __future__ import annotations

import asyncio
import json
import string
from typing import Any

import gymnasium
from gymnasium import spaces

from arena.episode import Episode
from arena.errors import InfraError
from arena.protocols import Sandbox
from arena.registry import FAMILIES, load_family
from arena.sandbox import NullSandbox, SandboxConfig, open_sandbox
from arena.types import Action, Level, Observation, Split, ToolCall

MAX_TEXT = 1_000_000
CHARSET = string.printable  # observations are ASCII JSON (non-ASCII is \u-escaped)


def parse_action(action: Action | dict[str, Any] | str) -> Action:
    """An action as the `Action` model, a dict, or JSON text: `{"tool_calls": [...]}` or a single
    call `{"name": ..., "arguments": {...}}`. Anything else becomes an action the episode reports
    back to the agent as unreadable; it never raises."""
    if isinstance(action, Action):
        return action
    data: Any = action
    if isinstance(action, str):
        try:
            data = json.loads(action)
        except json.JSONDecodeError as e:
            return Action(parse_error=f"not JSON ({e.msg} at position {e.pos})")
    if isinstance(data, dict):
        try:
            if "tool_calls" in data:
                return Action.model_validate(data)
            if "name" in data:
                return Action(tool_calls=[ToolCall.model_validate(data)])
        except ValueError as e:
            return Action(parse_error=f"not an action: {str(e)[:300]}")
    return Action(parse_error='expected {"name": TOOL, "arguments": {...}} or {"tool_calls": [...]}')


class ArenaEnv(gymnasium.Env[str, str]):
    metadata = {"render_modes": ["ansi"]}

    def __init__(
        self,
        family: str,
        level: Level = "agent",
        split: Split = "dev",
        sandbox: str = "bwrap",
        unsafe_local: bool = False,
        paraphrase: int = 0,
        render_mode: str | None = None,
    ) -> None:
        self.family = load_family(family)
        self.level: Level = level
        self.split: Split = split
        self.sandbox_config = SandboxConfig(kind=sandbox, unsafe_local=unsafe_local)  # type: ignore[arg-type]
        self.paraphrase = paraphrase
        self.render_mode = render_mode
        self.observation_space = spaces.Text(max_length=MAX_TEXT, min_length=0, charset=CHARSET)
        self.action_space = spaces.Text(max_length=4096, min_length=0, charset=CHARSET)
        self._loop = asyncio.new_event_loop()
        self._episode: Episode | None = None
        self._sandbox: Sandbox | None = None
        self._last = ""

    def _run(self, coro: Any) -> Any:
        return self._loop.run_until_complete(coro)

    def _render_obs(self, obs: Observation) -> str:
        assert self._episode is not None
        view = self._episode.view()
        data = {
            "task_id": view.task_id,
            "instruction": view.instruction,
            "tools": [t.model_dump() for t in view.tools],
            "step": obs.step,
            # Call ids and timings are left out: they would make identical episodes look different.
            "results": [{"name": r.name, "output": r.output, "is_error": r.is_error} for r in obs.results],
            "note": obs.note,
        }
        self._last = json.dumps(data, ensure_ascii=True)
        return self._last

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        self._teardown()
        task_seed = seed if seed is not None else int(self.np_random.integers(0, 2**31 - 1))
        task = self.family.generate(task_seed, self.split)
        if self.family.image is None:
            self._sandbox = NullSandbox()
        else:
            self._sandbox = self._run(open_sandbox(self.sandbox_config, image=self.family.image, labels={}))
        self._episode = Episode(self.family, task, self._sandbox, level=self.level, paraphrase=self.paraphrase)
        obs = self._run(self._episode.start())
        return self._render_obs(obs), {"task_id": task.id, "solution_steps": len(self.family.solution(task))}

    def step(self, action: Action | dict[str, Any] | str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if self._episode is None:
            raise gymnasium.error.ResetNeeded("call reset() before step()")
        episode = self._episode
        parsed = parse_action(action)
        # Deterministic call ids keep the observation a function of the actions alone.
        step_no = len(episode.steps) + 1
        calls = [c.model_copy(update={"id": f"call_{step_no}_{i}"}) for i, c in enumerate(parsed.tool_calls)]
        try:
            obs = self._run(episode.step(parsed.model_copy(update={"tool_calls": calls})))
        except InfraError as e:
            episode.stop("infra_error", str(e))
            obs = Observation(step=len(episode.steps), note=f"infrastructure failed: {e}", done=True)
        info: dict[str, Any] = {
            "tool_errors": sum(r.is_error for r in obs.results),
            "usage": episode.usage.model_dump(),
        }
        reward = 0.0
        if episode.done:
            if self._result is None:
                self._result = self._run(episode.finish())
            result = self._result
            reward = result.score
            info.update(outcome=result.outcome, termination=result.termination,
                        checks={c.name: c.passed for c in result.checks})
        terminated = episode.termination == "submitted"
        truncated = episode.done and not terminated
        return self._render_obs(obs), reward, terminated, truncated, info

    def render(self) -> str | None:
        return self._last if self.render_mode == "ansi" else None

    def _teardown(self) -> None:
        if self._sandbox is not None:
            self._run(self._sandbox.close())
        self._sandbox = None
        self._episode = None
        self._result = None

    def close(self) -> None:
        if not self._loop.is_closed():
            self._teardown()
            self._loop.close()
        super().close()


def register_families() -> None:
    """Register `arena/<family>-v0` for every known family (lazily: nothing is imported here)."""
    for name in FAMILIES:
        env_id = f"arena/{name}-v0"
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point="arena.gym:ArenaEnv", kwargs={"family": name})
