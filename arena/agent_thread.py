"""User agent classes run on an event loop of their own, in a thread of their own.

A class agent is the user's own code in the arena's process. If its `act()` blocks (a
`time.sleep(30)`, a synchronous HTTP client), it must not stall the arena's event loop, or every
other episode would stop and time out with it. `ThreadedAgent` runs the agent's coroutines on a
private loop in a daemon thread, so the arena's loop keeps running and the episode's own time limit
still applies (the arena stops waiting; the blocked thread is left to finish on its own). Plain
synchronous `reset`/`act` methods are accepted too.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from arena.types import Action, Observation, TaskView

CLOSE_WAIT = 5.0


class ThreadedAgent:
    def __init__(self, agent: Any) -> None:
        self.agent = agent
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="arena-agent", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"ThreadedAgent({self.agent!r})"

    def _submit(self, method: Callable[..., Any], *args: Any) -> Future[Any]:
        async def call() -> Any:
            value = method(*args)
            return await value if inspect.isawaitable(value) else value

        return asyncio.run_coroutine_threadsafe(call(), self._loop)

    async def _call(self, method: Callable[..., Any], *args: Any) -> Any:
        future = self._submit(method, *args)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.cancel()  # reaches the agent's coroutine at its next await
            raise

    async def reset(self, view: TaskView) -> None:
        await self._call(self.agent.reset, view)

    async def act(self, obs: Observation) -> Action:
        return await self._call(self.agent.act, obs)  # type: ignore[no-any-return]

    async def close(self) -> None:
        closer = getattr(self.agent, "close", None)
        if callable(closer) and self._loop.is_running():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.wrap_future(self._submit(closer)), CLOSE_WAIT)
        self._loop.call_soon_threadsafe(self._loop.stop)
        # A thread still stuck in the agent's code is a daemon: it cannot keep the arena from exiting.
        await asyncio.to_thread(self._thread.join, CLOSE_WAIT)
        if not self._thread.is_alive():
            self._loop.close()
