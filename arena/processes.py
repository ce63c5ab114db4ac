"""Starting child processes from the event loop in a way that a cancellation cannot wedge.

`asyncio.create_subprocess_exec`, cancelled while it connects the child's pipes, kills the child
and then waits until every pipe has closed. A bubblewrap jail killed that early can leave its
inner half running (it sets its parent-death signal only after it is forked), holding the pipes:
the wait never ended, and a sandbox pool drained at that moment hung its run. `start_process`
lets the start finish in the background, kills the child (its process group when it leads one),
waits a moment for it, and passes the cancellation on. Whatever it leaves is the caller's to end:
a jail's cgroup or uid does.

On Python 3.11, asyncio learns that a child exited from a thread it starts for each child (its
`ThreadedChildWatcher`): a thread start and two wake-ups per jail, a visible share of a short
episode. `start_process` puts in its place a watcher that waits on a pidfd in the event loop, as
Python 3.12 does by default.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import signal
import sys
import warnings
from collections.abc import Callable
from typing import Any

START_SECONDS = 10.0  # for a start that was under way when the cancellation came
EXIT_SECONDS = 1.0  # a killed child is gone at once, unless something it started holds its pipes


class PidfdWatcher(asyncio.AbstractChildWatcher):
    """Reaps each child in the event loop that started it, when its pidfd says it exited."""

    def __enter__(self) -> PidfdWatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def is_active(self) -> bool:
        return True

    def close(self) -> None:
        pass

    def attach_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        pass  # each child goes to the loop running when it starts

    def add_child_handler(self, pid: int, callback: Callable[..., object], *args: Any) -> None:
        loop = asyncio.get_running_loop()
        pidfd = os.pidfd_open(pid)
        loop.add_reader(pidfd, self._reap, loop, pid, pidfd, callback, args)

    def remove_child_handler(self, pid: int) -> bool:
        return True

    @staticmethod
    def _reap(loop: asyncio.AbstractEventLoop, pid: int, pidfd: int, callback: Callable[..., object],
              args: tuple[Any, ...]) -> None:  # fmt: skip
        loop.remove_reader(pidfd)
        os.close(pidfd)
        try:
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
        except ChildProcessError:  # reaped by someone else: its status is lost
            code = 255
        callback(pid, code, *args)


@functools.cache  # once per process
def _use_pidfd_watcher() -> None:
    """Install `PidfdWatcher` on Pythons and kernels where it helps and works."""
    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        return  # 3.12 and later wait on pidfds already
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:  # a kernel older than 5.3
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        asyncio.set_child_watcher(PidfdWatcher())


async def start_process(*argv: str, **kwargs: Any) -> asyncio.subprocess.Process:
    _use_pidfd_watcher()
    starting = asyncio.ensure_future(asyncio.create_subprocess_exec(*argv, **kwargs))
    try:
        return await asyncio.shield(starting)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            process = await asyncio.wait_for(starting, START_SECONDS)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if kwargs.get("start_new_session"):
                    os.killpg(process.pid, signal.SIGKILL)
                else:
                    process.kill()
            try:
                await asyncio.wait_for(process.wait(), EXIT_SECONDS)
            finally:
                transport = getattr(process, "_transport", None)
                if transport is not None:
                    transport.close()  # its pipes, so that nothing waits on them
        raise


def which(program: str) -> str | None:
    """`shutil.which`, searched once per PATH: sandboxes ask for their tools each time they start."""
    return _which(program, os.environ.get("PATH"))


@functools.cache
def _which(program: str, path: str | None) -> str | None:
    return shutil.which(program, path=path)
