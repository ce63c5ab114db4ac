"""What the bwrap and Docker sandboxes share: capped output, and file reads and writes done by a
small shell script run as the agent's own user inside the sandbox, so that a symlink the agent
planted resolves inside the sandbox and the agent's permissions apply."""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

from arena.protocols import ExecResult
from arena.sandbox import SandboxConfig

OUTPUT_CAP = 4 * 1024 * 1024  # per stream and exec: a `yes` flood must not eat host memory
FILE_TIMEOUT = 60.0  # read_file / write_file have no timeout argument; a FIFO must not hang them

# Exit codes of the file scripts below, chosen outside what `cat`, `mkdir` and `sh` return.
FILE_MISSING = 66
FILE_IS_DIR = 67
READ_SCRIPT = 'if [ -d "$1" ]; then exit 67; fi; if [ ! -e "$1" ]; then exit 66; fi; exec cat -- "$1"'
WRITE_SCRIPT = 'if [ -d "$1" ]; then exit 67; fi; mkdir -p -- "$(dirname -- "$1")" || exit 1; exec cat > "$1"'


@dataclass
class Capped:
    """Bytes of one output stream, kept up to `cap`; the rest is counted and dropped."""

    cap: int
    chunks: list[bytes] = field(default_factory=list)
    kept: int = 0
    dropped: int = 0

    def add(self, data: bytes) -> None:
        room = self.cap - self.kept
        if room > 0:
            self.chunks.append(data[:room])
            self.kept += min(room, len(data))
        self.dropped += max(0, len(data) - max(room, 0))

    def data(self) -> bytes:
        return b"".join(self.chunks)

    def text(self) -> str:
        text = self.data().decode(errors="replace")
        if self.dropped:
            text += f"\n[... {self.dropped} more bytes of output dropped by the sandbox ...]\n"
        return text


@dataclass
class RawResult:
    exit_code: int
    stdout: Capped
    stderr: Capped
    timed_out: bool
    seconds: float

    def result(self) -> ExecResult:
        return ExecResult(
            exit_code=self.exit_code,
            stdout=self.stdout.text(),
            stderr=self.stderr.text(),
            timed_out=self.timed_out,
            seconds=round(self.seconds, 4),
        )


def file_error(path: str, raw: RawResult, action: str) -> OSError:
    """The OSError a failed file script stands for (FileNotFoundError, IsADirectoryError, ...)."""
    if raw.timed_out:
        return OSError(errno.ETIMEDOUT, f"{action} did not finish within {FILE_TIMEOUT:g}s", path)
    if raw.exit_code == FILE_MISSING:
        return FileNotFoundError(errno.ENOENT, "No such file or directory", path)
    if raw.exit_code == FILE_IS_DIR:
        return IsADirectoryError(errno.EISDIR, "Is a directory", path)
    message = raw.stderr.data().decode(errors="replace").strip() or f"{action} failed (exit {raw.exit_code})"
    if "Permission denied" in message:
        return PermissionError(errno.EACCES, message, path)
    if "Not a directory" in message:
        return NotADirectoryError(errno.ENOTDIR, message, path)
    if "No such file or directory" in message:  # e.g. a write through a dangling symlink
        return FileNotFoundError(errno.ENOENT, message, path)
    if "Read-only file system" in message:
        return OSError(errno.EROFS, message, path)
    return OSError(errno.EIO, message, path)


def file_cap(config: SandboxConfig) -> int:
    # A file written inside the sandbox cannot exceed the file-size limit, so reads need no more room.
    return config.file_size_mb * 1024 * 1024 + 1


class ShellFileSandbox:
    """A sandbox whose subclasses provide `_run`; exec, read_file and write_file come from here."""

    config: SandboxConfig

    async def _run(self, argv: list[str], *, timeout: float, stdin: bytes | None, cap: int) -> RawResult:
        raise NotImplementedError

    async def exec(self, cmd: str | list[str], *, timeout: float, stdin: bytes | None = None) -> ExecResult:
        argv = ["bash", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        return (await self._run(argv, timeout=timeout, stdin=stdin, cap=OUTPUT_CAP)).result()

    async def write_file(self, path: str, data: bytes) -> None:
        raw = await self._run(["sh", "-c", WRITE_SCRIPT, "sh", path], timeout=FILE_TIMEOUT, stdin=data, cap=OUTPUT_CAP)
        if raw.exit_code != 0 or raw.timed_out:
            raise file_error(path, raw, "write")

    async def read_file(self, path: str) -> bytes:
        cap = file_cap(self.config)
        raw = await self._run(["sh", "-c", READ_SCRIPT, "sh", path], timeout=FILE_TIMEOUT, stdin=None, cap=cap)
        if raw.exit_code != 0 or raw.timed_out:
            raise file_error(path, raw, "read")
        if raw.stdout.dropped:
            raise OSError(errno.EFBIG, f"file is larger than the sandbox limit of {cap - 1} bytes", path)
        return raw.stdout.data()
