"""The standard tools: a shell, file reading and writing, listing, editing, submit and reflect.

Families hand these to agents as they are (`SHELL_TOOLS`) or next to their own tools. `submit`
and `reflect` are added by the episode itself; families never list them.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from arena.errors import ToolError
from arena.tools.run import Tool, ToolContext


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


class ReflectArgs(BaseModel):
    thought: str = Field(description="What you notice, doubt or plan next; recorded, changes nothing.")


async def _reflect(args: ReflectArgs, ctx: ToolContext) -> str:
    return "noted"


reflect = Tool(
    "reflect",
    "Think out loud: note what you observed, what went wrong or what you will do next. It has no effect on the "
    "task; use it when a pause to reconsider helps.",
    ReflectArgs, _reflect, effect="none",
)
