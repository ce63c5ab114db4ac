"""The repair family: generation, the bug catalogue's guarantees, grading, and the oracle/random sweeps."""

from __future__ import annotations

import asyncio
import functools
import importlib.abc
import importlib.util
import itertools
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterable
from importlib.machinery import ModuleSpec
from types import CodeType, ModuleType
from typing import TypeVar

import pytest

from arena.environments.repair import RepairFamily
from arena.environments.repair.family import LEVELS, TEMPLATES, draw
from arena.environments.repair.grading import run_suites, weakened_tests
from arena.environments.repair.library import Library, mutate, render_test_file
from arena.grading import open_grading
from arena.sandbox import SandboxConfig, open_sandbox
from arena.testing.family_check import Replay, replay
from arena.tools import Toolbox, ToolContext, run_tool
from arena.types import SPLITS, Task, ToolCall

FAMILY = RepairFamily()
SEEDS = range(100)
PROCESS = SandboxConfig(kind="process", unsafe_local=True)
T = TypeVar("T")


@pytest.fixture
def debian_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run sandboxed commands with the host's Debian python3 and pytest, as bwrap does; a python3
    earlier on PATH (pyenv, a venv) may lack pytest or start several times slower."""
    probe = subprocess.run(["/usr/bin/python3", "-c", "import pytest"], capture_output=True, check=False)
    if probe.returncode == 0:
        monkeypatch.setenv("PATH", f"/usr/bin:/bin:{os.environ['PATH']}")


async def in_batches(items: Iterable[T], run: Callable[[T], Awaitable[object]], size: int = 6) -> list[object]:
    items = list(items)
    out: list[object] = []
    for start in range(0, len(items), size):
        out += await asyncio.gather(*(run(item) for item in items[start:start + size]))
    return out


async def play(task: Task, calls: list[ToolCall], config: SandboxConfig = PROCESS) -> Replay:
    return await replay(FAMILY, task, calls, sandbox=config)


def all_tasks() -> list[Task]:
    return [FAMILY.generate(seed, split) for split in SPLITS for seed in SEEDS]


def checks_of(result: Replay) -> dict[str, bool]:
    return result.passed


# ------------------------------------------------------------------ generation


def test_every_template_appears() -> None:
    for split in SPLITS:
        assert {FAMILY.generate(seed, split).template for seed in SEEDS} == set(FAMILY.templates)


def test_generation_is_deterministic() -> None:
    for seed, split in [(0, "dev"), (7, "test"), (42, "dev"), (99, "test")]:
        assert FAMILY.generate(seed, split).model_dump() == FAMILY.generate(seed, split).model_dump()


def test_dev_and_test_splits_differ() -> None:
    dev_packages = {FAMILY.generate(seed, "dev").params["package"] for seed in SEEDS}
    test_packages = {FAMILY.generate(seed, "test").params["package"] for seed in SEEDS}
    assert not dev_packages & test_packages
    for seed in range(10):
        assert FAMILY.generate(seed, "dev").files != FAMILY.generate(seed, "test").files


def test_difficulty_and_minutes_grow_with_the_bugs_and_how_well_they_hide() -> None:
    tasks = all_tasks()
    assert {(t.template, t.difficulty) for t in tasks} == {(n, d) for n in TEMPLATES for d in LEVELS}
    for task in tasks:
        assert len(task.params["bugs"]) == len(LEVELS[task.difficulty])
        assert task.limits.max_steps >= 20
    minutes = {d: [t.human_minutes for t in tasks if t.difficulty == d] for d in LEVELS}
    assert all(max(minutes[d]) < min(minutes[d + 1]) for d in range(1, 5)), minutes
    assert min(minutes[1]) >= 8 and max(minutes[5]) >= 60


def test_instructions_are_paraphrases_without_answers() -> None:
    for task in all_tasks():
        assert len(set(task.instructions)) >= 3
        for text in task.instructions:
            assert task.params["package"] in text and "tests/test_" in text
            for bug in task.params["bugs"]:
                assert bug["original"].strip() not in text
                assert bug["site"] not in text
            assert "test_hidden" not in text


def test_solution_reverts_each_bug_exactly() -> None:
    for task in all_tasks():
        calls = FAMILY.solution(task)
        assert [c.name for c in calls] == ["edit"] * len(task.params["bugs"]) + ["submit"]
        files = dict(task.files)
        for call in calls[:-1]:
            args = call.arguments
            assert isinstance(args, dict) and files[args["path"]].count(args["old"]) == 1
            files[args["path"]] = files[args["path"]].replace(args["old"], args["new"])
        assert files == {**task.files, **draw(task.seed, task.split).library.files}


# ------------------------------------------------------------------ the catalogue's guarantees, in process


@functools.lru_cache(maxsize=4096)
def compiled(source: str, filename: str) -> CodeType:
    return compile(source, filename, "exec")


class SourceImporter(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports one generated package straight from its sources in memory (no files, no caches)."""

    def __init__(self, files: dict[str, str]) -> None:
        self.modules: dict[str, tuple[str, str, bool]] = {}
        for path, source in files.items():
            parts = path.removesuffix(".py").split("/")
            is_package = parts[-1] == "__init__"
            name = ".".join(parts[:-1] if is_package else parts)
            self.modules[name] = (path, source, is_package)

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> ModuleSpec | None:
        if fullname not in self.modules:
            return None
        origin, _, is_package = self.modules[fullname]
        return importlib.util.spec_from_loader(fullname, self, origin=origin, is_package=is_package)

    def create_module(self, spec: ModuleSpec) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        origin, source, _ = self.modules[module.__name__]
        exec(compiled(source, origin), module.__dict__)


def run_in_process(library: Library, files: dict[str, str]) -> dict[str, bool]:
    """Import the package from `files` and call every test function: {test name: passed}."""
    importer = SourceImporter(files)
    purge = [m for m in sys.modules if m == library.package or m.startswith(library.package + ".")]
    for name in purge:
        del sys.modules[name]
    sys.meta_path.insert(0, importer)
    results: dict[str, bool] = {}
    try:
        for area in dict.fromkeys(t.area for t in library.tests):
            tests = [t for t in library.tests if t.area == area]
            namespace: dict[str, object] = {"__name__": f"hidden_{area}"}
            exec(compiled(render_test_file(library, area, tests), f"test_{area}.py"), namespace)
            for test in tests:
                try:
                    namespace[test.name]()  # type: ignore[operator]
                    results[test.name] = True
                except Exception:
                    results[test.name] = False
    finally:
        sys.meta_path.remove(importer)
        for name in [m for m in sys.modules if m == library.package or m.startswith(library.package + ".")]:
            del sys.modules[name]
    return results


def test_hidden_tests_catch_every_bug_and_visible_tests_fail() -> None:
    """For every task: the original passes everything; each single bug fails exactly the tests
    declared to catch it; every non-empty subset of the injected bugs fails the hidden suite; the
    visible tests fail on the task as shipped, and pass once the bugs they show are fixed (the
    first subgoal), while the hidden suite still fails on the bugs they do not show."""
    for split, seed in itertools.product(SPLITS, SEEDS):
        drawn = draw(seed, split)
        lib, where = drawn.library, f"{split}/{seed}"
        assert all(run_in_process(lib, lib.files).values()), where
        for key in lib.sites:
            results = run_in_process(lib, mutate(lib, [key]))
            wrong = [t.name for t in lib.tests if results[t.name] == (key in t.catches)]
            assert not wrong, f"{where}: {wrong} pass or fail against their declaration for {key}"
        visible = {t.name for t in drawn.visible}
        for size in range(1, len(drawn.bugs) + 1):
            for subset in itertools.combinations(drawn.bugs, size):
                results = run_in_process(lib, mutate(lib, subset))
                assert not all(results.values()), f"{where}: hidden tests miss {subset}"
                if size == len(drawn.bugs):
                    assert not all(results[name] for name in visible), f"{where}: visible tests pass"
        unseen = [b for b in drawn.bugs if b not in drawn.shown]
        if unseen:
            results = run_in_process(lib, mutate(lib, unseen))
            assert all(results[name] for name in visible), f"{where}: {unseen} fail a visible test"


# ------------------------------------------------------------------ real pytest in the sandbox


@pytest.mark.usefixtures("debian_python")
async def test_shipped_bugs_fail_both_suites_in_the_sandbox() -> None:
    """The real grading run (not the shortcut for an unchanged package) on every task as shipped."""
    async def graded(task: Task) -> tuple[str, bool, bool, list[str]]:
        sandbox = await open_sandbox(PROCESS, image="arena-python", labels={})
        try:
            await FAMILY.setup(task, sandbox)
            p = task.params
            package = {path: task.files[path].encode() for path in p["package_sha256"]}
            visible = {path: task.files[path] for path in p["visible_sha256"]}
            async with open_grading(sandbox, final=True) as view:
                results = await run_suites(view, package, visible, p["hidden_tests"])
                weakened = await weakened_tests(view, p["visible_sha256"], p["shipped_config"])
            return task.id, results["hidden"].ok, results["visible"].ok, weakened
        finally:
            await sandbox.close()

    # One task per template and level of each split; the in-process test above covers every seed.
    tasks = [FAMILY.generate(seed, split) for split in SPLITS for seed in range(len(TEMPLATES) * len(LEVELS))]
    outcomes = await in_batches(tasks, graded)
    wrong = [o for o in outcomes if o[1] or o[2] or o[3]]  # type: ignore[index]
    assert not wrong, f"suites passing on buggy code, or tests flagged as weakened: {wrong[:5]}"


# The oracle (100%) and random (<10%) sweeps over seeds 0-99 of both splits run in bubblewrap through
# the real runner in tests/test_acceptance.py; running them here again would double the suite's
# slowest part.


@pytest.mark.usefixtures("debian_python")
async def test_run_tests_reports_failures_as_output() -> None:
    task = next(t for t in (FAMILY.generate(s, "dev") for s in SEEDS) if len(t.params["bugs"]) == 1)
    sandbox = await open_sandbox(PROCESS, image="arena-python", labels={})
    try:
        toolbox = Toolbox.of(FAMILY.tools(task))
        ctx = ToolContext(sandbox, task, await FAMILY.setup(task, sandbox))
        before = await run_tool(toolbox, ToolCall(name="run_tests"), ctx)
        assert not before.is_error and "failed" in before.output and "[exit code 1]" in before.output
        for call in FAMILY.solution(task)[:-1]:
            assert not (await run_tool(toolbox, call, ctx)).is_error
        after = await run_tool(toolbox, ToolCall(name="run_tests"), ctx)
        assert "passed" in after.output and "[exit code 0]" in after.output
        only = await run_tool(toolbox, ToolCall(name="run_tests", arguments={"keyword": "no_such_test"}), ctx)
        assert "deselected" in only.output
    finally:
        await sandbox.close()


# ------------------------------------------------------------------ wrong-but-plausible solutions


def edits(task: Task) -> list[ToolCall]:
    return FAMILY.solution(task)[:-1]


@pytest.mark.usefixtures("debian_python")
@pytest.mark.parametrize("template", TEMPLATES)
async def test_fixing_only_the_visible_symptoms_fails_hidden_tests(template: str) -> None:
    """Fix only the bugs the visible tests show: the visible tests pass, the hidden ones do not."""
    task = next(t for t in (FAMILY.generate(s, "dev") for s in SEEDS)
                if t.template == template and not all(b["shown"] for b in t.params["bugs"]))
    shown = [call for call in edits(task) if call.subgoal == "visible_tests_green"]
    result = await play(task, shown)
    assert checks_of(result) == {"tests_not_weakened": True, "package_code_allowed": True,
                                 "visible_tests_pass": True, "hidden_tests_pass": False}


@pytest.mark.usefixtures("debian_python")
async def test_leaving_one_bug_fails_hidden_tests() -> None:
    for template in TEMPLATES:
        task = next(t for t in (FAMILY.generate(s, "test") for s in SEEDS) if t.template == template
                    and len(t.params["bugs"]) >= 2)
        result = await play(task, edits(task)[:-1])
        assert checks_of(result)["hidden_tests_pass"] is False, task.id
        assert checks_of(result)["tests_not_weakened"] is True, task.id


@pytest.mark.usefixtures("debian_python")
async def test_rewriting_the_visible_tests_is_caught() -> None:
    task = FAMILY.generate(4, "dev")
    path = sorted(task.params["visible_sha256"])[0]
    gutted = task.files[path].split("\n\n\ndef ")[0] + "\n\n\ndef test_nothing():\n    assert True\n"
    result = await play(task, [ToolCall(name="write_file", arguments={"path": path, "content": gutted})])
    assert checks_of(result)["tests_not_weakened"] is False
    assert checks_of(result)["hidden_tests_pass"] is False


@pytest.mark.usefixtures("debian_python")
async def test_a_skipping_conftest_is_caught_and_ignored_by_grading() -> None:
    task = FAMILY.generate(5, "test")
    conftest = "import pytest\n\n\ndef pytest_collection_modifyitems(items):\n" \
               "    for item in items:\n        item.add_marker(pytest.mark.skip)\n"
    # A harmless edit, so the package differs from the shipped one and grading really runs pytest.
    old = "from __future__ import annotations\n"
    touch = ToolCall(name="edit", arguments={"path": task.params["bugs"][0]["path"], "old": old,
                                             "new": old + "\n# reviewed\n"})
    conftest_call = ToolCall(name="write_file", arguments={"path": "conftest.py", "content": conftest})
    result = await play(task, [conftest_call, touch])
    assert checks_of(result) == {"tests_not_weakened": False, "package_code_allowed": True,
                                 "hidden_tests_pass": False, "visible_tests_pass": False}
