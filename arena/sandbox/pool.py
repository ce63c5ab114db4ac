"""Warm sandboxes: started ahead of time, so an episode starts on one that is already up.

A `SandboxPool` keeps up to `size` started sandboxes per image (bubblewrap jails need no image
and share one queue), refilled in the background as episodes take them. A sandbox is never
reused: each `open()` hands out a fresh one, and closing it removes it, in the background, so the
episode's slot is free at once. Leaving the pool (normally, on Ctrl-C or on an error) closes the
idle ones and waits for every removal; after a crash `arena.sandbox.gc.collect()` finds the rest.

    async with SandboxPool(config, size=4, labels={"arena.run": run_id}) as pool:
        sandbox = await pool.open(image="arena-python", labels=episode_labels)
        ...
        await sandbox.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import weakref
from collections.abc import Coroutine, Sequence
from typing import Any

from arena.errors import SandboxError
from arena.protocols import Sandbox
from arena.sandbox import SandboxConfig, check_config, open_sandbox

log = logging.getLogger("arena.sandbox")
RETRY_AFTER = 1.0  # after a failed start, before the filler tries again
MAX_PARALLEL_STARTS = 4  # a pool does not flood the daemon (or the CPU) with starts


def pool_size(concurrency: int) -> int:
    """Warm sandboxes for a run of `concurrency` episodes at once: one per slot, and a few more
    so that starts overlap (a short episode would otherwise wait for the one start behind it)."""
    return concurrency + min(MAX_PARALLEL_STARTS, os.cpu_count() or 1) if concurrency > 0 else 0


class SandboxPool:
    def __init__(
        self, config: SandboxConfig, *, size: int, labels: dict[str, str], images: Sequence[str] = ()
    ) -> None:
        check_config(config)
        self.config = config
        self.size = max(0, size)
        self.labels = dict(labels)
        self._images = list(images)  # warmed from the start; others once first asked for
        self._ready: dict[str, asyncio.Queue[Sandbox | BaseException]] = {}
        self._wanted: dict[str, asyncio.Event] = {}
        self._fillers: dict[str, asyncio.Task[None]] = {}
        self._closing: set[asyncio.Task[Any]] = set()
        self._handed: weakref.WeakSet[Any] = weakref.WeakSet()  # out with episodes, maybe not closed yet
        self._open = False

    @property
    def warm(self) -> bool:
        return self.size > 0 and self.config.kind != "process"

    def _key(self, image: str) -> str:
        return "" if self.config.kind == "bwrap" else image

    def ready(self, image: str) -> int:
        """How many started sandboxes wait for `image` right now."""
        queue = self._ready.get(self._key(image))
        return 0 if queue is None else sum(1 for item in queue._queue if not isinstance(item, BaseException))  # type: ignore[attr-defined]

    async def __aenter__(self) -> SandboxPool:
        self._open = True
        for image in self._images:
            self._filler(image)
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Drain: stop refilling, close every idle sandbox, wait for every removal."""
        self._open = False
        for sandbox in list(self._handed):  # closed after the pool: they remove themselves
            sandbox.defer_cleanup(None)
        fillers = list(self._fillers.values())
        for task in fillers:
            task.cancel()
        for task in fillers:
            with contextlib.suppress(BaseException):
                await task
        for queue in self._ready.values():
            while not queue.empty():
                item = queue.get_nowait()
                if not isinstance(item, BaseException):
                    self._close_later(item.close())
        while self._closing:
            await asyncio.gather(*list(self._closing), return_exceptions=True)

    async def open(self, *, image: str, labels: dict[str, str]) -> Sandbox:
        """A fresh sandbox for one episode: warm if the pool has one, else started now."""
        if not self._open:
            raise SandboxError("the sandbox pool is not open (use `async with SandboxPool(...)`)")
        merged = {**self.labels, **labels}
        if not self.warm:
            return await open_sandbox(self.config, image=image, labels=merged)
        key = self._key(image)
        self._filler(image)
        item = await self._ready[key].get()
        self._wanted[key].set()
        if isinstance(item, BaseException):
            raise item
        relabel = getattr(item, "relabel", None)
        if callable(relabel):
            relabel(merged)
        defer = getattr(item, "defer_cleanup", None)
        if callable(defer):
            defer(self._close_later)
            self._handed.add(item)
        return item

    def _filler(self, image: str) -> None:
        key = self._key(image)
        if key in self._fillers:
            return
        self._ready[key] = asyncio.Queue()
        self._wanted[key] = asyncio.Event()
        self._fillers[key] = asyncio.ensure_future(self._fill(key, image))

    async def _fill(self, key: str, image: str) -> None:
        """Keep `size` sandboxes ready (or starting) for `key`."""
        queue, wanted = self._ready[key], self._wanted[key]
        starting: set[asyncio.Task[None]] = set()
        failed = False

        async def start_one() -> None:
            nonlocal failed
            try:
                sandbox = await open_sandbox(self.config, image=image, labels={**self.labels, "arena.pool": "warm"})
            except asyncio.CancelledError:
                raise
            except BaseException as e:  # the episode that takes it sees the error
                failed = True
                queue.put_nowait(e)
                return
            if self._open:
                queue.put_nowait(sandbox)
            else:
                self._close_later(sandbox.close())

        try:
            while True:
                wanted.clear()
                while queue.qsize() + len(starting) < self.size and len(starting) < MAX_PARALLEL_STARTS:
                    task = asyncio.ensure_future(start_one())
                    starting.add(task)
                    task.add_done_callback(lambda t: (starting.discard(t), wanted.set()))
                if failed:
                    failed = False
                    await asyncio.sleep(RETRY_AFTER)
                    continue
                await wanted.wait()
        finally:
            for task in list(starting):
                task.cancel()
            for task in list(starting):
                with contextlib.suppress(BaseException):
                    await task

    def _close_later(self, closing: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(closing)
        self._closing.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._closing.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.warning("a sandbox could not be removed (arena gc will): %s", t.exception())

        task.add_done_callback(done)
