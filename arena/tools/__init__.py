"""The standard tool API: `Tool`, `Toolbox`, `run_tool` (the one input boundary), the standard
tools, and fault injection (`arena.tools.faults`)."""

from arena.tools.run import (
    MAX_OUTPUT_BYTES,
    Tool,
    Toolbox,
    ToolboxWrapper,
    ToolContext,
    cap_output,
    parse_arguments,
    run_tool,
)
from arena.tools.shell import (
    SHELL_TOOLS,
    bash,
    edit,
    format_exec,
    list_dir,
    read_file,
    reflect,
    submit,
    write_file,
)

__all__ = [
    "MAX_OUTPUT_BYTES",
    "SHELL_TOOLS",
    "Tool",
    "ToolContext",
    "Toolbox",
    "ToolboxWrapper",
    "bash",
    "cap_output",
    "edit",
    "format_exec",
    "list_dir",
    "parse_arguments",
    "read_file",
    "reflect",
    "run_tool",
    "submit",
    "write_file",
]
