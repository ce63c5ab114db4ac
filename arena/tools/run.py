"""The tool API and its input boundary.

A tool is a name, a description, a pydantic argument model, an async run function and its effect
on the world. Its JSON Schema (for OpenAI tools and MCP) comes from the argument model. `run_tool`
is the one place where anything an agent sends is validated and where every failure becomes a
tool-error result the agent can read: unknown tool, malformed JSON, wrong or missing arguments, a
tool that raises or times out. Nothing an agent sends can crash an episode.

A `Toolbox` is what an episode calls its tools through; wrappers over it (fault injection, a
worker job's per-part binding) change how calls run without the episode knowing.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ValidationError

from arena.errors import InfraError, ToolError, WorldBroken
from arena.protocols import Sandbox, State
from arena.types import Effect, Task, ToolCall, ToolResult, ToolSpec

MAX_OUTPUT_BYTES = 16 * 1024
# A tool gets this long past its timeout before it is abandoned: longer than the sandboxes' own
# bound on a hung daemon (Docker: timeout + 13 s), so their clearer error comes first.
TIMEOUT_GRACE = 15.0


@dataclass
class ToolContext:
    """What a tool's run function may touch: the sandbox, the task and the family's state.
    `timeout` is what a command of this call may take; `run_tool` cuts it to `remaining` (what is
    left of the episode's time), so one slow action cannot outlast the episode."""

    sandbox: Sandbox
    task: Task
    state: State
    timeout: float = 30.0
    remaining: float | None = None


RunFn = Callable[[Any, ToolContext], Awaitable[str]]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args: type[BaseModel]
    run: RunFn
    timeout: float | None = None  # None: the episode's tool timeout
    effect: Effect = "run"  # "read" only looks, "change" alters the world, "run" may do either

    @cached_property
    def _spec(self) -> ToolSpec:
        return tool_spec(self.name, self.description, self.args)

    def spec(self) -> ToolSpec:
        """The tool as agents see it; built once per tool (schemas are costly to regenerate)."""
        return self._spec


@functools.lru_cache(maxsize=1024)
def tool_spec(name: str, description: str, args: type[BaseModel]) -> ToolSpec:
    """The spec of a tool, made once for every tool of that name, description and argument model:
    families that build their tools per task (with the same models) would otherwise regenerate the
    same JSON Schemas for every episode (about 7 ms of CPU for a dozen tools)."""
    schema = args.model_json_schema()
    schema.pop("title", None)
    schema.setdefault("properties", {})
    return ToolSpec(name=name, description=description, parameters=schema)


@dataclass
class Toolbox:
    """The tools of one episode, by name."""

    tools: dict[str, Tool] = field(default_factory=dict)

    @classmethod
    def of(cls, tools: list[Tool]) -> Toolbox:
        return cls({t.name: t for t in tools})

    def specs(self) -> list[ToolSpec]:
        return [t.spec() for t in self.tools.values()]

    async def call(self, call: ToolCall, ctx: ToolContext) -> ToolResult:
        return await run_tool(self, call, ctx)


class ToolboxWrapper:
    """Base of toolbox wrappers: delegates everything; subclasses override `call` (and `specs`)."""

    def __init__(self, inner: Toolbox | ToolboxWrapper) -> None:
        self.inner = inner

    @property
    def tools(self) -> dict[str, Tool]:
        return self.inner.tools

    def specs(self) -> list[ToolSpec]:
        return self.inner.specs()

    async def call(self, call: ToolCall, ctx: ToolContext) -> ToolResult:
        return await self.inner.call(call, ctx)

    def __repr__(self) -> str:
        return f"{type(self).__name__}<{self.inner!r}>"


def cap_output(text: str, limit: int = MAX_OUTPUT_BYTES) -> tuple[str, bool]:
    """Cut text to `limit` bytes, keeping head and tail, with a note saying how much was cut."""
    data = text.encode("utf-8", errors="replace")
    if len(data) <= limit:
        return text, False
    half = limit // 2
    head = data[:half].decode("utf-8", errors="ignore")
    tail = data[-half:].decode("utf-8", errors="ignore")
    cut = len(data) - 2 * half
    return f"{head}\n[... output truncated: {cut} bytes cut of {len(data)} ...]\n{tail}", True


def parse_arguments(raw: dict[str, Any] | str) -> dict[str, Any]:
    """Tool arguments as a dict. Text is read the way a lenient JSON reader reads it: raw
    newlines and tabs inside strings are accepted (models write them), trailing text is not."""
    if isinstance(raw, dict):
        return raw
    text = raw.strip() or "{}"
    try:
        value = json.loads(text, strict=False)
    except json.JSONDecodeError as e:
        raise ToolError(
            f"arguments are not valid JSON ({e.msg}, line {e.lineno} column {e.colno}): {text[:200]!r}"
        ) from None
    if not isinstance(value, dict):
        raise ToolError(f"arguments must be a JSON object, got {type(value).__name__}")
    return value


def _describe_validation(e: ValidationError) -> str:
    parts = []
    for err in e.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(arguments)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


async def run_tool(toolbox: Toolbox | ToolboxWrapper, call: ToolCall, ctx: ToolContext) -> ToolResult:
    """Run one tool call. Agent mistakes and tool failures become error results;
    only `InfraError` (the sandbox itself broke) propagates."""
    started = time.monotonic()
    tool = toolbox.tools.get(call.name)

    def result(output: str, is_error: bool) -> ToolResult:
        text, truncated = cap_output(output)
        return ToolResult(
            call_id=call.id,
            name=call.name,
            output=text,
            is_error=is_error,
            truncated=truncated,
            effect=tool.effect if tool is not None else None,
            seconds=round(time.monotonic() - started, 4),
        )

    if tool is None:
        known = ", ".join(sorted(toolbox.tools))
        return result(f"error: unknown tool {call.name!r}; available tools: {known}", True)
    try:
        args = tool.args.model_validate(parse_arguments(call.arguments))
    except ToolError as e:
        return result(f"error: {e}", True)
    except ValidationError as e:
        return result(f"error: invalid arguments for {tool.name}: {_describe_validation(e)}", True)
    timeout = tool.timeout or ctx.timeout
    if ctx.remaining is not None:
        timeout = max(0.001, min(timeout, ctx.remaining))
    if timeout != ctx.timeout:
        ctx = ToolContext(ctx.sandbox, ctx.task, ctx.state, timeout=timeout, remaining=ctx.remaining)
    try:
        async with asyncio.timeout(timeout + TIMEOUT_GRACE):  # no task of its own, unlike wait_for
            output = await tool.run(args, ctx)
    except ToolError as e:
        return result(f"error: {e}", True)
    except TimeoutError:
        return result(f"error: {tool.name} timed out after {timeout:g}s", True)
    except (InfraError, WorldBroken):  # the sandbox broke, by itself or by the agent's doing
        raise
    except Exception as e:  # a tool bug must not end the episode; the agent sees what happened
        return result(f"error: {tool.name} failed: {type(e).__name__}: {e}", True)
    return result(output, False)
