"""The local executor: each attempt in this process, on asyncio, in a sandbox of this machine."""

from __future__ import annotations

from arena.agents.oracle import receives_solution
from arena.attempt import OneOff, SandboxSource, episode_sandbox, infra_result, play
from arena.config import RunConfig, generate
from arena.errors import ContextOverflow, InfraError
from arena.integrity import TamperEvident, fingerprint, packages_of
from arena.levels import PlayedFamilies, build_episode
from arena.levels.worker import JobFamily
from arena.registry import AgentFactory
from arena.sandbox.pool import SandboxPool, pool_size
from arena.types import EpisodeKey, EpisodeResult, Task
from arena.wrappers import Recorder, StepSink


class LocalExecutor:
    def __init__(
        self, config: RunConfig, run_id: str, factories: dict[str, AgentFactory],
        sandboxes: SandboxSource | None = None,
    ) -> None:
        self.config = config
        self.run_id = run_id
        self.factories = factories
        self.sandboxes = sandboxes
        self._pool: SandboxPool | None = None
        self.played = PlayedFamilies(config.families, salt=config.salt)
        self.families = self.played.families
        # User classes run in the arena's process: make any change they make to its code visible.
        self.in_process = {label for label, f in factories.items() if getattr(f, "threaded", False)}
        self.watched = packages_of(list(self.families.values()))
        self.baseline = fingerprint(self.watched) if self.in_process else {}

    async def _source(self) -> SandboxSource:
        """Warm sandboxes for the run (a pool sized from its concurrency), started on first use."""
        if self.sandboxes is None:
            if self.config.sandbox.kind == "process" or self.config.concurrency < 1:
                self.sandboxes = OneOff(self.config.sandbox)
            else:
                images = sorted({f.image for f in self.families.values() if f.image})
                if "worker" in self.config.levels and any(f.image for f in self.families.values()):
                    images = sorted({*images, *(JobFamily(n, self.config.families).image or "" for n in
                                                self.config.families)} - {""})
                self._pool = SandboxPool(self.config.sandbox, size=pool_size(self.config.concurrency),
                                         labels={"arena.run": self.run_id}, images=images)
                await self._pool.__aenter__()
                self.sandboxes = self._pool
        return self.sandboxes

    async def attempt(
        self, key: EpisodeKey, attempt: int, record: StepSink, task: Task | None = None
    ) -> EpisodeResult:
        sandboxes = await self._source()
        family = self.played[key]
        task = task or generate(family, key.seed, key.split, self.config.salt)
        labels = {"arena.run": self.run_id, "arena.episode": key.id, "arena.attempt": str(attempt)}
        try:
            async with episode_sandbox(family, sandboxes, labels) as sandbox:
                env = build_episode(
                    family, task, sandbox, level=key.level, limits=self.config.limits.apply(task.limits),
                    paraphrase=key.paraphrase, faults=self.config.faults.at(key.faults),
                    config=self.config.level_options,
                )
                if key.agent in self.in_process:
                    env = TamperEvident(env, self.baseline, self.watched)
                agent = self.factories[key.agent](key)
                if receives_solution(agent):
                    agent.bind_solution(family.solution(task))  # type: ignore[attr-defined]
                return await play(Recorder(env, record), agent)
        except ContextOverflow:  # at the first call: the runner stops the run
            raise
        except InfraError as e:
            return infra_result(task, str(e))

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.__aexit__(None, None, None)
