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


class AgentError(ArenaError):
    """The agent itself failed: it crashed, hung, or produced output that cannot be read.
    The episode ends as `fail` with the reason recorded."""


class ToolError(ArenaError):
    """Raised inside a tool to return an error result the agent can read and act on."""


class BudgetExceeded(ArenaError):
    """A token or cost budget ran out; the episode is truncated."""
