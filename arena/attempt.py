"""One attempt at an episode, the same for every driver: open the episode's sandbox (none for
families without one), build the level's wrapper stack, let the agent play, grade, and close the
sandbox quietly whatever happens. The runner, the Gymnasium env and the MCP server all use it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Protocol

from arena.episode import drive
from arena.errors import InfraError
from arena.protocols import Agent, EpisodeEnv, Family, Sandbox
from arena.sandbox import NullSandbox, SandboxConfig, open_sandbox
from arena.types import EpisodeResult, Task


class SandboxSource(Protocol):
    """Where sandboxes come from: `open_sandbox` for one-offs, a warm pool in a run."""

    async def open(self, *, image: str, labels: dict[str, str]) -> Sandbox: ...


class OneOff:
    """A fresh cold sandbox per episode."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config

    async def open(self, *, image: str, labels: dict[str, str]) -> Sandbox:
        return await open_sandbox(self.config, image=image, labels=labels)


@contextlib.asynccontextmanager
async def episode_sandbox(family: Family, source: SandboxSource, labels: dict[str, str]) -> AsyncIterator[Sandbox]:
    """The sandbox an episode of `family` runs in, closed on exit even when cancelled."""
    if family.image is None:
        yield NullSandbox()
        return
    sandbox = await source.open(image=family.image, labels=labels)
    try:
        yield sandbox
    finally:
        # Shielded so that a cancelled run still removes its containers and temp dirs.
        await asyncio.shield(close_quietly(sandbox))


async def close_quietly(closable: Any) -> None:
    closer = getattr(closable, "close", None)
    if callable(closer):
        with contextlib.suppress(Exception):  # a sandbox that cannot be closed is left for `arena gc`
            await closer()


def infra_result(task: Task, error: str) -> EpisodeResult:
    return EpisodeResult(outcome="error", termination="infra_error", error=error, task_id=task.id)


async def play(env: EpisodeEnv, agent: Agent) -> EpisodeResult:
    """Set up, let the agent act until it submits or a limit ends the episode, then grade."""
    try:
        obs = await env.start()
        if not env.done:
            await drive(env, agent, obs)
    except asyncio.CancelledError:
        env.stop("cancelled")
        raise
    except InfraError as e:
        env.stop("infra_error", str(e))
    finally:
        await close_quietly(agent)
    return await env.finish()
