"""What the task families share: the seeded generator and template choice, writing a task's files
in one exec, reference steps tagged with the subgoal they serve, lenient reading of answers, named
goal and guard checks, and the grading view a check reads the world through.

A family stays free to ignore any of it; these are the parts every built-in family used to repeat.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import math
import random
import re
import shlex
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from arena.errors import SandboxError
from arena.grading import open_grading
from arena.protocols import GradingView, Sandbox
from arena.types import Check, Split, Task, ToolCall, salt_fingerprint

T = TypeVar("T")
SETUP_TIMEOUT = 60.0


# ---------------------------------------------------------------- generation


class Rng(random.Random):
    """`random.Random` with `randint` and `choice` that go straight to `_randbelow`, the draw that
    `random`'s own versions end in, skipping the generic `randrange` path: the same draws from the
    same stream by construction, at about two thirds of the cost. Task generation makes tens of
    thousands of them, and a thousand episodes starting at once wait for all of it."""

    def randint(self, a: int, b: int) -> int:
        n = b - a + 1
        if type(n) is not int or n <= 0:
            return super().randint(a, b)  # its error, or its handling of odd arguments
        return a + self._randbelow(n)

    def choice(self, seq: Sequence[T]) -> T:
        n = len(seq)
        if not n:
            raise IndexError("Cannot choose from an empty sequence")
        return seq[self._randbelow(n)]


def rng_for(family: str, split: Split, seed: int, salt: str | None = None) -> random.Random:
    """The one random generator of a task: the same family, split and seed give the same task. A
    salt (a private split's secret) is mixed into the test split only, so nobody without it can
    regenerate those tasks and the same salt reproduces them exactly."""
    if salt and split == "test":
        secret = hmac.new(salt.encode(), f"{family}:{split}:{seed}".encode(), hashlib.sha256).hexdigest()
        return Rng(f"{family}:{split}:{seed}:{secret}")
    return Rng(f"{family}:{split}:{seed}")


def sealed(task: Task, salt: str | None) -> Task:
    """Mark a task generated with a salt as private (its id carries the salt's fingerprint)."""
    if not salt or task.split != "test":
        return task
    return task.model_copy(update={"private": salt_fingerprint(salt)})


def template_for(seed: int, templates: Sequence[T]) -> T:
    """Templates take turns with the seed, so any run of len(templates) seeds meets each of them."""
    return templates[seed % len(templates)]


LEVELS = 5


def level_for(seed: int, templates: Sequence[object], levels: int = LEVELS) -> int:
    """The difficulty level (1..levels) of a seed: it steps up once every template has had its turn,
    so any len(templates) * levels consecutive seeds hold every template at every level once."""
    return 1 + (seed // len(templates)) % levels


# ---------------------------------------------------------------- the task's files


def unpack_script(files: Mapping[str, str | bytes], mtime: str | None = None) -> str:
    """A bash script that writes `files` (paths relative to the work directory) with builtins only
    (printf %b with octal escapes: any byte survives), then gives them all the modification time
    `mtime` (UTC, ISO format) if one is set."""
    folders = sorted({path.rsplit("/", 1)[0] for path in files if "/" in path})
    lines = ["set -e"]
    if folders:
        lines.append("mkdir -p -- " + " ".join(shlex.quote(f) for f in folders))
    for path, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        lines.append(f"printf '%b' '{_octal_escaped(data)}' > {shlex.quote(path)}")
    if mtime and files:
        stamp = int(dt.datetime.fromisoformat(mtime).replace(tzinfo=dt.UTC).timestamp())
        lines.append(f"touch -d @{stamp} -- " + " ".join(shlex.quote(p) for p in files))
    return "\n".join(lines) + "\n"


def _octal_escaped(data: bytes) -> str:
    """Bytes as the argument of printf %b: printable ASCII as is, everything else (and the backslash
    and quote) as a \\0nnn escape, so it can sit inside single quotes."""
    return "".join(chr(b) if 32 <= b < 127 and b not in (39, 92) else f"\\0{b:03o}" for b in data)


async def write_files(sandbox: Sandbox, files: Mapping[str, str], *, mtime: str | None = None) -> None:
    """Write a task's files in one exec (a file at a time costs a jail or a container exec each).
    Relative paths land in the sandbox's work directory. Raises `SandboxError` if that fails."""
    if not files:
        return
    script = unpack_script(files, mtime)
    result = await sandbox.exec(["bash", "-s"], timeout=SETUP_TIMEOUT, stdin=script.encode())
    if result.exit_code != 0 or result.timed_out:
        raise SandboxError(f"cannot write the task's files: {(result.stderr or result.stdout).strip()[-500:]}")


# ---------------------------------------------------------------- reference steps


def step(name: str, subgoal: str | None = None, **arguments: Any) -> ToolCall:
    """One step of a reference solution, tagged with the subgoal it serves."""
    return ToolCall(name=name, arguments=arguments, subgoal=subgoal)


def steps_from(calls: Iterable[Mapping[str, Any]]) -> list[ToolCall]:
    """Reference steps stored in a task's params as {"name", "arguments", "subgoal"} dicts."""
    return [
        ToolCall(name=c["name"], arguments=dict(c.get("arguments", {})), subgoal=c.get("subgoal")) for c in calls
    ]


def tag(calls: Iterable[ToolCall], subgoal: str) -> list[ToolCall]:
    return [c.model_copy(update={"subgoal": subgoal}) for c in calls]


# ---------------------------------------------------------------- lenient answers

# One number: optional sign, digits with optional comma thousands groups, optional decimals.
NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+]?\.\d+")
ANSWER_PREFIXES = ("the answer is", "final answer", "answer", "result", "it is", "it's")
WRAPPERS = "\"'`* \u201c\u201d\u2018\u2019"  # quotes, backticks, markdown bold


def normalize_text(text: str) -> str:
    """An answer's text without the wrapping a model adds ("The answer is: **X**." -> "x"), case-folded."""
    text = " ".join(text.replace("\u00a0", " ").split()).strip(WRAPPERS)
    lowered = text.casefold()
    for prefix in ANSWER_PREFIXES:
        if lowered.startswith(prefix):
            text = text[len(prefix):].lstrip(" :=-").strip(WRAPPERS)
            lowered = text.casefold()
    return text.rstrip(".").strip(WRAPPERS).casefold()


def numbers_in(text: str) -> list[float]:
    """Every number written in `text` ("1,234.5", "-3", ".5"), in order."""
    cleaned = text.replace("\u2212", "-").replace("\u00a0", " ").replace("_", "")
    return [float(token.replace(",", "")) for token in NUMBER.findall(cleaned)]


def single_number(text: str | None) -> float | None:
    """The one number in an answer, or None when it has none or several: an answer that lists
    every candidate is no answer."""
    found = numbers_in(text or "")
    if len(found) != 1 or not math.isfinite(found[0]):
        return None
    return found[0]


def single_integer(text: str | None) -> int | None:
    """The one whole number in an answer ("42 errors" -> 42), or None."""
    value = single_number(text)
    return int(value) if value is not None and value.is_integer() else None


# ---------------------------------------------------------------- checks


def goal(name: str, passed: bool, detail: str = "") -> Check:
    """A check of progress toward the task: it counts toward the score."""
    return Check(name=name, passed=passed, detail=detail, kind="goal")


def guard(name: str, passed: bool, detail: str = "") -> Check:
    """A condition of success that holds when the agent does nothing (no collateral damage, no
    forbidden action, tests intact): it never counts toward the score."""
    return Check(name=name, passed=passed, detail=detail, kind="guard")


# ---------------------------------------------------------------- grading


@contextlib.asynccontextmanager
async def grading_view(world: Sandbox | GradingView, *, final: bool = True) -> AsyncIterator[GradingView]:
    """The view a check reads the world through: the one it was given, or, when it was handed a
    bare sandbox, the sandbox's own grading view (a plain one where it has none)."""
    if isinstance(world, GradingView):
        yield world
        return
    async with open_grading(world, final=final) as view:
        yield view
