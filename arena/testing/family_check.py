"""`check_family`: what a task family owes the arena, checked the way Gymnasium's `check_env` checks
an environment. Any family author can run it:

    from arena.testing import check_family
    check_family(MyFamily(), seeds=range(20), sandbox="bwrap")

It raises `FamilyCheckError` naming the family, the task and what is wrong. Over every seed and
split: generation is deterministic with stable, distinct ids; every template is reached; each
task has several paraphrases, subgoals naming checks, an estimate of human minutes; the splits
differ; tools describe every argument and say how they act on the world; the reference solution
uses only the family's tools and tags each step with a subgoal, in subgoal order. For a sample of
tasks (per template, the splits taking turns, those with the most subgoals), in real sandboxes: an empty episode (setup,
then check, no action) scores 0 and fails, so a check that passes by doing nothing must be a
guard; playing the reference steps of subgoals 1..i meets the checks of subgoals 1..i and not yet
those of subgoal i+1, checked mid-episode without leaving anything in the world or changing the
family's state; the whole reference succeeds; and all of it works when the task's work directory
is a subdirectory of the sandbox's, as a worker job arranges it.

`replay` plays a list of tool calls on one task and grades it: the helper for a family's own tests
(plausible wrong solutions, attacks on its grader).
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, get_args

from arena.errors import ToolError
from arena.grading import open_grading
from arena.protocols import ExecResult, Family, GradingView, Sandbox, State
from arena.sandbox import NullSandbox, SandboxConfig, SandboxKind, open_sandbox
from arena.tools import Tool, Toolbox, ToolContext, run_tool
from arena.tools import submit as submit_tool
from arena.types import SPLITS, CheckResult, Effect, Split, Task, ToolCall, ToolResult, task_id

SUBDIR = "part-1"  # the sub-task folder of the work-directory check
SNAPSHOT_TIMEOUT = 60.0
CONCURRENCY = 4


class FamilyCheckError(AssertionError):
    """A family breaks the contract; the message names the family, the task and the fault."""


def _fail(family: Family, where: str, message: str) -> FamilyCheckError:
    return FamilyCheckError(f"family {getattr(family, 'name', family)!r}, {where}: {message}")


# ---------------------------------------------------------------- playing a task


@dataclass
class Replay:
    """A task played: the check's verdict, each call's result, and the family's state at the end."""

    checks: CheckResult
    results: list[ToolResult] = field(default_factory=list)
    state: State | None = None

    @property
    def passed(self) -> dict[str, bool]:
        return {c.name: c.passed for c in self.checks.checks}


def sandbox_config(sandbox: SandboxKind | SandboxConfig) -> SandboxConfig:
    """A kind ("bwrap", "docker", "process") or a full config; naming "process" accepts that it is unisolated."""
    if isinstance(sandbox, SandboxConfig):
        return sandbox
    return SandboxConfig(kind=sandbox, unsafe_local=sandbox == "process")


async def open_world(family: Family, sandbox: SandboxKind | SandboxConfig = "bwrap") -> Sandbox:
    """The sandbox a task of `family` runs in (none for families whose tools act on state only)."""
    if family.image is None:
        return NullSandbox()
    return await open_sandbox(sandbox_config(sandbox), image=family.image, labels={"arena.run": "family-check"})


def toolbox(family: Family, task: Task) -> Toolbox:
    """The family's tools plus the arena's own `submit`, as an episode assembles them."""
    return Toolbox.of([t for t in family.tools(task) if t.name != "submit"] + [submit_tool])


async def play_calls(
    family: Family, task: Task, sandbox: Sandbox, state: State, calls: Iterable[ToolCall], timeout: float = 30.0
) -> list[ToolResult]:
    """Run tool calls one after the other through the arena's tool boundary."""
    tools, ctx = toolbox(family, task), ToolContext(sandbox, task, state, timeout=timeout)
    return [await run_tool(tools, call.model_copy(update={"id": ToolCall(name=call.name).id}), ctx) for call in calls]


async def grade(family: Family, task: Task, sandbox: Sandbox, state: State, *, final: bool = True) -> CheckResult:
    """The family's check, through the sandbox's grading view."""
    async with open_grading(sandbox, final=final) as view:
        return await family.check(task, view, state)


async def replay(
    family: Family, task: Task, calls: Iterable[ToolCall], *, sandbox: SandboxKind | SandboxConfig = "bwrap"
) -> Replay:
    """Set the task up in a fresh sandbox, play `calls`, grade the final state and close the sandbox."""
    world = await open_world(family, sandbox)
    try:
        state = await family.setup(task, world)
        results = await play_calls(family, task, world, state, calls)
        return Replay(await grade(family, task, world, state), results, state)
    finally:
        await world.close()


# ---------------------------------------------------------------- the contract


def check_family(
    family: Family,
    *,
    seeds: Iterable[int] = range(100),
    splits: Sequence[Split] = SPLITS,
    sandbox: SandboxKind | SandboxConfig = "bwrap",
    sample: int = 2,
    min_paraphrases: int = 2,
) -> None:
    """Check `family` against the contract (see the module's docstring); raise `FamilyCheckError`.

    `seeds` and `splits` are generated and checked statically; `sample` tasks of each template
    (the splits taking turns; those with the most subgoals) are also played in `sandbox`. Use
    `acheck_family` from async code."""
    asyncio.run(acheck_family(family, seeds=seeds, splits=splits, sandbox=sandbox, sample=sample,
                              min_paraphrases=min_paraphrases))


async def acheck_family(
    family: Family,
    *,
    seeds: Iterable[int] = range(100),
    splits: Sequence[Split] = SPLITS,
    sandbox: SandboxKind | SandboxConfig = "bwrap",
    sample: int = 2,
    min_paraphrases: int = 2,
) -> None:
    check_identity(family)
    tasks = check_generation(family, list(seeds), splits, min_paraphrases)
    chosen: list[Task] = []
    for i, template in enumerate(family.templates):  # those with the most subgoals: the longest prefix chains
        for n in range(sample):
            split = splits[(i + n) % len(splits)]  # the splits take turns
            alike = sorted((t for t in tasks if t.split == split and t.template == template and t not in chosen),
                           key=lambda t: (-len(t.subgoals), t.seed))
            chosen += alike[:1]
    config = sandbox_config(sandbox)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def played(task: Task) -> None:
        async with gate:
            await check_empty_episode(family, task, config)
            await check_subgoal_prefixes(family, task, config)

    # Every task runs to its end (no cancelled sandboxes mid-command); the first fault is raised.
    outcomes = await asyncio.gather(*(played(task) for task in chosen), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


def check_identity(family: Family) -> None:
    for attr in ("name", "version", "description", "templates"):
        if not getattr(family, attr, None):
            raise _fail(family, "identity", f"{attr!r} must be set")
    if not hasattr(family, "image"):
        raise _fail(family, "identity", "'image' must be set (None for a family without a sandbox)")
    if len(set(family.templates)) != len(family.templates):
        raise _fail(family, "identity", f"templates repeat: {list(family.templates)}")


def check_generation(family: Family, seeds: list[int], splits: Sequence[Split], min_paraphrases: int) -> list[Task]:
    """The static half of the contract, over every seed and split; returns the tasks."""
    tasks: list[Task] = []
    for split in splits:
        made = [family.generate(seed, split) for seed in seeds]
        for seed, task in zip(seeds, made, strict=True):
            check_task(family, task, seed, split, min_paraphrases)
        ids = [t.id for t in made]
        if len(set(ids)) != len(ids):
            raise _fail(family, f"split {split}", "two seeds give the same task id")
        missing = set(family.templates) - {t.template for t in made}
        if missing and len(seeds) >= len(family.templates) * 3:
            raise _fail(family, f"split {split}", f"templates never generated over {len(seeds)} seeds: "
                                                  f"{sorted(missing)}")
        tasks += made
    if {"dev", "test"} <= set(splits):
        by_key = {(t.split, t.seed): t for t in tasks}
        same = [s for s in seeds if _content(by_key[("dev", s)]) == _content(by_key[("test", s)])]
        if same:
            raise _fail(family, "splits", f"dev and test tasks are identical for seeds {same[:5]}: the test split "
                                          "would be no held-out set")
    return tasks


def _content(task: Task) -> tuple[Any, ...]:
    return task.instructions, task.files, task.params


def check_task(family: Family, task: Task, seed: int, split: Split, min_paraphrases: int) -> None:
    where = f"task {task.id}"
    again = family.generate(seed, split)
    if again.model_dump() != task.model_dump():
        raise _fail(family, where, "generate() is not deterministic: the same seed and split gave another task")
    if task.id != task_id(family.name, family.version, split, seed) or (task.seed, task.split) != (seed, split):
        raise _fail(family, where, f"the task must carry family {family.name!r}, version {family.version!r}, "
                                   f"split {split!r} and seed {seed} (its id is {task.id!r})")
    if Task.model_validate_json(task.model_dump_json()) != task:
        raise _fail(family, where, "the task does not survive a JSON round trip (params must be plain JSON data)")
    if task.template not in family.templates:
        raise _fail(family, where, f"template {task.template!r} is not one of the family's templates")
    if len(set(task.instructions)) < min_paraphrases:
        raise _fail(family, where, f"needs at least {min_paraphrases} different paraphrases of its instruction")
    if not task.human_minutes > 0 or task.difficulty < 1:
        raise _fail(family, where, "human_minutes must be positive and difficulty at least 1")
    check_subgoals(family, task)
    tools = check_tools(family, task)
    check_solution(family, task, tools)


def check_subgoals(family: Family, task: Task) -> None:
    where = f"task {task.id}"
    names = [g.name for g in task.subgoals]
    if not names:
        raise _fail(family, where, "a task needs at least one subgoal")
    if len(set(names)) != len(names):
        raise _fail(family, where, f"subgoal names repeat: {names}")
    for goal in task.subgoals:
        if not goal.description or not goal.checks:
            raise _fail(family, where, f"subgoal {goal.name!r} needs a description and the names of its checks")


def check_tools(family: Family, task: Task) -> list[Tool]:
    where = f"task {task.id}"
    tools = family.tools(task)
    names = [t.name for t in tools]
    if len(set(names)) != len(names):
        raise _fail(family, where, f"tool names repeat: {names}")
    if "submit" in names:
        raise _fail(family, where, "tools must not include submit: the episode adds the arena's own")
    for tool in tools:
        if tool.effect not in get_args(Effect):
            raise _fail(family, where, f"tool {tool.name!r} has effect {tool.effect!r}; use one of {get_args(Effect)}")
        spec = tool.spec()
        if not spec.description:
            raise _fail(family, where, f"tool {tool.name!r} has no description")
        for prop, schema in spec.parameters.get("properties", {}).items():
            if not schema.get("description"):
                raise _fail(family, where, f"argument {prop!r} of tool {tool.name!r} has no description "
                                           "(give it a Field(description=...))")
    return tools


def check_solution(family: Family, task: Task, tools: list[Tool]) -> None:
    where = f"task {task.id}"
    calls = family.solution(task)
    allowed = {t.name for t in tools} | {"submit"}
    order = {g.name: i for i, g in enumerate(task.subgoals)}
    last = 0
    for n, call in enumerate(calls, 1):
        if call.name not in allowed:
            raise _fail(family, where, f"reference step {n} calls {call.name!r}, which is not one of its tools")
        if call.subgoal not in order:
            raise _fail(family, where, f"reference step {n} ({call.name}) must name the subgoal it serves "
                                       f"(ToolCall.subgoal, one of {list(order)}); it has {call.subgoal!r}")
        if order[call.subgoal] < last:
            raise _fail(family, where, f"reference step {n} serves subgoal {call.subgoal!r} after a later one: "
                                       "give the steps in subgoal order")
        last = order[call.subgoal]
        if call.name == "submit" and n != len(calls):
            raise _fail(family, where, "submit must be the last reference step")
    served = {c.subgoal for c in calls}
    idle = [g.name for g in task.subgoals if g.name not in served]
    if idle:
        raise _fail(family, where, f"subgoals {idle} have no reference step: a subgoal is a goal of its own")
    needed = len(calls) + (not calls or calls[-1].name != "submit")
    if task.limits.max_steps < needed:
        raise _fail(family, where, f"max_steps {task.limits.max_steps} leaves no room for the {needed} reference steps")


# ---------------------------------------------------------------- played in a sandbox


def _goal_failures(result: CheckResult, names: Iterable[str]) -> list[str]:
    by_name = {c.name: c for c in result.checks}
    return [f"{n} ({by_name[n].detail})" for n in names if not by_name[n].passed]


def _check_result_shape(family: Family, task: Task, result: CheckResult, when: str) -> None:
    where = f"task {task.id}, {when}"
    names = [c.name for c in result.checks]
    if len(set(names)) != len(names):
        raise _fail(family, where, f"check names repeat: {names}")
    unknown = {n for g in task.subgoals for n in g.checks} - set(names)
    if unknown:
        raise _fail(family, where, f"subgoals name checks that check() does not return: {sorted(unknown)}")
    goals = {c.name for c in result.checks if c.kind == "goal"}
    if not goals:
        raise _fail(family, where, "check() returns no goal check: nothing measures progress")
    for goal in task.subgoals:
        if not goals & set(goal.checks):
            raise _fail(family, where, f"subgoal {goal.name!r} names no goal check, only guards")
    uncovered = goals - {n for g in task.subgoals for n in g.checks}
    if uncovered:
        raise _fail(family, where, f"goal checks {sorted(uncovered)} belong to no subgoal")


async def check_empty_episode(family: Family, task: Task, config: SandboxConfig) -> None:
    """Setup, then check, no action: nothing passes that measures progress."""
    world = await open_world(family, config)
    try:
        state = await family.setup(task, world)
        result = await grade(family, task, world, state)
    finally:
        await world.close()
    passing = [c.name for c in result.checks if c.kind == "goal" and c.passed]
    if passing or result.success:
        raise _fail(family, f"task {task.id}, an empty episode", f"goal checks pass without any action: {passing}; "
                    "a check that passes by doing nothing is a guard (Check(kind='guard')) and must not count")
    _check_result_shape(family, task, result, "an empty episode")


async def check_subgoal_prefixes(family: Family, task: Task, config: SandboxConfig) -> None:
    """Play the reference subgoal by subgoal, in a subdirectory of the work directory, checking as a
    copilot would after each subgoal; then the whole reference must succeed."""
    base = await open_world(family, config)
    try:
        world: Sandbox = base
        if family.image is not None:
            made = await base.exec(["mkdir", "-p", "--", SUBDIR], timeout=30)
            if made.exit_code != 0:
                raise RuntimeError(f"cannot make {SUBDIR}/ in the sandbox: {made.stderr}")
            world = Subdir(base, SUBDIR)
        state = await family.setup(task, world)
        calls = family.solution(task)
        if not calls or calls[-1].name != "submit":
            calls = [*calls, ToolCall(name="submit", subgoal=task.subgoals[-1].name)]
        met: list[str] = []
        for i, goal in enumerate(task.subgoals):
            steps = [c for c in calls if c.subgoal == goal.name]
            for n, result in enumerate(await play_calls(family, task, world, state, steps), 1):
                if result.is_error:
                    raise _fail(family, f"task {task.id}, subgoal {goal.name!r}",
                                f"reference step {n} ({result.name}) failed: {result.output[:300]}")
            met += goal.checks
            final = i == len(task.subgoals) - 1
            result = await _checked_mid_episode(family, task, base, world, state)
            _check_result_shape(family, task, result, f"after subgoal {goal.name!r}")
            unmet = _goal_failures(result, met)
            if unmet:
                raise _fail(family, f"task {task.id}, after the reference steps of subgoals 1-{i + 1}",
                            f"checks of those subgoals fail: {unmet}")
            if not final:
                following = task.subgoals[i + 1]
                goals = [c.name for c in result.checks if c.kind == "goal" and c.name in following.checks]
                if not _goal_failures(result, goals):
                    raise _fail(family, f"task {task.id}, after the reference steps of subgoals 1-{i + 1}",
                                f"subgoal {following.name!r} is met already: it is no intermediate goal of its own")
            else:  # the episode is over: graded as after an episode (no agent command may follow)
                if family.image is not None:
                    await _check_nothing_outside(family, task, base)
                result = await grade(family, task, world, state, final=True)
                if not result.success:
                    raise _fail(family, f"task {task.id}, the whole reference",
                                f"does not succeed: {_goal_failures(result, [c.name for c in result.checks])}")
    finally:
        await base.close()


async def _checked_mid_episode(family: Family, task: Task, base: Sandbox, world: Sandbox, state: State) -> CheckResult:
    """The check as a copilot runs it mid-episode: it must leave the world and the family's state as they were."""
    before_state, before_world = _frozen(state), await _snapshot(base)
    result = await grade(family, task, world, state, final=False)
    after = await _snapshot(base)
    if after != before_world:
        changed = sorted(set(after.splitlines()) ^ set(before_world.splitlines()))[:5]
        raise _fail(family, f"task {task.id}, a mid-episode check", f"it left traces in the agent's world: {changed}")
    if before_state is not None and _frozen(state) != before_state:
        raise _fail(family, f"task {task.id}, a mid-episode check", "check() changed the family's state")
    return result


def _frozen(state: State) -> bytes | None:
    try:
        return pickle.dumps(vars(state))
    except Exception:  # a state that cannot be pickled is compared by nobody
        return None


async def _snapshot(sandbox: Sandbox) -> str:
    """Every path, file hash and symlink target under the work directory and /tmp."""
    if isinstance(sandbox, NullSandbox):
        return ""
    script = (
        'for d in "$1" /tmp; do find "$d" -mindepth 1 \\( -type d -printf "d %p\\n" \\) -o \\( -type l -printf '
        '"l %p %l\\n" \\) -o \\( -type f -exec sha256sum -- {} + \\) -o -printf "? %p\\n"; done 2>/dev/null; true'
    )
    result = await sandbox.exec(["bash", "-c", script, "bash", sandbox.workdir], timeout=SNAPSHOT_TIMEOUT)
    return "\n".join(sorted(result.stdout.splitlines()))


async def _check_nothing_outside(family: Family, task: Task, base: Sandbox) -> None:
    listed = await base.exec(["ls", "-A", "--", base.workdir], timeout=30)
    outside = sorted(set(listed.stdout.split()) - {SUBDIR})
    if outside:
        raise _fail(family, f"task {task.id}, played in {SUBDIR}/ of the work directory",
                    f"it wrote {outside} outside the task's work directory: address files relative to it "
                    "(or sandbox.workdir), never by a literal /work path")


# ---------------------------------------------------------------- a task's own work directory


class Subdir:
    """A sandbox seen from a subdirectory of its work directory, as a worker job gives each sub-task
    its own: commands run there, relative paths resolve there, and graders see the same."""

    def __init__(self, inner: Sandbox | GradingView, name: str) -> None:
        self.inner = inner
        self.name = name
        self.workdir = f"{inner.workdir.rstrip('/')}/{name}"
        self.scratch = getattr(inner, "scratch", "")

    def _path(self, path: str) -> str:
        return path if path.startswith("/") else f"{self.workdir}/{path}"

    def _in_dir(self, cmd: str | list[str], cwd: str | None = None) -> list[str]:
        argv = ["bash", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        return ["sh", "-c", 'cd "$1" && shift && exec "$@"', "sh", cwd or self.workdir, *argv]

    async def exec(self, cmd: str | list[str], *, timeout: float, stdin: bytes | None = None) -> ExecResult:
        return await self.inner.exec(self._in_dir(cmd), timeout=timeout, stdin=stdin)

    async def exec_untrusted(
        self, cmd: str | list[str], *, timeout: float, stdin: bytes | None = None, cwd: str | None = None
    ) -> ExecResult:
        if not isinstance(self.inner, GradingView):
            raise ToolError("exec_untrusted is only for grading views")
        return await self.inner.exec_untrusted(cmd, timeout=timeout, stdin=stdin, cwd=cwd or self.workdir)

    async def read_file(self, path: str) -> bytes:
        return await self.inner.read_file(self._path(path))

    async def write_file(self, path: str, data: bytes) -> None:
        await self.inner.write_file(self._path(path), data)

    async def close(self) -> None:
        return None

    @contextlib.asynccontextmanager
    async def grading(self, *, final: bool) -> AsyncIterator[GradingView]:
        async with open_grading(self.inner, final=final) as view:  # type: ignore[arg-type]
            yield Subdir(view, self.name)  # type: ignore[misc]


__all__ = [
    "FamilyCheckError",
    "Replay",
    "Subdir",
    "acheck_family",
    "check_family",
    "grade",
    "open_world",
    "play_calls",
    "replay",
    "sandbox_config",
    "toolbox",
]
