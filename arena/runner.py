"""Execute a run: agents x tasks x levels x trials, on asyncio with bounded concurrency.

The plan is a deterministic list of episode keys stored before anything runs (`arena.config`).
Each episode gets a fresh agent and a fresh sandbox; infrastructure failures are retried up to
`max_attempts` and end as `error` after that, never as the agent failing. Cancelling (Ctrl-C)
puts in-flight episodes back to pending, so `--resume` finishes exactly what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import resource
from collections.abc import Callable, Iterator
from typing import Any

from arena.config import LimitOverrides, RunConfig, generate, new_run_id, restore, supports_salt
from arena.config import stored_config as _stored_config
from arena.errors import ConfigError, ContextOverflow, StoreError
from arena.executors import Executor, make_executor
from arena.levels import PlayedFamilies
from arena.registry import AgentFactory, agent_factory, load_family
from arena.sandbox import check_config
from arena.starts import StartLine, quiet_first_wave
from arena.store import Store
from arena.types import EpisodeKey, EpisodeResult, StepRecord, Task, TaskInfo

__all__ = [
    "LimitOverrides", "RunConfig", "Runner", "new_run_id", "restore", "stored_config", "validate_config",
]

EpisodeDone = Callable[[EpisodeKey, EpisodeResult], None]
HEARTBEAT_SECONDS = 5.0
SHUTDOWN_SECONDS = 60.0  # how long an interrupted run waits for its episodes to close their sandboxes
# How long a step may wait to be stored with others. Episodes in flight take their steps in
# different turns of the loop once their starts are spread out (`arena.starts`), so a turn is no
# longer a batch; a live viewer polls at 1 s.
STEP_WRITE_SECONDS = 0.05


class StepWriter:
    """Stores steps as they happen, those that arrive within `STEP_WRITE_SECONDS` of each other in
    one transaction: with hundreds of episodes in flight, a commit per step was most of the
    store's cost. An episode is marked done only after its steps are written."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.pending: list[tuple[str, EpisodeKey, int, StepRecord]] = []
        self.failed: StoreError | None = None

    def add(self, run_id: str, key: EpisodeKey, attempt: int, step: StepRecord) -> None:
        if self.failed is not None:
            raise self.failed
        self.pending.append((run_id, key, attempt, step))
        if len(self.pending) == 1:
            try:
                asyncio.get_running_loop().call_later(STEP_WRITE_SECONDS, self._flush_later)
            except RuntimeError:  # no loop: write at once
                self.flush()

    def _flush_later(self) -> None:
        try:
            self.flush()
        except StoreError as e:  # raised to the next episode that records or ends
            self.failed = e

    def flush(self) -> None:
        if self.failed is not None:
            raise self.failed
        steps, self.pending = self.pending, []
        if steps:
            self.store.add_steps(steps)


# Collector thresholds during a run (Python's default is 700, 10, 10). Hundreds of episodes in flight
# hold millions of objects (tasks, databases, transcripts), and the default collects the young
# generation every 700 allocations and rescans the whole heap each time it grows by a quarter:
# at 1024 model-bound episodes that was a fifth of the run's CPU. Reference counting still frees
# everything without a cycle at once; cycles wait a little longer.
RUN_GC_THRESHOLDS = (50_000, 20, 100)


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect cyclic garbage less often while a run is in flight; what was alive before the run
    (modules, classes, the config) is frozen out of every scan. Restored afterwards."""
    before, enabled = gc.get_threshold(), gc.isenabled()
    gc.freeze()
    gc.set_threshold(*RUN_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
        if enabled:  # even if the loop ended before `quiet_first_wave` turned it back on
            gc.enable()


class RunStopped(ConfigError):
    """An episode showed that the whole run cannot work as configured (say, the model's context
    cannot hold even the first prompt); the run stops with the reason instead of failing every episode."""


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
        executor: Executor | None = None,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.config = config
        self.on_done = on_done
        self.played = PlayedFamilies(config.families, salt=config.salt)
        self.factories = factories or validate_agents(config)
        self.executor = executor or make_executor(config, run_id, self.factories)
        self._slots = asyncio.Semaphore(config.concurrency)
        self._starts = StartLine()
        self._steps = StepWriter(store)
        self._healthy = False  # an episode of this run ended in something other than error
        self._errors_in_a_row = 0

    async def run(self) -> None:
        """Run what is left of the run. Holds the run's lease throughout (a second process is
        refused); on any interruption every episode in flight goes back to pending."""
        allow_open_files(self.config.concurrency)
        self.store.acquire(self.run_id)
        beat = asyncio.create_task(self._heartbeat())
        try:
            with fewer_collections():
                await self._run_all(self.store.unfinished(self.run_id))
        except BaseException:
            with contextlib.suppress(Exception):  # the store itself may be what failed
                self._steps.flush()
            with contextlib.suppress(Exception):
                self.store.release_running(self.run_id)
                self.store.set_run_status(self.run_id, "interrupted")
            raise
        else:
            self.store.set_run_status(self.run_id, "finished")
        finally:
            beat.cancel()
            with contextlib.suppress(Exception):
                await self.executor.aclose()
            with contextlib.suppress(Exception):
                self.store.release_run(self.run_id)

    async def _run_all(self, keys: list[EpisodeKey]) -> None:
        self.store.set_run_status(self.run_id, "running")
        with quiet_first_wave(self._starts, min(len(keys), self.config.concurrency)):
            tasks = [asyncio.create_task(self._episode(key)) for key in keys]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION) if tasks else (set(), set())
            failed = [t for t in done if not t.cancelled() and t.exception() is not None]
            if failed:
                raise failed[0].exception()  # type: ignore[misc]
        finally:
            for t in tasks:
                t.cancel()
            if tasks:
                # Bounded: a sandbox that will not close must not keep Ctrl-C from returning.
                await asyncio.wait(tasks, timeout=SHUTDOWN_SECONDS)
            for t in tasks:  # retrieve every outcome, so nothing is reported as never retrieved
                if t.done() and not t.cancelled():
                    t.exception()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            with contextlib.suppress(Exception):
                self.store.heartbeat(self.run_id)

    def _count(self, result: EpisodeResult) -> None:
        """Stop the run when its first episodes all end in error: a dead endpoint or a wrong key
        must not be retried on every episode of a long run."""
        if result.outcome != "error":
            self._healthy = True
            return
        self._errors_in_a_row += 1
        if not self._healthy and self._errors_in_a_row >= self.config.stop_after_errors:
            raise RunStopped(
                f"the first {self._errors_in_a_row} episodes all ended in error, the last with: {result.error}; "
                "fix the cause, then `arena run --resume --retry-errors --run-id " + self.run_id + "`"
            )

    async def _episode(self, key: EpisodeKey) -> None:
        async with self._slots:
            await self._starts.turn()
            # Generated once a slot is free, so a long plan never holds more tasks than are in flight.
            task = generate(self.played[key], key.seed, key.split, self.config.salt)
            try:
                result = await self._attempts(key, task)
            except asyncio.CancelledError:
                self.store.release(self.run_id, key)
                raise
        self._steps.flush()
        self.store.finish_episode(self.run_id, key, result)
        if self.on_done is not None:
            self.on_done(key, result)
        self._count(result)

    async def _attempts(self, key: EpisodeKey, task: Task) -> EpisodeResult:
        while True:
            attempt = self.store.start_attempt(self.run_id, key, task.id, TaskInfo.of(task, key.paraphrase))

            def record(step: StepRecord, attempt: int = attempt) -> None:
                self._steps.add(self.run_id, key, attempt, step)

            try:
                result = await self.executor.attempt(key, attempt, record, task)
            except ContextOverflow as e:  # at the first call: no episode of this agent can work
                raise RunStopped(f"{key.agent}: {e}") from None
            if result.termination != "infra_error" or attempt >= self.config.max_attempts:
                return result
            await asyncio.sleep(min(0.5 * 2 ** (attempt - 1), 8.0))  # let a struggling host recover


FILES_PER_EPISODE = 4  # a connection to a model endpoint, a sandbox's pipes, an agent's process


def allow_open_files(concurrency: int) -> None:
    """Raise this process's soft limit on open files toward its hard limit, enough for `concurrency`
    episodes: the usual soft limit of 1024 makes a run at --concurrency 1024 fail its connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 256 + FILES_PER_EPISODE * concurrency
    if soft != resource.RLIM_INFINITY and soft < wanted:
        limit = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft != resource.RLIM_INFINITY and soft < 64 + concurrency:
        raise ConfigError(
            f"--concurrency {concurrency} needs more open files than this process may have ({soft}); "
            f"raise the limit (ulimit -n {wanted}) or lower --concurrency"
        )


def validate_config(config: RunConfig) -> dict[str, AgentFactory]:
    """Resolve every family and agent before anything runs, so a typo fails fast and clearly."""
    for name in config.families:
        family = load_family(name)
        if config.salt and not supports_salt(family):
            raise ConfigError(f"family {name} cannot make a private split: its generate() takes no salt")
    check_config(config.sandbox)
    allow_open_files(config.concurrency)
    return validate_agents(config)


def validate_agents(config: RunConfig) -> dict[str, AgentFactory]:
    """One factory per agent label."""
    return {label: agent_factory(spec, config.options_for(label)) for label, spec in config.agent_specs().items()}


def stored_config(config: RunConfig, factories: dict[str, AgentFactory]) -> dict[str, Any]:
    """The config as stored with the run: resolved, with each agent's own (secret-free) config."""
    return _stored_config(config, {label: f.config for label, f in factories.items()})

