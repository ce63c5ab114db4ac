"""Sandboxes: where an episode's commands run, behind the `Sandbox` protocol.

`open_sandbox` is the one factory for a single sandbox; `SandboxPool` (arena/sandbox/pool.py) keeps
warm ones for a run. bwrap and Docker sandboxes send every command down one exec server per
sandbox (execserver.py, channel.py, served.py), grade through `grading(final=...)` with the
sandbox's own privilege, and record what they make on the host so that `gc.collect()` can remove
what a dead arena process left. Heavy parts load only when used: the Docker SDK is imported only
for `docker` sandboxes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from arena.errors import ConfigError
from arena.protocols import Sandbox

SandboxKind = Literal["bwrap", "docker", "process"]
SANDBOX_KINDS: tuple[SandboxKind, ...] = ("bwrap", "docker", "process")
DiskKind = Literal["tmpfs", "ext4"]
KEPT_FOR_PROCESSES_MB = 64  # of memory_mb, that files on a tmpfs disk can never take


class SandboxConfig(BaseModel):
    """Resource limits and isolation of one sandbox."""

    model_config = ConfigDict(extra="forbid")  # a misspelt limit must not silently fall back to its default

    kind: SandboxKind = "bwrap"
    memory_mb: int = Field(1024, ge=64)
    cpus: float = Field(1.0, gt=0)
    pids: int = Field(256, ge=16)
    file_size_mb: int = Field(256, ge=1)
    cpu_seconds: int = Field(600, ge=1)
    disk_mb: int = Field(1024, ge=0)  # /work and /tmp together, on a file system of their own; 0: no cap
    inodes: int = Field(65536, ge=1024)  # files and directories on that file system
    # That file system: a tmpfs, in memory and counted in memory_mb like every tmpfs of the sandbox
    # (a mount, no more), or an ext4 image on the host's disk (a loop device; 4-5 ms more per
    # sandbox), for tasks whose files outgrow memory.
    disk: DiskKind = "tmpfs"
    shm_mb: int = Field(64, ge=1)  # /dev/shm (a tmpfs, counted in memory_mb)
    unsafe_local: bool = False  # required for kind="process": no isolation at all

    @property
    def disk_size_mb(self) -> int:
        """What the disk holds: `disk_mb`, and as a tmpfs no more than leaves `KEPT_FOR_PROCESSES_MB`
        of memory_mb beside it, so that a full disk still leaves room for the commands that clear it."""
        if self.disk == "tmpfs":
            return min(self.disk_mb, self.memory_mb - KEPT_FOR_PROCESSES_MB)
        return self.disk_mb

    @model_validator(mode="after")
    def _disk_fits(self) -> SandboxConfig:
        if 0 < self.disk_mb < 16:
            raise ValueError("disk_mb must be 0 (no disk cap) or at least 16")
        if not self.disk_mb:
            return self
        if self.disk == "ext4" and self.inodes * 256 > self.disk_mb * 1024 * 1024 // 2:  # ext4 inodes take 256 B
            raise ValueError(f"{self.inodes} inodes take more than half of a {self.disk_mb} MB disk: lower inodes")
        if self.disk_size_mb < 16:
            raise ValueError(
                f"memory_mb = {self.memory_mb} leaves no room for a tmpfs disk (its files count in memory_mb, "
                f"and {KEPT_FOR_PROCESSES_MB} MB stay for processes): raise memory_mb to at least "
                f"{KEPT_FOR_PROCESSES_MB + 16}, or set disk = \"ext4\" or disk_mb = 0"
            )
        return self


def check_config(config: SandboxConfig) -> None:
    """Refuse, before anything runs, a config that would run agent commands unisolated by accident."""
    if config.kind == "process" and not config.unsafe_local:
        raise ConfigError(
            "--sandbox process runs agent commands directly on this machine with no isolation; "
            "pass --unsafe-local to accept that, or use --sandbox bwrap or --sandbox docker"
        )


async def open_sandbox(config: SandboxConfig, *, image: str, labels: dict[str, str]) -> Sandbox:
    """Start a sandbox of the configured kind. Raises `SandboxError` if it cannot start."""
    check_config(config)
    if config.kind == "process":
        from arena.sandbox.process import ProcessSandbox

        return await ProcessSandbox.start(config, labels=labels)
    if config.kind == "bwrap":
        from arena.sandbox.bwrap import BwrapSandbox

        return await BwrapSandbox.start(config, image=image, labels=labels)
    if config.kind == "docker":
        from arena.sandbox.docker import DockerSandbox

        return await DockerSandbox.start(config, image=image, labels=labels)
    raise ConfigError(f"unknown sandbox kind {config.kind!r}; choose one of {', '.join(SANDBOX_KINDS)}")


class NullSandbox:
    """For families whose tools act on family state only: no process is ever started."""

    workdir = "/work"

    async def exec(self, cmd: str | list[str], *, timeout: float, stdin: bytes | None = None):
        from arena.errors import ToolError

        raise ToolError("this task has no shell; use the task's own tools")

    async def write_file(self, path: str, data: bytes) -> None:
        from arena.errors import ToolError

        raise ToolError("this task has no file system")

    async def read_file(self, path: str) -> bytes:
        from arena.errors import ToolError

        raise ToolError("this task has no file system")

    async def close(self) -> None:
        return None


def __getattr__(name: str) -> object:
    if name == "SandboxPool":  # loaded when used: it imports this module
        from arena.sandbox.pool import SandboxPool

        return SandboxPool
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "KEPT_FOR_PROCESSES_MB",
    "SANDBOX_KINDS",
    "DiskKind",
    "NullSandbox",
    "SandboxConfig",
    "SandboxKind",
    "SandboxPool",
    "check_config",
    "open_sandbox",
]
