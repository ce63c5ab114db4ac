"""The episode outcome exception tree. Foreign errors (sandbox, HTTP, agent process) are
translated into these at one boundary each, so the episode loop handles only these."""

from __future__ import annotations


class ArenaError(Exception):
    """Base of every error the arena raises on purpose."""


class ConfigError(ArenaError):
    """A bad config or flag, found before anything runs. The message says what to fix."""


class InfraError(ArenaError):
    """Infrastructure failed (sandbox could not start or died, an endpoint never answered).
    The episode is recorded as `error`, retried within a bound, and never counted against the agent."""


class SandboxError(InfraError):
    """The sandbox could not start, died, or failed to run a command."""


class StoreError(ArenaError):
    """The store cannot be written (disk full, read-only, locked): the arena's failure, never the
    agent's. The run stops with one line saying what to fix; what was stored stays consistent."""


class AgentError(ArenaError):
    """The agent itself failed: it crashed, hung, or produced output that cannot be read.
    The episode ends as `fail` with the reason recorded."""


class WorldBroken(AgentError):
    """What the agent did made its own world unusable (its sandbox ran out of memory, it killed
    the sandbox's command channel). The agent's `fail`, never an infrastructure `error`."""


class ContextOverflow(AgentError):
    """The model's context window is full. Mid-episode this ends the episode as the agent's `fail`
    (termination `context`); at the first call (`at_start`) it is a configuration error."""

    def __init__(self, message: str, *, at_start: bool = False) -> None:
        super().__init__(message)
        self.at_start = at_start


class ToolError(ArenaError):
    """Raised inside a tool to return an error result the agent can read and act on."""
