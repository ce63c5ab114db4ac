"""The repair family: find and fix injected bugs in a small generated Python package.

Each task renders one library (inventory, billing, scheduling or text parsing) with names and
data drawn from the seed and split, injects one to three bugs from a catalogue of mutations, and
ships visible tests that fail because of them. Hidden tests, which catch every mutation site,
are copied in only at grading time.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, Field

from arena.errors import ToolError
from arena.protocols import Sandbox, State
from arena.tools import Tool, ToolContext, bash, cap_output, edit, format_exec, read_file, write_file
from arena.types import Check, CheckResult, Limits, Split, Subgoal, Task, ToolCall

from .._kit import rng_for, template_for, write_files
from .grading import SuiteResult, added_config_files, run_grading_suites, sha256, visible_test_command
from .instructions import instructions, readme
from .library import Library, RenderedTest, build_library, mutate, render_test_file, revert_edits
from .libs import billing, inventory, schedule, textparse

SPECS = {spec.template: spec for spec in (inventory.SPEC, billing.SPEC, schedule.SPEC, textparse.SPEC)}
TEMPLATES = tuple(SPECS)
RUN_TESTS_OUTPUT_LIMIT = 8000
PYTEST_INI = "[pytest]\ntestpaths = tests\npythonpath = .\n"
# Per difficulty: how far from each bug the visible test that shows it is (None: no visible test).
VISIBLE_PLAN: dict[int, tuple[str | None, ...]] = {
    1: ("direct",),
    2: ("direct", "indirect"),
    3: ("indirect", "indirect", None),
}


class RunTestsArgs(BaseModel):
    keyword: str | None = Field(
        None, description="Optional pytest -k expression to run only the matching tests; omit to run them all."
    )


async def _run_tests(args: RunTestsArgs, ctx: ToolContext) -> str:
    r = await ctx.sandbox.exec(visible_test_command(args.keyword), timeout=ctx.timeout)
    if r.timed_out:
        raise ToolError(f"the tests did not finish within {ctx.timeout:g}s (an endless loop?)")
    text, _ = cap_output(format_exec(r.exit_code, r.stdout, r.stderr, False, ctx.timeout), RUN_TESTS_OUTPUT_LIMIT)
    return text


run_tests = Tool(
    "run_tests",
    "Run the visible tests in tests/ with pytest and return pytest's output. Failing tests are reported "
    "in the output (with a non-zero exit code), not as a tool error.",
    RunTestsArgs,
    _run_tests,
)


def choose_visible_tests(rng: random.Random, library: Library, bugs: list[str]) -> list[RenderedTest]:
    """Tests that show the bugs at the planned distance, plus a few that pass, in suite order."""
    chosen: set[str] = set()
    for key, distance in zip(bugs, VISIBLE_PLAN[len(bugs)], strict=True):
        if distance is None:
            continue
        wanted = [t for t in library.tests if key in (t.direct if distance == "direct" else t.indirect)]
        fallback = [t for t in library.tests if key in t.catches]
        chosen.add(rng.choice(wanted or fallback).name)
    passing = [t.name for t in library.tests if not t.catches & set(bugs)]
    chosen.update(rng.sample(passing, min(len(passing), rng.randint(2, 4))))
    return [t for t in library.tests if t.name in chosen]


def suite_files(library: Library, tests: Sequence[RenderedTest], prefix: str) -> dict[str, str]:
    areas = list(dict.fromkeys(t.area for t in tests))
    return {
        f"{prefix}{area}.py": render_test_file(library, area, [t for t in tests if t.area == area]) for area in areas
    }


@dataclass(frozen=True)
class Draw:
    """The random choices behind one task."""

    template: str
    difficulty: int
    library: Library
    bugs: list[str]
    visible: list[RenderedTest]


def draw(seed: int, split: Split) -> Draw:
    rng = rng_for(RepairFamily.name, split, seed)
    template = template_for(seed, TEMPLATES)
    difficulty = rng.randint(1, 3)
    library = build_library(SPECS[template], rng, split)
    bugs = rng.sample(sorted(library.sites), difficulty)
    while not library.compatible(bugs):
        bugs = rng.sample(sorted(library.sites), difficulty)
    return Draw(template, difficulty, library, bugs, choose_visible_tests(rng, library, bugs))


class RepairFamily:
    name = "repair"
    version = "1"
    description = "Find and fix injected bugs in a small Python package so its visible and hidden tests pass."
    templates: Sequence[str] = TEMPLATES
    image: str | None = "arena-python"

    def generate(self, seed: int, split: Split) -> Task:
        drawn = draw(seed, split)
        library, bugs, difficulty = drawn.library, drawn.bugs, drawn.difficulty
        visible = suite_files(library, drawn.visible, "tests/test_")
        hidden = suite_files(library, library.tests, "test_hidden_")
        package = mutate(library, bugs)
        files = {**package, **visible, "pytest.ini": PYTEST_INI, "README.md": readme(library)}
        edits = revert_edits(library, bugs)
        return Task(
            family=self.name,
            version=self.version,
            seed=seed,
            split=split,
            template=drawn.template,
            instructions=instructions(library, difficulty, sorted(visible)),
            files=files,
            subgoals=[
                Subgoal(
                    name="visible_tests_green",
                    description="Fix the package so that the visible tests pass, without touching them.",
                    checks=["visible_tests_pass", "tests_not_weakened"],
                ),
                Subgoal(
                    name="all_bugs_fixed",
                    description="Fix every bug, including any the visible tests miss (the hidden tests pass).",
                    checks=["hidden_tests_pass", "tests_not_weakened"],
                ),
            ],
            limits=Limits(max_steps=15 + 10 * difficulty),
            human_minutes=float({1: 10, 2: 20, 3: 35}[difficulty]),
            difficulty=difficulty,
            params={
                "package": library.package,
                "bugs": [
                    {"site": s.key, "kind": s.kind, "path": s.path, "mutated": s.mutated, "original": s.original}
                    for s in (library.sites[key] for key in bugs)
                ],
                "edits": [{"path": path, "old": old, "new": new} for path, old, new in edits],
                "package_sha256": {path: sha256(text) for path, text in package.items()},
                "visible_sha256": {path: sha256(text) for path, text in visible.items()},
                "shipped_config": {"pytest.ini": sha256(PYTEST_INI)},
                "hidden_tests": hidden,
            },
        )

    def tools(self, task: Task) -> list[Tool]:
        return [bash, read_file, write_file, edit, run_tests]

    async def setup(self, task: Task, sandbox: Sandbox) -> State:
        await write_files(sandbox, task.files)
        return State()

    async def check(self, task: Task, sandbox: Sandbox, state: State) -> CheckResult:
        weakened = await weakened_tests(task, sandbox)
        checks = [Check(name="tests_not_weakened", passed=not weakened, detail="; ".join(weakened) or "tests intact")]
        if await package_unchanged(task, sandbox):
            # The generator guarantees both suites catch every injected bug; nothing to run.
            detail = "the package is unchanged since setup: the injected bugs are still there"
            checks += [Check(name=f"{s}_tests_pass", passed=False, detail=detail) for s in ("hidden", "visible")]
            return CheckResult(checks=checks)
        results, note = await grade(task, sandbox)
        for suite in ("hidden", "visible"):
            result = results[suite]
            checks.append(Check(name=f"{suite}_tests_pass", passed=result.ok, detail=f"{result.detail()} ({note})"))
        return CheckResult(checks=checks)

    def solution(self, task: Task) -> list[ToolCall]:
        calls = [ToolCall(name="edit", arguments=dict(e)) for e in task.params["edits"]]
        return [*calls, ToolCall(name="submit", arguments={})]


async def grade(task: Task, sandbox: Sandbox) -> tuple[dict[str, SuiteResult], str]:
    """Run both suites on the package as it is now (no shortcut)."""
    visible = {path: text for path, text in task.files.items() if path in task.params["visible_sha256"]}
    return await run_grading_suites(sandbox, visible, task.params["hidden_tests"])


async def weakened_tests(task: Task, sandbox: Sandbox) -> list[str]:
    """What the agent did to the tests: changed or deleted visible test files, added pytest config."""
    problems = []
    for path, digest in task.params["visible_sha256"].items():
        try:
            if sha256(await sandbox.read_file(path)) != digest:
                problems.append(f"{path} was changed")
        except (FileNotFoundError, IsADirectoryError):
            problems.append(f"{path} was deleted")
    problems += [f"{path} was added or changed" for path in await added_config_files(
        sandbox, task.params["shipped_config"])]
    return problems


async def package_unchanged(task: Task, sandbox: Sandbox) -> bool:
    for path, digest in task.params["package_sha256"].items():
        try:
            if sha256(await sandbox.read_file(path)) != digest:
                return False
        except (FileNotFoundError, IsADirectoryError):
            return False
    return True
