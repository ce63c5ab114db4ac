"""The standard tool API.

A tool is a name, a description, a pydantic argument model and an async run function. Its JSON
Schema (for OpenAI tools and MCP) comes from the argument model. `run_tool` is the one place
where anything an agent sends is validated and where every failure becomes a tool-error result
the agent can read: unknown tool, malformed JSON, wrong or missing arguments, a tool that raises
or times out. Nothing an agent sends can crash an episode.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from arena.errors import InfraError, ToolError
from arena.protocols import Sandbox, State
from arena.types import Effect, Task, ToolCall, ToolResult, ToolSpec

MAX_OUTPUT_BYTES = 16 * 1024


@dataclass
class ToolContext:
    """What a tool's run function may touch: the sandbox, the task and the family's state."""

    sandbox: Sandbox
    task: Task
    state: State
    timeout: float = 30.0


RunFn = Callable[[Any, ToolContext], Awaitable[str]]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args: type[BaseModel]
    run: RunFn
    timeout: float | None = None  # None: the episode's tool timeout
    effect: Effect = "run"  # "read" only looks, "change" alters the world, "run" may do either

    def spec(self) -> ToolSpec:
        schema = self.args.model_json_schema()
        schema.pop("title", None)
        schema.setdefault("properties", {})
        return ToolSpec(name=self.name, description=self.description, parameters=schema)


@dataclass
class Toolbox:
    """The tools of one episode, by name."""

    tools: dict[str, Tool] = field(default_factory=dict)

    @classmethod
    def of(cls, tools: list[Tool]) -> Toolbox:
        return cls({t.name: t for t in tools})

    def specs(self) -> list[ToolSpec]:
        return [t.spec() for t in self.tools.values()]


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
    if isinstance(raw, dict):
        return raw
    text = raw.strip() or "{}"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ToolError(f"arguments are not valid JSON ({e.msg} at position {e.pos}): {text[:200]!r}") from None
    if not isinstance(value, dict):
        raise ToolError(f"arguments must be a JSON object, got {type(value).__name__}")
    return value


def _describe_validation(e: ValidationError) -> str:
    parts = []
    for err in e.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(arguments)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


async def run_tool(toolbox: Toolbox, call: ToolCall, ctx: ToolContext) -> ToolResult:
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
    try:
        output = await asyncio.wait_for(tool.run(args, ctx), timeout=timeout + 5.0)
    except ToolError as e:
        return result(f"error: {e}", True)
    except TimeoutError:
        return result(f"error: {tool.name} timed out after {timeout:g}s", True)
    except InfraError:
        raise
    except Exception as e:  # a tool bug must not end the episode; the agent sees what happened
        return result(f"error: {tool.name} failed: {type(e).__name__}: {e}", True)
    return result(output, False)


# ---------------------------------------------------------------- standard tools


class BashArgs(BaseModel):
    command: str = Field(description="Shell command, run with bash in the work directory.")


class ReadFileArgs(BaseModel):
    path: str = Field(description="File path, relative to the work directory or absolute.")


class WriteFileArgs(BaseModel):
    path: str = Field(description="File path, relative to the work directory or absolute.")
    content: str = Field(description="The full new content of the file.")


class ListDirArgs(BaseModel):
    path: str = Field(".", description="Directory to list, relative to the work directory.")


class EditArgs(BaseModel):
    path: str = Field(description="File to edit, relative to the work directory.")
    old: str = Field(description="Exact text to replace; it must occur exactly once in the file.")
    new: str = Field(description="Replacement text.")


class SubmitArgs(BaseModel):
    answer: str | None = Field(None, description="Your final answer, when the task asks for one.")


def format_exec(exit_code: int, stdout: str, stderr: str, timed_out: bool, timeout: float) -> str:
    out = stdout
    if stderr:
        out += ("\n" if out and not out.endswith("\n") else "") + stderr
    if timed_out:
        return f"{out}\n[command killed: timed out after {timeout:g}s]".lstrip("\n")
    return f"{out}\n[exit code {exit_code}]".lstrip("\n")


async def _bash(args: BashArgs, ctx: ToolContext) -> str:
    r = await ctx.sandbox.exec(["bash", "-c", args.command], timeout=ctx.timeout)
    text = format_exec(r.exit_code, r.stdout, r.stderr, r.timed_out, ctx.timeout)
    if r.timed_out or r.exit_code != 0:
        raise ToolError(text)
    return text


async def _read_file(args: ReadFileArgs, ctx: ToolContext) -> str:
    try:
        data = await ctx.sandbox.read_file(args.path)
    except FileNotFoundError:
        raise ToolError(f"no such file: {args.path}") from None
    except IsADirectoryError:
        raise ToolError(f"{args.path} is a directory; use list_dir") from None
    except OSError as e:  # permission denied, not a directory, too large, ...
        raise ToolError(f"cannot read {args.path}: {e.strerror or e}") from None
    return data.decode("utf-8", errors="replace")


async def _write_file(args: WriteFileArgs, ctx: ToolContext) -> str:
    try:
        await ctx.sandbox.write_file(args.path, args.content.encode())
    except OSError as e:
        raise ToolError(f"cannot write {args.path}: {e.strerror or e}") from None
    return f"wrote {len(args.content.encode())} bytes to {args.path}"


async def _list_dir(args: ListDirArgs, ctx: ToolContext) -> str:
    r = await ctx.sandbox.exec(
        ["ls", "-lA", "--time-style=+%Y-%m-%d", "--", args.path], timeout=ctx.timeout
    )
    if r.exit_code != 0:
        raise ToolError((r.stderr or r.stdout).strip() or f"cannot list {args.path}")
    return r.stdout


async def _edit(args: EditArgs, ctx: ToolContext) -> str:
    try:
        text = (await ctx.sandbox.read_file(args.path)).decode("utf-8", errors="replace")
    except FileNotFoundError:
        raise ToolError(f"no such file: {args.path}") from None
    count = text.count(args.old)
    if count != 1:
        where = "does not occur" if count == 0 else f"occurs {count} times"
        raise ToolError(f"the text to replace {where} in {args.path}; give an exact, unique snippet")
    await ctx.sandbox.write_file(args.path, text.replace(args.old, args.new, 1).encode())
    return f"edited {args.path}"


async def _submit(args: SubmitArgs, ctx: ToolContext) -> str:
    ctx.state.answer = args.answer
    return "submitted"


bash = Tool("bash", "Run a bash command in the work directory; returns its output and exit code.", BashArgs, _bash)
read_file = Tool("read_file", "Read a text file.", ReadFileArgs, _read_file, effect="read")
write_file = Tool(
    "write_file", "Create or overwrite a file (parent folders are created).", WriteFileArgs, _write_file,
    effect="change",
)
list_dir = Tool("list_dir", "List a directory with sizes and dates.", ListDirArgs, _list_dir, effect="read")
edit = Tool("edit", "Replace one exact, unique snippet of text in a file.", EditArgs, _edit, effect="change")
submit = Tool(
    "submit", "Finish the task. Call it once, when you are done, with your answer if one is asked for.",
    SubmitArgs, _submit, effect="none",
)

SHELL_TOOLS = [bash, read_file, write_file, list_dir]

