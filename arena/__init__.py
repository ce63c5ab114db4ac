"""Autonomy Arena: measure what an AI agent can really do on its own.

The public surface: the core types, the three protocols (sandbox, family, agent), the tool API,
the one episode loop and the runner. Everything else is reachable through its module.
"""

from arena.config import RunConfig
from arena.episode import Episode, run_episode
from arena.errors import AgentError, ArenaError, ConfigError, InfraError, SandboxError, ToolError
from arena.protocols import Agent, ExecResult, Family, Sandbox, State
from arena.runner import Runner
from arena.store import Store
from arena.tools import Tool, ToolContext
from arena.types import (
    Action,
    Check,
    CheckResult,
    EpisodeKey,
    EpisodeResult,
    Limits,
    Observation,
    StepRecord,
    Subgoal,
    Task,
    TaskView,
    ToolCall,
    ToolResult,
    ToolSpec,
    Usage,
)

__version__ = "0.1.0"

__all__ = [
    "Action",
    "Agent",
    "AgentError",
    "ArenaError",
    "Check",
    "CheckResult",
    "ConfigError",
    "Episode",
    "EpisodeKey",
    "EpisodeResult",
    "ExecResult",
    "Family",
    "InfraError",
    "Limits",
    "Observation",
    "RunConfig",
    "Runner",
    "Sandbox",
    "SandboxError",
    "State",
    "StepRecord",
    "Store",
    "Subgoal",
    "Task",
    "TaskView",
    "Tool",
    "ToolCall",
    "ToolContext",
    "ToolError",
    "ToolResult",
    "ToolSpec",
    "Usage",
    "run_episode",
]
