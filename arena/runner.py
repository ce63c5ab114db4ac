"""Plan and execute a run: agents x tasks x levels x trials, on asyncio with bounded concurrency.

The plan is a deterministic list of episode keys stored before anything runs. Each episode gets a
fresh agent and a fresh sandbox; infrastructure failures are retried up to `max_attempts` and end as
`error` after that, never as the agent failing. Cancelling (Ctrl-C) puts in-flight episodes back to
pending, so `--resume` finishes exactly what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from arena.episode import run_episode
from arena.errors import InfraError
from arena.protocols import Family, Sandbox
from arena.registry import AgentFactory, agent_factory, load_family
from arena.sandbox import NullSandbox, SandboxConfig, check_config, open_sandbox
from arena.store import Store
from arena.types import EpisodeKey, EpisodeResult, Level, Limits, Split, Task

IMPLEMENTED_LEVELS: tuple[Level, ...] = ("agent",)


class LimitOverrides(BaseModel):
    """Per-run overrides of the tasks' own limits; unset fields keep the task's value."""

    model_config = ConfigDict(extra="forbid")

    max_steps: int | None = Field(None, ge=1)
    max_seconds: float | None = Field(None, gt=0)
    tool_timeout: float | None = Field(None, gt=0)
    max_tokens: int | None = Field(None, ge=1)
    max_cost_usd: float | None = Field(None, gt=0)

    def apply(self, limits: Limits) -> Limits:
        return limits.model_copy(update=self.model_dump(exclude_none=True))


class RunConfig(BaseModel):
    """Everything that defines a run. Stored with the run (minus secrets) so it can be repeated."""

    model_config = ConfigDict(extra="forbid")

    agents: list[str] = Field(min_length=1)
    families: list[str] = Field(min_length=1)
    seeds: list[int] = Field(min_length=1)
    splits: list[Split] = Field(default_factory=lambda: ["dev"], min_length=1)
    levels: list[Level] = Field(default_factory=lambda: ["agent"], min_length=1)
    trials: int = Field(1, ge=1, le=1000)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    concurrency: int = Field(2, ge=1, le=256)
    max_attempts: int = Field(3, ge=1, le=20)
    limits: LimitOverrides = Field(default_factory=LimitOverrides)
    agent_options: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("levels")
    @classmethod
    def _levels_implemented(cls, levels: list[Level]) -> list[Level]:
        missing = [lv for lv in levels if lv not in IMPLEMENTED_LEVELS]
        if missing:
            raise ValueError(f"level(s) {missing} are not available yet; use --level agent")
        return levels

    @model_validator(mode="after")
    def _unique(self) -> RunConfig:
        for name in ("agents", "families", "seeds", "splits", "levels"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise ValueError(f"{name} lists a value twice: {values}")
        return self

    def plan(self) -> list[EpisodeKey]:
        """The deterministic episode list. Trials are the outer loop and agents the inner one, so
        a partial run still compares agents on the same tasks."""
        return [
            EpisodeKey(agent=a, family=f, split=sp, seed=s, level=lv, trial=t)
            for t in range(self.trials)
            for f in self.families
            for sp in self.splits
            for s in self.seeds
            for lv in self.levels
            for a in self.agents
        ]


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


EpisodeDone = Callable[[EpisodeKey, EpisodeResult], None]


class Runner:
    """Executes the unfinished episodes of one stored run."""

    def __init__(
        self,
        store: Store,
        run_id: str,
        config: RunConfig,
        *,
        factories: dict[str, AgentFactory] | None = None,
        on_done: EpisodeDone | None = None,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.config = config
        self.on_done = on_done
        self.families: dict[str, Family] = {name: load_family(name) for name in config.families}
        self.factories = factories or {
            spec: agent_factory(spec, config.agent_options.get(spec)) for spec in config.agents
        }
        self._sandboxes = asyncio.Semaphore(config.concurrency)

    async def run(self) -> None:
        keys = self.store.unfinished(self.run_id)
        self.store.set_run_status(self.run_id, "running")
        tasks = [asyncio.create_task(self._episode(key)) for key in keys]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.store.set_run_status(self.run_id, "interrupted")
            raise
        self.store.set_run_status(self.run_id, "finished")

    async def _episode(self, key: EpisodeKey) -> None:
        family = self.families[key.family]
        task = family.generate(key.seed, key.split)
        limits = self.config.limits.apply(task.limits)
        async with self._sandboxes:
            try:
                result = await self._attempts(key, family, task, limits)
            except asyncio.CancelledError:
                self.store.release(self.run_id, key)
                raise
        self.store.finish_episode(self.run_id, key, result)
        if self.on_done is not None:
            self.on_done(key, result)

    async def _attempts(self, key: EpisodeKey, family: Family, task: Task, limits: Limits) -> EpisodeResult:
        while True:
            attempt = self.store.start_attempt(self.run_id, key, task.id)
            result = await self._attempt(key, family, task, limits, attempt)
            if result.termination != "infra_error" or attempt >= self.config.max_attempts:
                return result
            await asyncio.sleep(min(0.5 * 2 ** (attempt - 1), 8.0))  # let a struggling host recover

    async def _attempt(
        self, key: EpisodeKey, family: Family, task: Task, limits: Limits, attempt: int
    ) -> EpisodeResult:
        def record(step: Any) -> None:
            self.store.add_step(self.run_id, key, attempt, step)

        sandbox: Sandbox | None = None
        try:
            sandbox = await self._open_sandbox(family, key, attempt)
            agent = self.factories[key.agent](key)
            return await run_episode(
                family, task, agent, sandbox, level=key.level, limits=limits,
                paraphrase=key.paraphrase, on_step=record,
            )
        except InfraError as e:
            return EpisodeResult(outcome="error", termination="infra_error", error=str(e), task_id=task.id)
        finally:
            if sandbox is not None:
                # Shielded so that a cancelled run still removes its containers and temp dirs.
                await asyncio.shield(_close_quietly(sandbox))

    async def _open_sandbox(self, family: Family, key: EpisodeKey, attempt: int) -> Sandbox:
        if family.image is None:
            return NullSandbox()
        labels = {"arena.run": self.run_id, "arena.episode": key.id, "arena.attempt": str(attempt)}
        return await open_sandbox(self.config.sandbox, image=family.image, labels=labels)


async def _close_quietly(sandbox: Sandbox) -> None:
    with contextlib.suppress(Exception):  # a sandbox that cannot be closed is left for `arena gc`
        await sandbox.close()


def validate_config(config: RunConfig) -> dict[str, AgentFactory]:
    """Resolve every family and agent before anything runs, so a typo fails fast and clearly."""
    for name in config.families:
        load_family(name)
    check_config(config.sandbox)
    return {spec: agent_factory(spec, config.agent_options.get(spec)) for spec in config.agents}


def stored_config(config: RunConfig, factories: dict[str, AgentFactory]) -> dict[str, Any]:
    """The config as stored with the run: resolved, with each agent's own (secret-free) config."""
    data = config.model_dump(mode="json")
    data["agent_configs"] = {spec: f.config for spec, f in factories.items()}
    return data
