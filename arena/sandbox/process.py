"""The unsafe local sandbox: a temporary directory and plain subprocesses. No isolation at all;
only for debugging agents on a trusted machine (`--unsafe-local`)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

from arena.processes import start_process
from arena.protocols import ExecResult
from arena.sandbox import SandboxConfig


class ProcessSandbox:
    def __init__(self, root: Path, config: SandboxConfig) -> None:
        self.root = root
        self.workdir = str(root)
        self.config = config

    @classmethod
    async def start(cls, config: SandboxConfig, *, labels: dict[str, str]) -> ProcessSandbox:
        return cls(Path(tempfile.mkdtemp(prefix="arena-proc-")), config)

    def _path(self, path: str) -> Path:
        p = Path(path)
        return p if p.is_absolute() else self.root / p

    async def exec(self, cmd: str | list[str], *, timeout: float, stdin: bytes | None = None) -> ExecResult:
        argv = ["bash", "-c", cmd] if isinstance(cmd, str) else cmd
        started = time.monotonic()
        proc = await start_process(
            *argv,
            cwd=self.root,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # its own process group, so a timeout kills the whole tree
        )
        timed_out = False
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
        except TimeoutError:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = await proc.communicate()
        return ExecResult(
            exit_code=proc.returncode if proc.returncode is not None else -9,
            stdout=out.decode(errors="replace"),
            stderr=err.decode(errors="replace"),
            timed_out=timed_out,
            seconds=time.monotonic() - started,
        )

    async def write_file(self, path: str, data: bytes) -> None:
        p = self._path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)

    async def read_file(self, path: str) -> bytes:
        return self._path(path).read_bytes()

    async def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
