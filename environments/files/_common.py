"""Pieces shared by the files templates: the template record, the final-state snapshot, and the
tree expectations (files that must be present with given content, or absent) most checks are made of."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import shlex
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from arena.protocols import GradingView, State
from arena.types import Check, CheckKind, Split, Subgoal, Task, ToolCall

SNAPSHOT_TIMEOUT = 60.0
MAX_ANSWER_BYTES = 1024 * 1024  # the answer files asked for are a few kB
# Every regular file under the work directory with its size, then with its sha256 (NUL-separated,
# so any name survives). Symlinks, FIFOs and other special files are not regular files, so a path
# the agent replaced by one of them counts as missing, and nothing is ever read through them.
SNAPSHOT_SCRIPT = (
    'cd -- "$1" || exit 70; '
    "find . -type f -printf '%s %p\\0'; printf '\\0//\\0'; find . -type f -exec sha256sum -z -- {} +"
)
DROPPED = "more bytes of output dropped"  # the sandbox's note when output went past its cap


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
class Snapshot:
    """Every regular file of the work directory: sha256 and size by path. `problem` says why the
    world could not be read in full (the agent made it so); every check then fails with it."""

    hashes: dict[str, str]
    sizes: dict[str, int]
    problem: str | None = None


@dataclass
class Final:
    """The world after the agent finished, and the view to read answer files through."""

    snapshot: Snapshot
    view: GradingView
    state: State

    @property
    def hashes(self) -> dict[str, str]:
        return self.snapshot.hashes

    async def read(self, path: str) -> str | None:
        """An answer file's text; None when it is missing, not a regular file, too large or unreadable."""
        if path not in self.hashes or self.snapshot.sizes.get(path, 0) > MAX_ANSWER_BYTES:
            return None
        try:
            data = await self.view.read_file(f"{self.view.workdir.rstrip('/')}/{path}")
        except OSError:
            return None
        return data[: MAX_ANSWER_BYTES + 1].decode("utf-8", errors="replace")


DraftFn = Callable[[random.Random, Split, int], Draft]
ExtraChecks = Callable[[Task, Final], Awaitable[list[Check]]]
SolutionFn = Callable[[Task], list[ToolCall]]


def found(name: str, text: str | None, path: str) -> Check:
    """The check that an answer file the agent had to write exists."""
    detail = "" if text is not None else f"{path} was not written (or is no regular file, or is too large)"
    return Check(name=name, passed=text is not None, detail=detail)


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


async def snapshot(view: GradingView) -> Snapshot:
    """Read the whole work directory in one exec. Whatever the agent left (unreadable folders, pipes,
    odd names, links out of the work directory, more files than can be listed) gives a snapshot,
    never an exception: an unreadable file counts as missing."""
    # sh, not bash: with no process slot left, bash retries a fork for many seconds, sh fails at once
    result = await view.exec(["sh", "-c", SNAPSHOT_SCRIPT, "sh", view.workdir], timeout=SNAPSHOT_TIMEOUT)
    if result.exit_code == 70:
        return Snapshot({}, {}, f"the work directory cannot be entered: {result.stderr.strip()[:200]}")
    if result.timed_out:
        return Snapshot({}, {}, f"the work directory could not be read within {SNAPSHOT_TIMEOUT:g}s")
    if DROPPED in result.stdout[-300:]:
        return Snapshot({}, {}, "the work directory holds too many files to be graded")
    listing, _, hashed = result.stdout.partition("\0//\0")
    sizes, hashes = {}, {}
    for entry in filter(None, listing.split("\0")):
        size, _, path = entry.partition(" ")
        if size.isdigit():
            sizes[path.removeprefix("./")] = int(size)
    for entry in filter(None, hashed.split("\0")):
        digest, _, path = entry.partition("  ")
        if len(digest) == 64 and path:
            hashes[path.removeprefix("./")] = digest
    if result.exit_code != 0 and not hashes:  # e.g. no process left to list anything with
        return Snapshot({}, {}, f"the work directory could not be read: {result.stderr.strip()[-200:]}")
    return Snapshot(hashes, sizes)


def expect(
    name: str, present: dict[str, str] | None = None, absent: Iterable[str] = (), kind: CheckKind = "goal"
) -> dict[str, Any]:
    """A named tree expectation: `present` maps paths to the sha256 their content must have. A
    `guard` (files that must stay as they were) passes when the agent does nothing."""
    return {"name": name, "present": dict(present or {}), "absent": sorted(absent), "kind": kind}


def tree_check(group: dict[str, Any], snap: Snapshot) -> Check:
    kind = group.get("kind", "goal")
    if snap.problem:
        return Check(name=group["name"], passed=False, detail=snap.problem, kind=kind)
    hashes = snap.hashes
    problems = []
    for path, digest in group["present"].items():
        if path not in hashes:
            problems.append(f"{path}: missing")
        elif hashes[path] != digest:
            problems.append(f"{path}: content changed")
    problems += [f"{path}: still there" for path in group["absent"] if path in hashes]
    total = len(group["present"]) + len(group["absent"])
    if not problems:
        return Check(name=group["name"], passed=True, detail=f"all {total} paths as expected", kind=kind)
    shown = "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
    return Check(name=group["name"], passed=False, detail=f"{len(problems)} of {total} wrong: {shown}", kind=kind)


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


def bash_call(script: str, subgoal: str | None = None) -> ToolCall:
    return ToolCall(name="bash", arguments={"command": script}, subgoal=subgoal)


def write_call(path: str, content: str, subgoal: str | None = None) -> ToolCall:
    return ToolCall(name="write_file", arguments={"path": path, "content": content}, subgoal=subgoal)


def submit_call(answer: str, subgoal: str | None = None) -> ToolCall:
    return ToolCall(name="submit", arguments={"answer": answer}, subgoal=subgoal)


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
