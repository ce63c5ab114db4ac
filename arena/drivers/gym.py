"""Gymnasium view: a synchronous wrapper over the one episode loop (`arena.episode.Episode`).

    env = gymnasium.make("arena/files-v0", level="agent", split="dev", sandbox="bwrap")   # or copilot, worker
    obs, info = env.reset(seed=3)
    obs, reward, terminated, truncated, info = env.step('{"name": "list_dir", "arguments": {}}')

Observations and actions are JSON text (ASCII), so any policy, including a language model, can
read and write them. The reward is the check score on the final step and 0 before; `terminated`
means the agent submitted, `truncated` that a limit ended the episode. `level` builds the same
wrapper stack the runner builds: the copilot's hand-ins and help, the worker's job and faults.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import string
from typing import Any

import gymnasium
from gymnasium import spaces

from arena.attempt import OneOff, episode_sandbox
from arena.errors import InfraError
from arena.levels import build_episode, default_fault_rate
from arena.protocols import EpisodeEnv, Family
from arena.registry import FAMILIES, load_family
from arena.sandbox import SandboxConfig
from arena.tools.faults import FaultConfig
from arena.types import Action, EpisodeResult, Level, Observation, Split, ToolCall

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
        faults: float | None = None,
        render_mode: str | None = None,
    ) -> None:
        self.family: Family = load_family(family)
        if level == "worker":
            from arena.levels.worker import JobFamily

            self.family = JobFamily(family, [family])
        self.level: Level = level
        self.split: Split = split
        self.sandbox_config = SandboxConfig(kind=sandbox, unsafe_local=unsafe_local)  # type: ignore[arg-type]
        self.paraphrase = paraphrase
        rate = default_fault_rate(level) if faults is None else faults
        self.faults = FaultConfig(rate=rate)
        self.render_mode = render_mode
        self.observation_space = spaces.Text(max_length=MAX_TEXT, min_length=0, charset=CHARSET)
        self.action_space = spaces.Text(max_length=4096, min_length=0, charset=CHARSET)
        self._loop = asyncio.new_event_loop()
        self._stack: contextlib.AsyncExitStack | None = None
        self._episode: EpisodeEnv | None = None
        self._result: EpisodeResult | None = None
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
            "results": [
                {"name": r.name, "output": r.output, "is_error": r.is_error, "fault": r.fault} for r in obs.results
            ],
            "note": obs.note,
        }
        self._last = json.dumps(data, ensure_ascii=True)
        return self._last

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        self._teardown()
        task_seed = seed if seed is not None else int(self.np_random.integers(0, 2**31 - 1))
        task = self.family.generate(task_seed, self.split)
        self._stack = contextlib.AsyncExitStack()
        try:
            sandbox = self._run(self._stack.enter_async_context(
                episode_sandbox(self.family, OneOff(self.sandbox_config), labels={})
            ))
        except InfraError:
            self._teardown()
            raise
        self._episode = build_episode(
            self.family, task, sandbox, level=self.level, paraphrase=self.paraphrase, faults=self.faults
        )
        obs = self._run(self._episode.start())
        info = {"task_id": self._episode.view().task_id, "solution_steps": len(self.family.solution(task))}
        return self._render_obs(obs), info

    def step(self, action: Action | dict[str, Any] | str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if self._episode is None:
            raise gymnasium.error.ResetNeeded("call reset() before step()")
        episode = self._episode
        parsed = parse_action(action)
        # Deterministic call ids keep the observation a function of the actions alone.
        step_no = len(episode.unwrapped.steps) + 1
        calls = [c.model_copy(update={"id": f"call_{step_no}_{i}"}) for i, c in enumerate(parsed.tool_calls)]
        obs = self._run(episode.step(parsed.model_copy(update={"tool_calls": calls})))
        info: dict[str, Any] = {
            "tool_errors": sum(r.is_error for r in obs.results),
            "usage": episode.unwrapped.usage.model_dump(),
        }
        reward = 0.0
        if episode.done:
            if self._result is None:
                self._result = self._run(episode.finish())
            result = self._result
            reward = result.score
            info.update(outcome=result.outcome, termination=result.termination,
                        checks={c.name: c.passed for c in result.checks})
        terminated = episode.unwrapped.termination == "submitted"
        truncated = episode.done and not terminated
        return self._render_obs(obs), reward, terminated, truncated, info

    def render(self) -> str | None:
        return self._last if self.render_mode == "ansi" else None

    def _teardown(self) -> None:
        if self._stack is not None:
            self._run(self._stack.aclose())
        self._stack = None
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
            gymnasium.register(id=env_id, entry_point="arena.drivers.gym:ArenaEnv", kwargs={"family": name})
