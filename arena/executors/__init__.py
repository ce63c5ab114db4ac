"""Executors: where an episode's attempt runs. The runner plans, stores, retries and reports; an
executor only plays one attempt and hands its steps back as they happen.

- `local` (default): asyncio in this process, sandboxes on this machine.
- `ray`: Ray tasks on a cluster whose nodes each have bubblewrap or Docker and the images;
  imported only when used (`pip install 'autonomy-arena[ray]'`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from arena.types import EpisodeKey, EpisodeResult, Task
from arena.wrappers import StepSink

if TYPE_CHECKING:
    from arena.config import RunConfig
    from arena.registry import AgentFactory


class Executor(Protocol):
    async def attempt(
        self, key: EpisodeKey, attempt: int, record: StepSink, task: Task | None = None
    ) -> EpisodeResult:
        """Play one attempt of the episode `key` to its result (`task`: its task, when the caller has
        it already); infrastructure failures come back as an `error` result, never as an exception."""
        ...

    async def aclose(self) -> None: ...


def make_executor(config: RunConfig, run_id: str, factories: dict[str, AgentFactory]) -> Executor:
    if config.executor.kind == "ray":
        from arena.executors.ray import RayExecutor

        return RayExecutor(config, run_id)
    from arena.executors.local import LocalExecutor

    return LocalExecutor(config, run_id, factories)


__all__ = ["Executor", "make_executor"]
