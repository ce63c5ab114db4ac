"""One episode as a person reads it: find it in a stored run, turn it into one record (the same
data for `arena show-episode --json`, the JSONL export and the HTML trajectory pages), and print
it with rich.

Episodes are named by their number in the run's plan (`12`, or `#12`) or by their key id
(`oracle|files/dev/3|agent|t0|p0`). Everything the agent or a tool wrote is printed as plain text,
never as Rich markup: an agent may write `[bold]` or `:emoji:` on purpose.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rich.console import Console, Group
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from arena.store import Store, StoredEpisode
from arena.types import EpisodeResult, StepRecord

EPISODE_SCHEMA = "arena.episode/1"
SHORT_LINES = 12  # output lines shown before a result is shortened in the terminal
SHORT_CHARS = 1500


@dataclass(frozen=True)
class EpisodeFilter:
    agent: str | None = None
    family: str | None = None
    split: str | None = None
    seed: int | None = None
    trial: int | None = None
    level: str | None = None
    paraphrase: int | None = None
    faults: float | None = None  # the planned fault rate
    failed: bool = False  # only episodes that did not succeed (fail or error)

    def matches(self, ep: StoredEpisode) -> bool:
        k = ep.key
        wanted = (
            (self.agent, k.agent), (self.family, k.family), (self.split, k.split), (self.seed, k.seed),
            (self.trial, k.trial), (self.level, k.level), (self.paraphrase, k.paraphrase), (self.faults, k.faults),
        )
        if any(want is not None and want != have for want, have in wanted):
            return False
        return not self.failed or (ep.result is not None and ep.result.outcome != "success")


def numbered(store: Store, run_id: str) -> list[tuple[int, StoredEpisode]]:
    """The run's episodes with their number: their position in the plan, stable for the run's life."""
    return list(enumerate(store.episodes(run_id)))


def find_episodes(
    episodes: list[tuple[int, StoredEpisode]], ref: str | None, flt: EpisodeFilter
) -> list[tuple[int, StoredEpisode]]:
    """The episodes that `ref` (a number or a key id; None for any) and the filter select."""
    if ref is not None:
        text = ref.strip().removeprefix("#")
        if text.isdigit():
            episodes = [(n, ep) for n, ep in episodes if n == int(text)]
        else:
            episodes = [(n, ep) for n, ep in episodes if ep.key.id == ref.strip()]
    return [(n, ep) for n, ep in episodes if flt.matches(ep)]


def what_exists(episodes: Iterable[StoredEpisode]) -> str:
    """A line naming what a run holds, for a filter that matched nothing."""
    eps = list(episodes)
    if not eps:
        return "the run has no episodes"
    seeds = sorted({e.key.seed for e in eps})

    def values(attr: str) -> str:
        return ", ".join(str(v) for v in dict.fromkeys(getattr(e.key, attr) for e in eps))

    seed_text = f"{seeds[0]}-{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) else values("seed")
    failed = sum(e.result is not None and e.result.outcome != "success" for e in eps)
    return (f"{len(eps)} episodes (numbers 0-{len(eps) - 1}): agents {values('agent')}; families "
            f"{values('family')}; levels {values('level')}; splits {values('split')}; seeds {seed_text}; "
            f"trials {values('trial')}; {failed} did not succeed")


def outcome_reason(result: EpisodeResult | None, status: str = "done") -> str:
    """Why the episode ended the way it did, in one line."""
    if result is None:
        return {"pending": "not run yet", "running": "still running"}.get(status, status)
    if result.outcome == "error":
        return f"infrastructure error (not the agent's fault): {result.error or 'no detail'}"
    failed = [c for c in result.checks if not c.passed]
    ends = {
        "submitted": "the agent submitted",
        "max_steps": f"the step limit ended it after {result.steps} steps",
        "time_limit": "the time limit ended it",
        "budget": "the token or cost budget ran out",
        "context": "the model's context window overflowed",
        "agent_error": "the agent crashed, hung or replied with garbage",
        "cancelled": "the run was interrupted",
    }
    ended = ends.get(result.termination, result.termination)
    if result.error:
        ended += f" ({result.error})"
    if result.outcome == "success":
        return f"{ended}; all {len(result.checks)} checks passed"
    if not result.checks:
        return f"{ended}; nothing was graded"
    names = ", ".join(c.name + (" (guard)" if c.kind == "guard" else "") for c in failed)
    return f"{ended}; {len(failed)} of {len(result.checks)} checks failed: {names}"


def episode_record(run_id: str, number: int, ep: StoredEpisode, steps: list[StepRecord]) -> dict[str, Any]:
    """The episode as data (schema `arena.episode/1`): key, task, result and the steps of its last
    attempt. `arena show-episode --json`, `arena export --format jsonl` and the HTML pages all use it."""
    return {
        "schema": EPISODE_SCHEMA,
        "run_id": run_id,
        "number": number,
        "id": ep.key.id,
        "key": ep.key.model_dump(mode="json"),
        "status": ep.status,
        "attempts": ep.attempts,
        "task_id": ep.task_id,
        "task": ep.task.model_dump(mode="json") if ep.task else None,
        "result": ep.result.model_dump(mode="json") if ep.result else None,
        "why": outcome_reason(ep.result, ep.status),
        "steps": [s.model_dump(mode="json") for s in steps],
    }


def load_record(store: Store, run_id: str, number: int, ep: StoredEpisode) -> dict[str, Any]:
    return episode_record(run_id, number, ep, store.steps(run_id, ep.key, ep.attempts))


# ---------------------------------------------------------------- the terminal


def shorten(text: str, lines: int = SHORT_LINES, chars: int = SHORT_CHARS) -> tuple[str, str | None]:
    """The start of a long output, and a line saying how much was left out (None if nothing)."""
    kept = text.splitlines()[:lines]
    short = "\n".join(kept)[:chars]
    if len(short) >= len(text.rstrip("\n")):
        return text.rstrip("\n"), None
    rest_lines = text.count("\n") + 1 - short.count("\n") - 1
    return short, f"… {len(text) - len(short):,} more characters ({rest_lines} more lines); --full shows all"


def _args_text(arguments: Any) -> str:
    import json

    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments, ensure_ascii=False)


def _usage_text(usage: dict[str, Any] | None) -> str | None:
    if not usage or not (usage.get("input_tokens") or usage.get("output_tokens") or usage.get("cost_usd")):
        return None
    cost = usage.get("cost_usd")
    price = "cost unknown" if cost is None else f"${cost:.4f}"
    model = f" {usage['model']}" if usage.get("model") else ""
    return f"usage{model}: {usage.get('input_tokens', 0):,} in, {usage.get('output_tokens', 0):,} out, {price}"


def _block(text: str, style: str = "", *, full: bool) -> list[Text]:
    body, more = (text.rstrip("\n"), None) if full else shorten(text)
    out = [Text(line, style=style) for line in body.splitlines() or [""]]
    if more:
        out.append(Text(more, style="dim italic"))
    return [Text("    ").append(line) for line in out]


def render_record(record: dict[str, Any], *, full: bool = False) -> Group:
    """The episode as rich renderables; every user-supplied string is a plain `Text`."""
    key, task, result = record["key"], record["task"] or {}, record["result"]
    parts: list[Any] = [Rule(Text(f"episode {record['number']} of run {record['run_id']}: {record['id']}"))]
    about = Text()
    about.append("task ", style="bold").append(str(record.get("task_id") or key["family"]))
    if task:
        about.append(f"  template {task.get('template')}, difficulty {task.get('difficulty')}, "
                     f"~{task.get('human_minutes', 0):g} human minutes")
    parts.append(about)
    parts.append(Text(
        f"agent {key['agent']}   level {key['level']}   split {key['split']}   seed {key['seed']}   "
        f"trial {key['trial']}   paraphrase {key['paraphrase']}   fault rate {key['faults']:g}   "
        f"status {record['status']}, attempt {record['attempts']}"
    ))
    parts.append(Text("instruction", style="bold cyan"))
    instruction = task.get("instruction") or "(not stored for this episode)"
    parts += [Text("  ") + Text(line) for line in instruction.splitlines()]
    for step in record["steps"]:
        parts += _render_step(step, full=full)
    if result:
        parts += _render_checks(result)
        parts += _render_parts(result)
    parts.append(_outcome_line(record))
    return Group(*parts)


def _render_step(step: dict[str, Any], *, full: bool) -> list[Any]:
    action = step["action"]
    head = Text(f"step {step['index']}", style="bold")
    if step.get("actor") == "supervisor":
        head.append("  supervisor (takeover)", style="bold magenta")
    head.append(f"  {step['seconds']:.2f}s", style="dim")
    lines: list[Any] = [Text(""), head]
    for event in step.get("events") or []:
        text = Text("  ◆ supervisor: ", style="magenta").append(event["kind"].replace("_", " "))
        if event.get("subgoal"):
            text.append(f" [{event['subgoal']}]")
        if event.get("detail"):
            text.append(": " + (event["detail"] if full else shorten(event["detail"], 3, 300)[0]))
        lines.append(text)
    if action.get("message"):
        lines.append(Text("  message", style="cyan"))
        lines += _block(action["message"], full=full)
    if action.get("parse_error"):
        lines.append(Text("  unreadable reply: ", style="red").append(action["parse_error"]))
    for call in action.get("tool_calls") or []:
        lines.append(Text("  → ", style="cyan").append(call["name"], style="bold").append(" ")
                     .append(_args_text(call.get("arguments")) if full else shorten(
                         _args_text(call.get("arguments")), 3, 300)[0]))
    usage = _usage_text(action.get("usage"))
    if usage:
        lines.append(Text("  " + usage, style="dim"))
    for res in step.get("results") or []:
        mark = Text("  ← ", style="green").append(res["name"], style="bold")
        if res.get("fault"):
            mark.append(f"  injected fault: {res['fault']}", style="bold yellow")
        if res.get("is_error"):
            mark.append("  error", style="bold red")
        if res.get("truncated"):
            mark.append("  truncated", style="dim")
        mark.append(f"  {res.get('seconds', 0):.3f}s", style="dim")
        lines.append(mark)
        lines += _block(res.get("output", ""), "red" if res.get("is_error") else "", full=full)
    if step.get("note"):
        lines.append(Text("  note: ", style="yellow").append(step["note"]))
    if step.get("sanitized"):
        lines.append(Text("  stored altered: ", style="dim").append(step["sanitized"]))
    return lines


def _render_checks(result: dict[str, Any]) -> list[Any]:
    if not result.get("checks"):
        return [Text(""), Text("checks: none were run", style="bold")]
    table = Table(title="checks", title_justify="left", title_style="bold", show_header=True, header_style="bold")
    for col in ("", "check", "kind", "detail"):
        table.add_column(col)
    for c in result["checks"]:
        mark = Text("pass", style="green") if c["passed"] else Text("FAIL", style="bold red")
        table.add_row(mark, Text(c["name"]), Text(c.get("kind", "goal")), Text(c.get("detail", "")))
    return [Text(""), table]


def _render_parts(result: dict[str, Any]) -> list[Any]:
    if not result.get("parts"):
        return []
    table = Table(title="worker job: sub-tasks", title_justify="left", title_style="bold", header_style="bold")
    for col in ("", "part", "family", "task", "score"):
        table.add_column(col)
    for p in result["parts"]:
        mark = Text("done", style="green") if p["success"] else Text("not done", style="red")
        table.add_row(mark, Text(p["name"]), Text(p["family"]), Text(p["task_id"]), f"{p['score']:.2f}")
    return [table]


def _outcome_line(record: dict[str, Any]) -> Text:
    result = record["result"]
    style = {"success": "bold green", "fail": "bold red", "error": "bold magenta"}
    line = Text("\noutcome: ", style="bold")
    if result is None:
        return line.append(record["status"], style="bold yellow").append(f"  ({record['why']})")
    usage = result.get("usage") or {}
    line.append(result["outcome"], style=style.get(result["outcome"], "bold"))
    line.append(f" ({result['termination']})  score {result['score']:.2f}, {result['steps']} steps, "
                f"{result['tool_calls']} tool calls, {result['tool_errors']} tool errors, {result['seconds']:.2f}s")
    used = _usage_text(usage)
    if used:
        line.append(f", {used}")
    return line.append("\nwhy: ", style="bold").append(record["why"])


def print_record(record: dict[str, Any], console: Console, *, full: bool = False) -> None:
    console.print(render_record(record, full=full), markup=False, highlight=False)


def matches_table(matches: list[tuple[int, StoredEpisode]], limit: int = 50) -> Table:
    table = Table(title=f"{len(matches)} episodes match", title_justify="left", header_style="bold")
    for col in ("#", "episode", "outcome", "termination", "score", "steps"):
        table.add_column(col)
    for n, ep in matches[:limit]:
        r = ep.result
        table.add_row(
            str(n), Text(ep.key.id), r.outcome if r else ep.status, r.termination if r else "",
            f"{r.score:.2f}" if r else "", str(r.steps) if r else "",
        )
    if len(matches) > limit:
        table.caption = f"… and {len(matches) - limit} more"
    return table
