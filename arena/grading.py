"""The grader's view of a sandbox: `open_grading(sandbox, final=...)`.

Real sandboxes (bwrap, Docker) implement `grading()` themselves: they stop (or, mid-episode,
freeze) every agent process and hand out a view that reads the world with the sandbox's own
privilege, plus a scratch directory the agent cannot see. For sandboxes without it (the family
needs no sandbox, the unsafe process sandbox, a user's own sandbox) a plain view over the sandbox
stands in, with a scratch directory of its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from arena.errors import ToolError
from arena.protocols import ExecResult, GradingView, Sandbox

SCRATCH_TIMEOUT = 30.0


class PlainGradingView:
    """A grading view over a sandbox that has no privileged mode: commands run as the sandbox runs them."""

    def __init__(self, sandbox: Sandbox, scratch: str) -> None:
        self.sandbox = sandbox
        self.workdir = sandbox.workdir
        self.scratch = scratch

    async def exec(self, cmd: str | list[str], *, timeout: float, stdin: bytes | None = None) -> ExecResult:
        return await self.sandbox.exec(cmd, timeout=timeout, stdin=stdin)

    async def exec_untrusted(
        self, cmd: str | list[str], *, timeout: float, stdin: bytes | None = None, cwd: str | None = None
    ) -> ExecResult:
        if cwd is not None:
            argv = ["bash", "-c", cmd] if isinstance(cmd, str) else list(cmd)
            cmd = ["sh", "-c", 'cd "$1" && shift && exec "$@"', "sh", cwd, *argv]
        return await self.sandbox.exec(cmd, timeout=timeout, stdin=stdin)

    async def write_file(self, path: str, data: bytes) -> None:
        await self.sandbox.write_file(path, data)

    async def read_file(self, path: str) -> bytes:
        return await self.sandbox.read_file(path)

    async def close(self) -> None:
        return None


@contextlib.asynccontextmanager
async def open_grading(sandbox: Sandbox, *, final: bool) -> AsyncIterator[GradingView]:
    """The sandbox's own grading view if it has one, else a plain view with a temporary scratch."""
    grading = getattr(sandbox, "grading", None)
    if callable(grading):
        async with grading(final=final) as view:
            yield view
        return
    try:
        made = await sandbox.exec(["mktemp", "-d", "/tmp/arena-grading-XXXXXXXX"], timeout=SCRATCH_TIMEOUT)
        scratch = made.stdout.strip() if made.exit_code == 0 else ""
    except ToolError:  # a sandbox without a shell (the family acts on its own state only)
        scratch = ""
    try:
        yield PlainGradingView(sandbox, scratch)
    finally:
        if scratch:
            with contextlib.suppress(Exception):
                await sandbox.exec(["rm", "-rf", "--", scratch], timeout=SCRATCH_TIMEOUT)
