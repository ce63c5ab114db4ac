"""Template `count_matches`: count matching lines per group across a directory tree (ERROR lines per
service in nested logs, or TODO comments per module in a source tree), write the counts to a named
file in a given format, and submit the total. Distractors: the word in other positions, other file
types, rotated or hidden files, lower-case look-alikes."""

from __future__ import annotations

import datetime as dt
import json
import random
from typing import Any

from arena.types import Check, Split, Subgoal, Task, ToolCall

from .._kit import single_integer
from ._common import (
    Draft,
    Final,
    Template,
    UniqueNames,
    expect,
    found,
    join_words,
    pick,
    random_day,
    submit_call,
    token,
    unchanged,
    write_call,
)

LOG_ROOTS = {"dev": ["logs", "service-logs"], "test": ["log-archive", "applogs"]}
SERVICES = {
    "dev": ["auth", "billing", "catalog", "checkout", "gateway", "inventory", "mailer", "search"],
    "test": ["ledger", "notifier", "scheduler", "reports", "uploads", "identity", "pricing", "shipping"],
}
SRC_ROOTS = {"dev": ["src", "app"], "test": ["lib", "pkg"]}
MODULES = {
    "dev": ["parser", "storage", "cli", "network", "render", "cache", "config"],
    "test": ["codec", "planner", "metrics", "export", "sync", "widgets", "quota"],
}
REPORT_DIRS = {"dev": ["report", "out"], "test": ["results", "summary"]}
FORMATS = ["json", "csv", "txt"]
DAYS = {"dev": (dt.date(2023, 1, 1), dt.date(2023, 12, 31)), "test": (dt.date(2024, 6, 1), dt.date(2025, 5, 31))}

QUIET = ["request served in {ms}ms", "cache hit ratio {pct}%", "user {id} signed in", "job {id} queued", "health ok"]
NOISY = ["retry succeeded after ERROR from upstream", "ERROR budget at {pct}%", "previous run ended with ERROR"]
FAILURES = [
    "timeout talking to db after {ms}ms",
    "unhandled exception in worker {id}",
    "payment provider said 502",
    "disk usage {pct}% on /var",
    "could not parse payload {id}",
]
CODE = [
    "x = compute({id})",
    "return result",
    "items.append({id})",
    "if not ok:",
    "    raise ValueError('bad')",
    "log.debug('step %d', {id})",
    "total += {pct}",
]
TODOS = ["# TODO handle overflow", "# TODO: remove after migration", "# TODO(kim) add retries", "# TODO cache this"]
NOT_TODOS = ["# todo: tidy up", "#TODO no space", "# FIXME later", "# see TODO.md"]


def _fill(rng: random.Random, pattern: str) -> str:
    return pattern.format(ms=rng.randint(200, 30000), pct=rng.randint(1, 99), id=rng.randint(2, 9999))


def _log_file(rng: random.Random, service: str, day: dt.date, errors: int, difficulty: int) -> str:
    lines: list[tuple[str, str]] = [("ERROR", _fill(rng, rng.choice(FAILURES))) for _ in range(errors)]
    lines += [(rng.choice(["INFO", "DEBUG", "WARN"]), _fill(rng, rng.choice(QUIET))) for _ in range(rng.randint(3, 8))]
    lines += [(rng.choice(["INFO", "WARN"]), _fill(rng, rng.choice(NOISY))) for _ in range(rng.randint(1, difficulty))]
    if difficulty >= 3:
        lines.append(("error", "lower-case level from a legacy client"))
    rng.shuffle(lines)
    out = []
    for i, (level, message) in enumerate(lines):
        stamp = f"{day.isoformat()}T{(i * 37) // 60 % 24:02d}:{i * 37 % 60:02d}:{rng.randint(0, 59):02d}Z"
        out.append(f"{stamp} {level} {service}: {message}")
    return "\n".join(out) + "\n"


def _source_file(rng: random.Random, todos: int, difficulty: int) -> str:
    lines = [_fill(rng, rng.choice(CODE)) for _ in range(rng.randint(4, 10))]
    lines += [rng.choice(["    ", ""]) + rng.choice(TODOS) for _ in range(todos)]
    lines += [rng.choice(NOT_TODOS) for _ in range(rng.randint(0, difficulty))]
    rng.shuffle(lines)
    return "\n".join(lines) + "\n"


class Tree:
    def __init__(self) -> None:
        self.files: dict[str, str] = {}
        self.names = UniqueNames()
        self.counts: dict[str, int] = {}

    def add(self, path: str, content: str, group: str | None = None, hits: int = 0) -> None:
        if not self.names.take(path):
            return
        self.files[path] = content
        if group is not None:
            self.counts[group] = self.counts.get(group, 0) + hits


def _logs(rng: random.Random, split: Split, difficulty: int) -> tuple[Tree, dict[str, str]]:
    root, tree = pick(rng, LOG_ROOTS, split), Tree()
    services = sorted(rng.sample(SERVICES[split], 2 + difficulty))
    quiet = rng.choice(services) if difficulty >= 2 else None
    first, last = DAYS[split]
    for service in services:
        tree.counts[service] = 0
        for _ in range(1 + difficulty):
            day = random_day(rng, first, last)
            errors = 0 if service == quiet else rng.randint(0, 4)
            folder = f"{root}/{service}" if difficulty == 1 else f"{root}/{service}/{day:%Y}/{day:%m}"
            plain = difficulty < 3 or rng.random() < 0.5
            name = f"{day.isoformat()}.log" if plain else f"worker {rng.randint(1, 4)}.log"
            tree.add(f"{folder}/{name}", _log_file(rng, service, day, errors, difficulty), service, errors)
        if difficulty >= 2:
            day = random_day(rng, first, last)
            tree.add(f"{root}/{service}/{day.isoformat()}.log.1", _log_file(rng, service, day, 2, 1))
            tree.add(f"{root}/{service}/NOTES.txt", f"{day} ERROR spike, see ticket {token(rng, 6)}\n")
        if difficulty >= 3:
            day = random_day(rng, first, last)
            tree.add(f"{root}/{service}/.archive/{day.isoformat()}.log", _log_file(rng, service, day, 3, 1))
    r = root
    rule = {
        "where": f"`{r}/`",
        "group": "service",
        "group_def": f"the service is the name of the first-level folder under `{r}/` (`{r}/<service>/...`)",
        "files": "files whose names end in `.log` (not rotated copies such as `.log.1`, not other files)",
        "match": "lines whose level, the second space-separated field, is exactly `ERROR` (upper case); the word "
        "ERROR elsewhere in a line does not make it an error line",
        "what": "ERROR lines",
    }
    return tree, rule


def _todos(rng: random.Random, split: Split, difficulty: int) -> tuple[Tree, dict[str, str]]:
    root, tree = pick(rng, SRC_ROOTS, split), Tree()
    modules = sorted(rng.sample(MODULES[split], 2 + difficulty))
    quiet = rng.choice(modules) if difficulty >= 2 else None
    for module in modules:
        tree.counts[module] = 0
        for _ in range(1 + difficulty):
            todos = 0 if module == quiet else rng.randint(0, 3)
            nested = difficulty >= 2 and rng.random() < 0.5
            folder = f"{root}/{module}/{rng.choice(['core', 'util', 'io'])}" if nested else f"{root}/{module}"
            name = rng.choice(["main", "helpers", "models", "api", "state", "types"]) + ".py"
            tree.add(f"{folder}/{name}", _source_file(rng, todos, difficulty), module, todos)
        if difficulty >= 2:
            tree.add(f"{root}/{module}/README.md", f"# {module}\n\n# TODO write docs\n# TODO add examples\n")
        if difficulty >= 3:
            tree.add(f"{root}/{module}/.cache/generated.py", _source_file(rng, 2, 1))
    r = root
    rule = {
        "where": f"`{r}/`",
        "group": "module",
        "group_def": f"the module is the name of the first-level folder under `{r}/` (`{r}/<module>/...`)",
        "files": "Python files (names ending in `.py`)",
        "match": "lines that contain `# TODO` exactly (hash, one space, TODO in capitals); `#TODO`, `# todo` and "
        "`# FIXME` do not count",
        "what": "TODO comments",
    }
    return tree, rule


def render(counts: dict[str, int], fmt: str, group: str) -> str:
    if fmt == "json":
        return json.dumps(counts, indent=2, sort_keys=True) + "\n"
    if fmt == "csv":
        return f"{group},count\n" + "".join(f"{k},{v}\n" for k, v in sorted(counts.items()))
    return "".join(f"{k}: {v}\n" for k, v in sorted(counts.items()))


def parse(text: str, fmt: str, group: str) -> dict[str, int]:
    """Read a report leniently (order, spacing, blank lines); raise ValueError when it is not the format."""
    if fmt == "json":
        data = json.loads(text)
        if not isinstance(data, dict) or not all(type(v) is int for v in data.values()):
            raise ValueError("expected a JSON object mapping names to integer counts")
        return data
    rows = [line.strip() for line in text.splitlines() if line.strip()]
    if not rows:
        raise ValueError("the report is empty")
    if fmt == "csv":
        if not rows or [c.strip().lower() for c in rows[0].split(",")] != [group, "count"]:
            raise ValueError(f"expected the header line `{group},count`")
        pairs = [row.split(",") for row in rows[1:]]
    else:
        pairs = [row.rsplit(":", 1) for row in rows]
    if any(len(p) != 2 for p in pairs):
        raise ValueError("every line needs exactly one name and one count")
    return {name.strip(): int(count.strip()) for name, count in pairs}


FORMAT_TEXT = {
    "json": "a JSON object mapping each {group} name to its count (numbers, not strings)",
    "csv": "CSV with the header line `{group},count` and then one `<{group}>,<count>` line per {group}",
    "txt": "plain text, one line per {group} written as `<{group}>: <count>`",
}


def draft(rng: random.Random, split: Split, difficulty: int) -> Draft:
    kind = rng.choice(["errors", "todos"])
    tree, rule = (_logs if kind == "errors" else _todos)(rng, split, difficulty)
    fmt = rng.choice(FORMATS)
    group = rule["group"]
    stem = "errors_by_service" if kind == "errors" else "todos_by_module"
    report = f"{pick(rng, REPORT_DIRS, split)}/{stem}.{fmt}"
    layout = FORMAT_TEXT[fmt].format(group=group)
    total = sum(tree.counts.values())
    w = rule
    instructions = [
        f"Count the {w['what']} per {group} under {w['where']}. Look at {w['files']} at any depth, skipping hidden "
        f"files and folders (names starting with a dot). Count {w['match']}. Here {w['group_def']}. Write the "
        f"result to `{report}` as {layout}, listing every {group} folder, with 0 where there are none. Then "
        f"submit the total count over all {group}s as your answer. Do not change any existing file.",
        f"I need a quick tally for {w['where']}: how many {w['what']} does each {group} have? Rules: {w['group_def']}; "
        f"only {w['files']} count, wherever they are nested, but nothing hidden (leading dot in a file or folder "
        f"name); count {w['match']}. Put the numbers in `{report}` ({layout}); include {group}s with 0. Submit "
        f"the grand total as the answer, and leave the existing files as they are.",
        f"Tally {w['what']} per {group}.\n- Tree: {w['where']} (recursive; skip hidden files/folders)\n"
        f"- {group.capitalize()}: {w['group_def']}\n- Files: {w['files']}\n- Count: {w['match']}\n"
        f"- Output: `{report}`, {layout}; every {group} listed, zeros included\n- Answer: submit the total\n"
        f"- Read-only: existing files",
    ]
    params: dict[str, Any] = {
        "kind": kind,
        "report": report,
        "format": fmt,
        "group": group,
        "counts": tree.counts,
        "total": total,
        "expect": [expect("nothing_else_touched", present=unchanged(tree.files, tree.files), kind="guard")],
        "facts": [report, w["where"]],
        "leak_probes": [render(tree.counts, fmt, group).strip()],
    }
    return Draft(
        instructions=instructions,
        files=tree.files,
        params=params,
        subgoals=[
            Subgoal(
                name="write_report",
                description=f"`{report}` holds the right counts in the asked format",
                checks=["report_exists", "answer_format", "answer_value", "nothing_else_touched"],
            ),
            Subgoal(name="submit_total", description="The total is submitted", checks=["submitted_total"]),
        ],
        human_minutes=round(4 + 0.4 * len(tree.files) + 0.5 * len(tree.counts), 1),
        max_steps=20 + 5 * difficulty,
    )


async def extra_checks(task: Task, final: Final) -> list[Check]:
    p = task.params
    text = await final.read(p["report"])
    checks = [found("report_exists", text, p["report"])]
    parsed: dict[str, int] | None = None
    try:
        if text is None:
            raise ValueError("there is no report to read")
        parsed = parse(text, p["format"], p["group"])
        checks.append(Check(name="answer_format", passed=True))
    except (ValueError, json.JSONDecodeError) as e:
        checks.append(Check(name="answer_format", passed=False, detail=str(e)[:200]))
    got = parsed or {}
    wrong = {k for k in set(p["counts"]) | set(got) if got.get(k) != p["counts"].get(k)}
    checks.append(
        Check(
            name="answer_value",
            passed=parsed is not None and not wrong,
            detail=f"wrong or missing: {join_words(sorted(wrong))}" if wrong else "",
        )
    )
    submitted = single_integer(final.state.answer)
    checks.append(
        Check(
            name="submitted_total",
            passed=submitted == p["total"],
            detail=f"submitted {final.state.answer!r}" if submitted != p["total"] else "",
        )
    )
    return checks


def solution(task: Task) -> list[ToolCall]:
    p = task.params
    return [
        write_call(p["report"], render(p["counts"], p["format"], p["group"]), "write_report"),
        submit_call(str(p["total"]), "submit_total"),
    ]


TEMPLATE = Template(name="count_matches", draft=draft, solution=solution, extra_checks=extra_checks)
