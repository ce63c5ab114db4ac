"""What is there to run: families, agents, and a readable view of a generated task."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from arena.errors import ConfigError
from arena.registry import AGENT_SCHEMES, AGENTS, FAMILIES, load_family

AGENT_NOTES = {
    "oracle": "plays the family's reference solution through the same tools (the ceiling)",
    "random": "random valid tool calls, then submit (the floor)",
    "openai": "any model behind an OpenAI-compatible endpoint: openai:MODEL[@settings.toml]",
    "command": "an external program speaking JSON lines on stdin/stdout: command:\"PROG ARGS\"",
}


def families_table() -> Table:
    table = Table(title="Task families", title_justify="left", header_style="bold", show_lines=True)
    for col in ("family", "version", "sandbox", "templates", "tools", "description"):
        table.add_column(col)
    for name in FAMILIES:
        try:
            family = load_family(name)
        except ConfigError as e:
            table.add_row(name, "", "", "", "", f"[red]unavailable: {e}[/red]")
            continue
        tools = sorted({t.name for t in family.tools(family.generate(0, "dev"))} | {"submit"})
        table.add_row(
            name,
            family.version,
            family.image or "none (tools act on family state)",
            "\n".join(family.templates),
            ", ".join(tools),
            family.description,
        )
    return table


def agents_table() -> Table:
    table = Table(title="Agents", title_justify="left", header_style="bold")
    table.add_column("agent")
    table.add_column("loads")
    table.add_column("what it is")
    for name, path in AGENTS.items():
        table.add_row(name, path, AGENT_NOTES.get(name, ""))
    for scheme, path in AGENT_SCHEMES.items():
        table.add_row(f"{scheme}:…", path, AGENT_NOTES.get(scheme, ""))
    table.add_row("package.module:Class", "any import path", "your own agent class (reset/act)")
    return table


def print_task(
    family_name: str, seed: int, split: str, *, as_json: bool, console: Console, level: str = "agent",
    salt: str | None = None,
) -> None:
    from arena.config import generate

    family = load_family(family_name)
    if level == "worker":
        from arena.levels.worker import JobFamily

        family = JobFamily(family_name, [family_name], salt=salt)
    task = generate(family, seed, split, salt)  # type: ignore[arg-type]
    if as_json:
        console.print_json(task.model_dump_json())
        return
    # Everything a family or a user wrote is shown as plain text, never read as Rich markup or emoji.
    def line(label: str, text: str) -> Text:
        return Text.assemble((label, "bold"), text)

    console.rule(Text.assemble((task.id, "bold"), f"  template {task.template}, difficulty {task.difficulty}, "
                               f"~{task.human_minutes:g} human minutes"))
    for i, text in enumerate(task.instructions):
        console.print(Text(f"instruction {i}", style="bold cyan"))
        console.print(Text(text), highlight=False)
    if task.subgoals:
        console.print(Text("subgoals", style="bold"))
        for g in task.subgoals:
            console.print(Text(f"  - {g.name}: {g.description}" + (f"  (checks: {', '.join(g.checks)})"
                                                                   if g.checks else "")))
    tools = [t.spec() for t in family.tools(task)]
    console.print(line("tools", ": " + ", ".join([t.name for t in tools] + ["submit"])))
    lim = task.limits
    console.print(line("limits", f": {lim.max_steps} steps, {lim.max_seconds:g}s, tool timeout {lim.tool_timeout:g}s"))
    if task.files:
        shown = ", ".join(list(task.files)[:8]) + (", …" if len(task.files) > 8 else "")
        console.print(line("files", f": {len(task.files)} ({shown})"))
