"""The Ray executor: each attempt is a Ray task on a cluster; its steps stream back to the driver.

The task is a Ray generator (`play_attempt`): on its worker it plays the attempt with the local
executor, in a sandbox of that node, and yields every step as it is recorded, then the result.
The driver hands each step to the runner's `record` as it arrives, so the one SQLite store on the
driver holds an episode's steps while it runs, exactly as with the local executor. A worker that
dies mid-episode (killed, out of memory, its node lost) ends that attempt as an `error` result;
the runner retries it as a new, numbered attempt, which Ray may place on another node. Ray's own
task retries are off, so every retry is stored like any other attempt.

Every node needs the same version of the arena (and of any family or agent given by import path),
bubblewrap or Docker, and the images. Each attempt on a worker gets a fresh cold sandbox (a worker
process plays one attempt at a time and may be killed: a warm pool there would outlive it). The
API keys named by `openai:` agents (`api_key_env`) and the salt of a private test split are sent
from the driver with each task and set in the worker's process; they are never stored. `ray` is
imported only here (`pip install 'autonomy-arena[ray]'`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Iterator
from typing import Any

from arena import __version__
from arena.config import RunConfig
from arena.errors import ConfigError, ContextOverflow
from arena.types import EpisodeKey, EpisodeResult, StepRecord, Task
from arena.wrappers import StepSink

CANCEL_WAIT = 30.0  # how long an interrupted attempt waits for its worker to close the sandbox
MAX_ERROR_TEXT = 2000


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--executor ray needs Ray: pip install 'autonomy-arena[ray]' (or pip install ray)"
        ) from None
    return ray


def connect(address: str | None) -> bool:
    """Join the cluster at `address` ('auto', HOST:PORT, ray://HOST:PORT), or without one the
    cluster in $RAY_ADDRESS, else start a local one on 127.0.0.1. Returns whether this process
    started Ray (and so must shut it down)."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never phone home from a user's run
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
    target = address or os.environ.get("RAY_ADDRESS") or None
    try:
        if target is None:
            ray.init(address="local", _node_ip_address="127.0.0.1", **options)
        else:
            ray.init(address=target, **options)
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = target or "a new local cluster"
        raise ConfigError(
            f"cannot reach the Ray cluster at {where}: {e}; start one (`ray start --head`) and pass its "
            "address with --ray-address, or leave it out to start a local one (a cluster with token "
            "authentication also needs RAY_AUTH_MODE=token and its token in RAY_AUTH_TOKEN or ~/.ray/auth_token)"
        ) from None
    return True


class RayExecutor:
    """Plays attempts as Ray tasks; `cpus` is what one episode asks of a node (fractions allowed)."""

    def __init__(self, config: RunConfig, run_id: str, *, cpus: float = 1.0) -> None:
        from arena.runner import validate_agents

        self.config = config
        self.run_id = run_id
        self._ray = import_ray()
        self._started = connect(config.executor.address)
        self._config_data = config.model_dump(mode="json")
        self._keys = forwarded_keys(validate_agents(config).values())
        self._task = self._ray.remote(play_attempt).options(num_cpus=cpus, max_retries=0, retry_exceptions=False)

    async def attempt(
        self, key: EpisodeKey, attempt: int, record: StepSink, task: Task | None = None
    ) -> EpisodeResult:  # the task is made again on the worker: tasks stay off the wire
        keys = {name: os.environ[name] for name in self._keys if os.environ.get(name)}
        stream = self._task.remote(self._config_data, self.run_id, key.model_dump(), attempt, keys,
                                   self.config.salt, __version__)
        ended = False
        try:
            async for ref in stream:
                kind, value = await ref
                if kind == "step":
                    record(value)
                    continue
                ended = True
                if kind == "overflow":
                    raise ContextOverflow(value, at_start=True)
                return value  # type: ignore[no-any-return]
            ended = True
            return self._error(key, "the Ray task ended without a result")
        except asyncio.CancelledError:
            ended = True
            await self._stop(stream)
            raise
        except self._ray.exceptions.RayError as e:
            ended = True
            return self._error(key, describe(e))
        finally:
            if not ended:  # the driver itself failed (say, the store): the worker's episode must not go on
                self._ray.cancel(stream)

    async def _stop(self, stream: Any) -> None:
        """Cancel the task (its worker closes the sandbox) and wait a bounded time for it to end."""
        self._ray.cancel(stream)

        async def drain() -> None:
            with contextlib.suppress(Exception):
                async for ref in stream:
                    await ref

        with contextlib.suppress(Exception):
            await asyncio.wait_for(drain(), CANCEL_WAIT)

    def _error(self, key: EpisodeKey, reason: str) -> EpisodeResult:
        from arena.attempt import infra_result

        return infra_result(task_for(self.config, key), reason)

    async def aclose(self) -> None:
        if self._started:
            self._started = False
            await asyncio.to_thread(self._ray.shutdown)


def forwarded_keys(factories: Any) -> list[str]:
    """Names of the variables holding the agents' API keys (never their values)."""
    names = {f.config.get("api_key_env") for f in factories if isinstance(getattr(f, "config", None), dict)}
    return sorted(n for n in names if isinstance(n, str) and n)


def describe(error: Exception) -> str:
    """What went wrong with a Ray task, in one line for the stored result."""
    ray = import_ray()
    if isinstance(error, ray.exceptions.WorkerCrashedError | ray.exceptions.NodeDiedError):
        reason = f"the Ray worker playing this episode died (killed, out of memory or its node lost): {error}"
    elif isinstance(error, ray.exceptions.RayTaskError):
        cause = getattr(error, "cause", None)
        reason = f"the Ray task failed on its worker: {type(cause).__name__}: {cause}" if cause is not None \
            else f"the Ray task failed on its worker: {error}"
    else:
        reason = f"Ray failed: {type(error).__name__}: {error}"
    return " ".join(reason.split())[:MAX_ERROR_TEXT]


def task_for(config: RunConfig, key: EpisodeKey) -> Any:
    """The task an episode plays (its id goes into an error result made on the driver)."""
    from arena.config import generate
    from arena.registry import load_family

    if key.level == "worker":
        from arena.levels.worker import JobFamily

        family: Any = JobFamily(key.family, config.families, salt=config.salt)
    else:
        family = load_family(key.family)
    return generate(family, key.seed, key.split, config.salt)


# ---------------------------------------------------------------- on the worker

_executors: dict[str, Any] = {}  # this worker's local executor for the run it last served


def play_attempt(
    config_data: dict[str, Any], run_id: str, key_data: dict[str, Any], attempt: int, keys: dict[str, str],
    salt: str | None, driver_version: str,
) -> Iterator[tuple[str, Any]]:
    """The Ray task: play one attempt on this node and yield ("step", StepRecord) as each is
    recorded, then ("result", EpisodeResult), or ("overflow", message) when the model's context
    cannot hold even the first prompt. Cancelling the task (KeyboardInterrupt here) cancels the
    attempt, which closes its sandbox."""
    if driver_version != __version__:
        raise RuntimeError(
            f"node {socket.gethostname()} runs arena {__version__} but the driver runs {driver_version}: "
            "install the same version on every node"
        )
    os.environ.update(keys)
    executor = _local_executor(config_data, run_id, salt)
    key = EpisodeKey.model_validate(key_data)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def record(step: StepRecord) -> None:
        queue.put_nowait(("step", step))

    async def play() -> None:
        try:
            queue.put_nowait(("result", await executor.attempt(key, attempt, record)))
        except ContextOverflow as e:
            queue.put_nowait(("overflow", str(e)))

    task = loop.create_task(play())
    try:
        while True:
            getter = loop.create_task(queue.get())
            loop.run_until_complete(asyncio.wait([getter, task], return_when=asyncio.FIRST_COMPLETED))
            if not getter.done():  # the attempt raised without a result: let Ray report it
                getter.cancel()
                task.result()
                raise RuntimeError("the attempt ended without a result")
            item = getter.result()
            yield item
            if item[0] != "step":
                return
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                loop.run_until_complete(asyncio.wait([task], timeout=CANCEL_WAIT))
        with contextlib.suppress(Exception):
            loop.run_until_complete(loop.shutdown_asyncgens())
        asyncio.set_event_loop(None)
        loop.close()


def _local_executor(config_data: dict[str, Any], run_id: str, salt: str | None) -> Any:
    from arena.attempt import OneOff
    from arena.executors.local import LocalExecutor
    from arena.runner import validate_agents

    config = RunConfig.model_validate(config_data).with_salt(salt)  # the fingerprint checks the salt
    cache_key = run_id + "\n" + config.model_dump_json()
    if cache_key not in _executors:
        _executors.clear()
        _executors[cache_key] = LocalExecutor(config, run_id, validate_agents(config), OneOff(config.sandbox))
    return _executors[cache_key]


__all__ = ["RayExecutor", "connect", "play_attempt"]
