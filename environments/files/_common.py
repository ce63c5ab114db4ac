"""Pieces shared by the files templates: the template record, the final-state snapshot, and the
tree expectations (files that must be present with given content, or absent) most checks are made of."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import re
import shlex
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from arena.protocols import Sandbox, State
from arena.types import Check, Split, Subgoal, Task, ToolCall

SNAPSHOT_TIMEOUT = 60.0
# Every regular file under the work directory with its sha256. Symlinks and special files are not
# regular files, so a path the agent replaced by one of them counts as missing.
SNAPSHOT_COMMAND = ["find", ".", "-type", "f", "-exec", "sha256sum", "--", "{}", "+"]


@dataclass
class Draft:
    """What a template generates; the family wraps it into a `Task`."""

    instructions: list[str]
    files: dict[str, str]
    params: dict[str, Any]
    subgoals: list[Subgoal]
    human_minutes: float
    max_steps: int = 30


@dataclass
class Final:
    """The world after the agent finished: every file's sha256 by path, plus the sandbox to read answers."""

    hashes: dict[str, str]
    sandbox: Sandbox
    state: State

    async def read(self, path: str) -> str | None:
        if path not in self.hashes:
            return None
        try:
            return (await self.sandbox.read_file(path)).decode("utf-8", errors="replace")
        except OSError:
            return None


DraftFn = Callable[[random.Random, Split, int], Draft]
ExtraChecks = Callable[[Task, Final], Awaitable[list[Check]]]
SolutionFn = Callable[[Task], list[ToolCall]]


def found(name: str, text: str | None, path: str) -> Check:
    """The check that an answer file the agent had to write exists."""
    return Check(name=name, passed=text is not None, detail="" if text is not None else f"{path} was not written")


async def no_extra_checks(task: Task, final: Final) -> list[Check]:
    return []


@dataclass(frozen=True)
class Template:
    """One kind of chore. `draft` makes an instance; `extra_checks` adds checks beyond the tree
    expectations stored in `params["expect"]`; `solution` is the reference play."""

    name: str
    draft: DraftFn
    solution: SolutionFn
    extra_checks: ExtraChecks = no_extra_checks


# ---------------------------------------------------------------- final state and tree checks


async def snapshot(sandbox: Sandbox) -> dict[str, str]:
    result = await sandbox.exec(SNAPSHOT_COMMAND, timeout=SNAPSHOT_TIMEOUT)
    if result.timed_out or (result.exit_code != 0 and not result.stdout):
        raise RuntimeError(f"cannot list the final files: {result.stderr.strip()[:500]}")
    # a non-zero exit with output means some file could not be read; it then counts as missing
    return parse_sha256sum(result.stdout)


def parse_sha256sum(output: str) -> dict[str, str]:
    """`sha256sum` lines to {path: digest}; names with a backslash or newline come escaped, flagged by a
    leading backslash."""
    hashes = {}
    for line in output.split("\n"):
        escaped = line.startswith("\\")
        digest, _, path = line.removeprefix("\\").partition("  ")
        if not path:
            continue
        if escaped:
            path = re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r"}.get(m.group(1), m.group(1)), path)
        hashes[path.removeprefix("./")] = digest
    return hashes


def expect(name: str, present: dict[str, str] | None = None, absent: Iterable[str] = ()) -> dict[str, Any]:
    """A named tree expectation: `present` maps paths to the sha256 their content must have."""
    return {"name": name, "present": dict(present or {}), "absent": sorted(absent)}


def tree_check(group: dict[str, Any], hashes: dict[str, str]) -> Check:
    problems = []
    for path, digest in group["present"].items():
        if path not in hashes:
            problems.append(f"{path}: missing")
        elif hashes[path] != digest:
            problems.append(f"{path}: content changed")
    problems += [f"{path}: still there" for path in group["absent"] if path in hashes]
    total = len(group["present"]) + len(group["absent"])
    if not problems:
        return Check(name=group["name"], passed=True, detail=f"all {total} paths as expected")
    shown = "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
    return Check(name=group["name"], passed=False, detail=f"{len(problems)} of {total} wrong: {shown}")


def unchanged(files: dict[str, str], paths: Iterable[str]) -> dict[str, str]:
    """The `present` map for files that must stay exactly as they were."""
    return {p: sha(files[p]) for p in paths}


# ---------------------------------------------------------------- small helpers


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def pick(rng: random.Random, pools: dict[str, Sequence[Any]], split: Split) -> Any:
    return rng.choice(list(pools[split]))


def random_day(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    return dt.date.fromordinal(rng.randint(first.toordinal(), last.toordinal()))


def join_words(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def token(rng: random.Random, n: int = 12) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def bash_call(script: str) -> ToolCall:
    return ToolCall(name="bash", arguments={"command": script})


def write_call(path: str, content: str) -> ToolCall:
    return ToolCall(name="write_file", arguments={"path": path, "content": content})


def submit_call(answer: str) -> ToolCall:
    return ToolCall(name="submit", arguments={"answer": answer})


def move_script(moves: dict[str, str]) -> str:
    """A bash script that moves each source to its target, creating folders first."""
    folders = sorted({target.rsplit("/", 1)[0] for target in moves.values() if "/" in target})
    lines = ["set -e"]
    lines += [f"mkdir -p -- {shlex.quote(folder)}" for folder in folders]
    lines += [f"mv -- {shlex.quote(src)} {shlex.quote(dst)}" for src, dst in moves.items()]
    return "\n".join(lines)


def remove_script(paths: Iterable[str]) -> str:
    return "set -e\n" + "\n".join(f"rm -- {shlex.quote(p)}" for p in paths)


class UniqueNames:
    """Hands out file names not used before in this task (case-insensitively, so no two files
    collide on a case-insensitive file system either)."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def take(self, name: str) -> bool:
        if name.lower() in self.used:
            return False
        self.used.add(name.lower())
        return True

    def make(self, rng: random.Random, build: Callable[[random.Random], str], tries: int = 200) -> str:
        for _ in range(tries):
            name = build(rng)
            if self.take(name):
                return name
        raise RuntimeError("could not find a fresh file name")
