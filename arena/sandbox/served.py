"""What the bwrap and Docker sandboxes share: commands and file operations sent down a command
channel to an exec server (arena/sandbox/execserver.py), and the grading view over a privileged
one.

File reads and writes for the agent run with the agent's own permissions inside the sandbox, so a
symlink the agent planted resolves inside the sandbox; the grading view's run as the sandbox's
root, still inside it.
"""

from __future__ import annotations

import errno
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from arena.protocols import ExecResult
from arena.sandbox import SandboxConfig

OUTPUT_CAP = 4 * 1024 * 1024  # per stream and exec: a `yes` flood must not eat host memory
FILE_TIMEOUT = 60.0  # read_file / write_file have no timeout argument
GRADING_DIR = "/grading"  # where graders' scratch directories are made: a tmpfs of its own
GRADING_BYTES = 256 * 1024 * 1024  # its size, apart from the agent's disk: a full disk cannot stop grading
GRACE = 3.0  # past a command's own timeout (enforced inside), when the host stops waiting
CHANNEL_LOST = (
    "the sandbox's command channel died during this command (a process of the agent's killed, "
    "stopped or wrote into the exec server, or the sandbox ran out of memory); it was restarted"
)

log = logging.getLogger("arena.sandbox")
_warned: set[str] = set()


def warn_once(message: str) -> None:
    """A fallback a sandbox takes (no disk caps, per-process memory): said once per process."""
    if message not in _warned:
        _warned.add(message)
        log.warning(message)


Call = Callable[[dict[str, Any], bytes, float], Awaitable[tuple[dict[str, Any], bytes]]]


def exec_request(
    cmd: str | list[str], *, timeout: float, stdin: bytes | None, role: str, cwd: str | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    argv = ["bash", "-c", cmd] if isinstance(cmd, str) else list(cmd)
    if not argv:
        raise ValueError("an empty command")
    header: dict[str, Any] = {
        "op": "exec", "argv": argv, "timeout": timeout, "cap": OUTPUT_CAP, "stdin": stdin is not None, "as": role,
    }  # fmt: skip
    if cwd is not None:
        header["cwd"] = cwd
    if env:
        header["env"] = env
    return header


def _text(data: bytes, dropped: int) -> str:
    text = data.decode(errors="replace")
    if dropped:
        text += f"\n[... {dropped} more bytes of output dropped by the sandbox ...]\n"
    return text


def exec_result(header: dict[str, Any], body: bytes) -> ExecResult:
    split = int(header.get("out", 0))
    return ExecResult(
        exit_code=int(header["exit"]),
        stdout=_text(body[:split], int(header.get("dropped_out", 0))),
        stderr=_text(body[split:], int(header.get("dropped_err", 0))),
        timed_out=bool(header.get("timed_out")),
        seconds=round(float(header.get("seconds", 0.0)), 4),
    )


def lost_result(seconds: float, note: str = "") -> ExecResult:
    return ExecResult(exit_code=137, stderr=f"[{CHANNEL_LOST}{note}]\n", seconds=round(seconds, 4))


def check_file_reply(header: dict[str, Any], path: str) -> None:
    """Raise the OSError a failed file operation stands for (FileNotFoundError, ...)."""
    if "errno" in header:
        code = int(header["errno"]) or errno.EIO
        raise OSError(code, str(header.get("message") or errno.errorcode.get(code, "error")), path)


def file_cap(config: SandboxConfig) -> int:
    # A file written inside the sandbox cannot exceed the file-size limit, so reads need no more room.
    return config.file_size_mb * 1024 * 1024


def max_reply(config: SandboxConfig) -> int:
    """The largest body a real reply can have: a file read, or a command's two capped streams."""
    return max(file_cap(config), 2 * OUTPUT_CAP) + 65536


class ServedSandbox:
    """A sandbox whose subclasses provide `_call`: exec, read_file and write_file come from here."""

    workdir = "/work"
    config: SandboxConfig
    lost_note = ""  # what else a lost channel took with it, in this kind of sandbox
    _defer: Callable[[Coroutine[Any, Any, Any]], None] | None = None

    def defer_cleanup(self, defer: Callable[[Coroutine[Any, Any, Any]], None] | None) -> None:
        """Let `close()` hand its slow part (waiting for the agent's processes to end, removing
        containers, mounts, directories) to `defer` (a pool's background), once nothing of the agent
        can run any more; None: do it itself."""
        self._defer = defer

    async def _finish_close(self, cleanup: Coroutine[Any, Any, Any]) -> None:
        if self._defer is not None:
            self._defer(cleanup)
        else:
            await cleanup

    async def _call(self, header: dict[str, Any], body: bytes, timeout: float) -> tuple[dict[str, Any], bytes] | None:
        """Send a request down the agent's channel. None: the channel died under it and was
        restarted. Raises `SandboxError` (the arena's machinery) or `WorldBroken` (the agent's)."""
        raise NotImplementedError

    async def exec(self, cmd: str | list[str], *, timeout: float, stdin: bytes | None = None) -> ExecResult:
        header = exec_request(cmd, timeout=timeout, stdin=stdin, role="agent")
        started = time.monotonic()
        reply = await self._call(header, stdin or b"", timeout + GRACE)
        if reply is None:
            return lost_result(time.monotonic() - started, self.lost_note)
        return exec_result(*reply)

    async def write_file(self, path: str, data: bytes) -> None:
        reply = await self._call({"op": "write", "path": path, "as": "agent"}, data, FILE_TIMEOUT)
        if reply is None:
            raise OSError(errno.EIO, CHANNEL_LOST, path)
        check_file_reply(reply[0], path)

    async def read_file(self, path: str) -> bytes:
        request = {"op": "read", "path": path, "as": "agent", "cap": file_cap(self.config)}
        reply = await self._call(request, b"", FILE_TIMEOUT)
        if reply is None:
            raise OSError(errno.EIO, CHANNEL_LOST, path)
        check_file_reply(reply[0], path)
        return reply[1]


class ServedGradingView:
    """The `GradingView` of a sandbox with a root exec server: `exec`, `read_file` and
    `write_file` as the sandbox's root; `exec_untrusted` as the grader uid (the server kills every
    process of that uid when the command returns)."""

    def __init__(self, call: Call, *, workdir: str, scratch: str, config: SandboxConfig) -> None:
        self._call = call
        self.workdir = workdir
        self.scratch = scratch
        self._config = config

    async def exec(self, cmd: str | list[str], *, timeout: float, stdin: bytes | None = None) -> ExecResult:
        header = exec_request(cmd, timeout=timeout, stdin=stdin, role="root")
        return exec_result(*await self._call(header, stdin or b"", timeout + GRACE))

    async def exec_untrusted(
        self, cmd: str | list[str], *, timeout: float, stdin: bytes | None = None, cwd: str | None = None
    ) -> ExecResult:
        env = {"HOME": self.scratch, "TMPDIR": self.scratch}  # the agent's /tmp may be full, or planted
        header = exec_request(cmd, timeout=timeout, stdin=stdin, role="grader", cwd=cwd or self.workdir, env=env)
        return exec_result(*await self._call(header, stdin or b"", timeout + GRACE))

    async def write_file(self, path: str, data: bytes) -> None:
        header, _ = await self._call({"op": "write", "path": path, "as": "root"}, data, FILE_TIMEOUT)
        check_file_reply(header, path)

    async def read_file(self, path: str) -> bytes:
        request = {"op": "read", "path": path, "as": "root", "cap": file_cap(self._config)}
        header, body = await self._call(request, b"", FILE_TIMEOUT)
        check_file_reply(header, path)
        return body
