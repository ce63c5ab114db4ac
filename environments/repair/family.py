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
from arena.protocols import GradingView, Sandbox, State
from arena.tools import Tool, ToolContext, bash, cap_output, edit, format_exec, read_file, write_file
from arena.types import CheckResult, Limits, Split, Subgoal, Task, ToolCall

from .._kit import goal, grading_view, guard, level_for, rng_for, sealed, step, template_for, write_files
from . import policy
from .grading import copy_package, not_run, run_suites, sha256, visible_test_command, weakened_tests
from .instructions import instructions, readme
from .library import Library, RenderedTest, build_library, mutate, render_test_file, revert_edits
from .libs import billing, inventory, schedule, textparse

SPECS = {spec.template: spec for spec in (inventory.SPEC, billing.SPEC, schedule.SPEC, textparse.SPEC)}
TEMPLATES = tuple(SPECS)
RUN_TESTS_OUTPUT_LIMIT = 8000
PYTEST_INI = "[pytest]\ntestpaths = tests\npythonpath = .\n"
# Per difficulty level: one entry per injected bug, how far from it the visible test that shows it
# is ("direct": a test of the buggy function; "indirect": of a function that calls it; None: no
# visible test shows it, only the docstrings do).
LEVELS: dict[int, tuple[str | None, ...]] = {
    1: ("direct",),
    2: ("indirect",),
    3: ("direct", "indirect"),
    4: ("direct", "indirect", None),
    5: ("indirect", None, None),
}
# What each bug costs a developer new to the package, by how far the failing test is from it.
MINUTES_PER_BUG: dict[str | None, float] = {"direct": 6.0, "indirect": 12.0, None: 22.0}


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


def choose_visible_tests(
    rng: random.Random, library: Library, bugs: list[str], plan: Sequence[str | None]
) -> list[RenderedTest]:
    """Tests that show the bugs at the planned distance, plus a few that pass, in suite order."""
    chosen: set[str] = set()
    for key, distance in zip(bugs, plan, strict=True):
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
    bugs: list[str]  # those the visible tests show first, then those only the docstrings tell
    visible: list[RenderedTest]

    @property
    def shown(self) -> list[str]:
        """The bugs a visible test catches: fixing them turns the visible tests green."""
        caught = set().union(*(t.catches for t in self.visible))
        return [b for b in self.bugs if b in caught]

    @property
    def human_minutes(self) -> float:
        """Reading the package (about 25 lines a minute), then finding and fixing each bug."""
        lines = sum(text.count("\n") for text in self.library.files.values())
        plan = LEVELS[self.difficulty]
        return round(3 + lines / 25 + sum(MINUTES_PER_BUG[d] for d in plan), 1)


def draw(seed: int, split: Split, salt: str | None = None) -> Draw:
    rng = rng_for(RepairFamily.name, split, seed, salt)
    template = template_for(seed, TEMPLATES)
    difficulty = level_for(seed, TEMPLATES)
    plan = LEVELS[difficulty]
    library = build_library(SPECS[template], rng, split)
    bugs = rng.sample(sorted(library.sites), len(plan))
    while not library.compatible(bugs):
        bugs = rng.sample(sorted(library.sites), len(plan))
    visible = choose_visible_tests(rng, library, bugs, plan)
    caught = set().union(*(t.catches for t in visible))
    bugs.sort(key=lambda b: b not in caught)  # stable: the shown ones first, in drawing order
    return Draw(template, difficulty, library, bugs, visible)


class RepairFamily:
    name = "repair"
    version = "2"
    description = "Find and fix injected bugs in a small Python package so its visible and hidden tests pass."
    templates: Sequence[str] = TEMPLATES
    image: str | None = "arena-python"

    def generate(self, seed: int, split: Split, salt: str | None = None) -> Task:
        drawn = draw(seed, split, salt)
        library, bugs, difficulty = drawn.library, drawn.bugs, drawn.difficulty
        visible = suite_files(library, drawn.visible, "tests/test_")
        hidden = suite_files(library, library.tests, "test_hidden_")
        package = mutate(library, bugs)
        files = {**package, **visible, "pytest.ini": PYTEST_INI, "README.md": readme(library)}
        unseen = len(bugs) - len(drawn.shown)
        subgoals = [
            Subgoal(
                name="all_bugs_fixed",
                description="Fix every bug, including any the visible tests miss (the hidden tests pass).",
                checks=["hidden_tests_pass", "tests_not_weakened"] if unseen else
                ["visible_tests_pass", "hidden_tests_pass", "tests_not_weakened"],
            ),
        ]
        if unseen:
            subgoals.insert(0, Subgoal(
                name="visible_tests_green",
                description="Fix the package so that the visible tests pass, without touching them.",
                checks=["visible_tests_pass", "tests_not_weakened"],
            ))
        edits = revert_edits(library, bugs)
        task = Task(
            family=self.name,
            version=self.version,
            seed=seed,
            split=split,
            template=drawn.template,
            instructions=instructions(library, len(bugs), unseen, sorted(visible)),
            files=files,
            subgoals=subgoals,
            limits=Limits(max_steps=15 + 8 * difficulty),
            human_minutes=drawn.human_minutes,
            difficulty=difficulty,
            params={
                "package": library.package,
                "bugs": [
                    {"site": s.key, "kind": s.kind, "path": s.path, "mutated": s.mutated, "original": s.original,
                     "shown": s.key in drawn.shown}
                    for s in (library.sites[key] for key in bugs)
                ],
                "edits": [{"path": path, "old": old, "new": new} for path, old, new in edits],
                "package_sha256": {path: sha256(text) for path, text in package.items()},
                "visible_sha256": {path: sha256(text) for path, text in visible.items()},
                "shipped_config": {"pytest.ini": sha256(PYTEST_INI)},
                "hidden_tests": hidden,
            },
        )
        return sealed(task, salt)

    def tools(self, task: Task) -> list[Tool]:
        return [bash, read_file, write_file, edit, run_tests]

    async def setup(self, task: Task, sandbox: Sandbox) -> State:
        await write_files(sandbox, task.files)
        return State()

    async def check(self, task: Task, sandbox: Sandbox | GradingView, state: State) -> CheckResult:
        async with grading_view(sandbox) as view:
            return await grade(task, view)

    def solution(self, task: Task) -> list[ToolCall]:
        """One edit per bug (those the visible tests show first), then submit."""
        last = task.subgoals[-1].name
        calls = [
            step("edit", task.subgoals[0].name if bug["shown"] else last, **edit)
            for bug, edit in zip(task.params["bugs"], task.params["edits"], strict=True)
        ]
        return [*calls, step("submit", last)]


async def grade(task: Task, view: GradingView) -> CheckResult:
    """Inspect the tests, copy the package out and read its code, then run both suites against it."""
    params = task.params
    package = params["package"]
    weakened = await weakened_tests(view, params["visible_sha256"], params["shipped_config"])
    checks = [guard("tests_not_weakened", not weakened, "; ".join(weakened) or "tests intact")]
    copied = await copy_package(view, package)
    if isinstance(copied, str):
        checks.append(guard("package_code_allowed", True, f"nothing to read: {copied}"))
        results = not_run(copied)
    else:
        shipped = {path: text for path, text in task.files.items() if path in params["package_sha256"]}
        refused = policy.problems(copied, policy.Baseline.of(shipped), package)
        shown = "; ".join(refused[:5]) + (f"; and {len(refused) - 5} more" if len(refused) > 5 else "")
        checks.append(guard("package_code_allowed", not refused, shown or "plain library code"))
        if {path: sha256(data) for path, data in copied.items()} == params["package_sha256"]:
            # The generator guarantees both suites catch every injected bug; nothing to run.
            results = not_run("the package is unchanged since setup: the injected bugs are still there")
        elif refused:
            results = not_run("not run: the package's code reaches beyond what a fix needs (package_code_allowed)")
        else:
            visible = {path: text for path, text in task.files.items() if path in params["visible_sha256"]}
            results = await run_suites(view, copied, visible, params["hidden_tests"])
    for suite in ("visible", "hidden"):
        checks.append(goal(f"{suite}_tests_pass", results[suite].ok, results[suite].detail()))
    return CheckResult(checks=checks)
