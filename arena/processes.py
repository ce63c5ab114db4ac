"""Starting child processes from the event loop in a way that a cancellation cannot wedge.

`asyncio.create_subprocess_exec`, cancelled while it connects the child's pipes, kills the child
and then waits until every pipe has closed. A bubblewrap jail killed that early can leave its
inner half running (it sets its parent-death signal only after it is forked), holding the pipes:
the wait never ended, and a sandbox pool drained at that moment hung its run. `start_process`
lets the start finish in the background, kills the child (its process group when it leads one),
waits a moment for it, and passes the cancellation on. Whatever it leaves is the caller's to end:
a jail's cgroup or uid does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import Any

START_SECONDS = 10.0  # for a start that was under way when the cancellation came
EXIT_SECONDS = 1.0  # a killed child is gone at once, unless something it started holds its pipes


async def start_process(*argv: str, **kwargs: Any) -> asyncio.subprocess.Process:
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
