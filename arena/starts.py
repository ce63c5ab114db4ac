"""Episodes that are ready together start one per turn of the event loop.

With as many slots as episodes, a thousand episodes are ready in the same turn. Started in that
turn, each sets up and builds its first model request, and none of the requests leaves before the
last episode is set up: the HTTP client writes a request's body from a task of its own, which runs
a turn later. The endpoint then gets every request in one burst and answers in one burst, and
each round after that waits for the whole batch again. Started one per turn, each episode's
request leaves while the next one sets up, and the rounds never bunch up.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections import deque
from collections.abc import Callable, Iterator


class StartLine:
    """Admits waiting starts one per turn of the loop, oldest first."""

    def __init__(self) -> None:
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._admitting = False
        self._admitted = 0
        self._watchers: list[tuple[int, Callable[[], None]]] = []  # (admitted count that fires it, callback)

    async def turn(self) -> None:
        """Wait until this start's turn comes."""
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        self._waiting.append(ready)
        if not self._admitting:
            self._admitting = True
            loop.call_soon(self._admit)
        await ready  # a start cancelled while it waits is skipped

    def after_admitting(self, count: int, callback: Callable[[], None]) -> None:
        """Call back once, when `count` more starts have been admitted or the line runs empty,
        whichever comes first (behind the first step of the start admitted last)."""
        self._watchers.append((self._admitted + count, callback))

    def _admit(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            ready = self._waiting.popleft()
            if not ready.done():
                ready.set_result(None)
                self._admitted += 1
                break
        self._admitting = bool(self._waiting)
        if self._admitting:
            loop.call_soon(self._admit)
        due = [w for w in self._watchers if not self._admitting or w[0] <= self._admitted]
        for watcher in due:  # scheduled behind the admitted start's own step
            self._watchers.remove(watcher)
            loop.call_soon(watcher[1])


@contextlib.contextmanager
def quiet_first_wave(line: StartLine, size: int) -> Iterator[None]:
    """No collection while the first `size` episodes started here set up, then freeze what they
    built. All of it (a thousand tasks with their worlds and transcripts) lives as long as the
    episodes do: collecting meanwhile rescanned it for nothing, 0.3-0.7 ms of CPU per episode at
    1024 at once. Bounded by `size`, so that a line that never runs empty (short episodes, their
    slots taken again at once) cannot keep the collector off for the rest of a run.
    (Cycles that the first wave leaves behind wait for the end of the run.)"""
    enabled = gc.isenabled()
    gc.disable()

    def resume() -> None:
        if enabled and not gc.isenabled():
            gc.freeze()
            gc.enable()

    try:
        yield
    except BaseException:
        resume()
        raise
    if size > 0:
        line.after_admitting(size, resume)
    else:
        resume()
