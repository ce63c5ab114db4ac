"""What every registered family owes its users, checked for all of them by the public contract check
(`arena.testing.family_check.check_family`), plus the bar the built-in families set themselves:
difficulty and human minutes spread over a real range. The contract check is itself tested on
families broken one way each, so it names the fault."""

from __future__ import annotations

import asyncio
import functools
import random
from statistics import mean
from typing import Any

import pytest

from arena.registry import FAMILIES, load_family
from arena.testing.family_check import FamilyCheckError, acheck_family, replay
from arena.types import SPLITS, Check, CheckResult, Subgoal, Task, ToolCall
from tests.minimal_family import GreetingFamily

SEEDS = range(100)


@functools.cache
def tasks_of(name: str) -> list[Task]:
    family = load_family(name)
    return [family.generate(seed, split) for split in SPLITS for seed in SEEDS]


@pytest.fixture(params=sorted(FAMILIES))
def family(request: pytest.FixtureRequest) -> Any:
    return load_family(request.param)


async def test_the_contract(family: Any, need_bwrap: None) -> None:
    """Every seed and split statically; one task per template played in bubblewrap (the splits take
    turns; the acceptance sweep plays all of them)."""
    await acheck_family(family, seeds=SEEDS, sandbox="bwrap", sample=1, min_paraphrases=3)


async def test_the_readme_family_meets_the_contract(need_bwrap: None) -> None:
    await acheck_family(GreetingFamily(), seeds=range(20), sandbox="bwrap")


async def test_an_empty_episode_scores_zero_on_every_task(family: Any) -> None:
    """Setup, then check, no action, on every template at every level of both splits (the contract
    check plays one task per template)."""
    async def empty(task: Task) -> tuple[str, float, bool]:
        played = await replay(family, task, [], sandbox="process")
        return task.id, played.checks.score, played.checks.success

    levels = {(t.split, t.template, t.difficulty): t for t in reversed(tasks_of(family.name))}
    tasks = list(levels.values())
    results = []
    for start in range(0, len(tasks), 20):
        results += await asyncio.gather(*(empty(t) for t in tasks[start:start + 20]))
    assert [r for r in results if r[1] != 0 or r[2]] == []


def test_identity(family: Any) -> None:
    assert family.name in FAMILIES and family.image in (None, "arena-base", "arena-python")


def test_difficulty_and_human_minutes_span_a_range(family: Any) -> None:
    """For the time-horizon fit: five difficulty levels in every family, the estimate of a person's
    minutes rising with them and spreading by a factor of two at least."""
    tasks = tasks_of(family.name)
    levels = sorted({t.difficulty for t in tasks})
    assert levels == [1, 2, 3, 4, 5], levels
    by_level = [mean(t.human_minutes for t in tasks if t.difficulty == d) for d in levels]
    assert by_level == sorted(by_level), by_level
    minutes = [t.human_minutes for t in tasks]
    assert max(minutes) >= 2 * min(minutes), (min(minutes), max(minutes))


def test_human_minutes_run_from_minutes_to_an_hour() -> None:
    minutes = [t.human_minutes for name in FAMILIES for t in tasks_of(name)]
    assert min(minutes) <= 4 and max(minutes) >= 60, (min(minutes), max(minutes))


# ---------------------------------------------------------------- the check names what is wrong


class Untagged(GreetingFamily):
    def solution(self, task: Task) -> list[ToolCall]:
        return [c.model_copy(update={"subgoal": None}) for c in super().solution(task)]


class ScoresForNothing(GreetingFamily):
    async def check(self, task: Task, sandbox: Any, state: Any) -> CheckResult:
        result = await super().check(task, sandbox, state)
        return CheckResult(checks=[*result.checks, Check(name="no_damage", passed=True)])


class WritesToLiteralWork(GreetingFamily):
    def solution(self, task: Task) -> list[ToolCall]:
        return [c.model_copy(update={"arguments": {**c.arguments, "path": "/work/greeting.txt"}})  # type: ignore[dict-item]
                for c in super().solution(task)]

    async def check(self, task: Task, sandbox: Any, state: Any) -> CheckResult:
        try:
            text = (await sandbox.read_file("/work/greeting.txt")).decode().strip()
        except OSError:
            text = None
        return CheckResult(checks=[Check(name="greeting", passed=text == task.params["expected"])])


class TwoSubgoals(GreetingFamily):
    def generate(self, seed: int, split: str) -> Task:
        task = super().generate(seed, split)
        extra = Subgoal(name="again", description="greeting.txt exists, again", checks=["greeting"])
        return task.model_copy(update={"subgoals": [*task.subgoals, extra]})

    def solution(self, task: Task) -> list[ToolCall]:
        first = super().solution(task)
        return [*first, first[0].model_copy(update={"subgoal": "again"})]


class LeavesTraces(GreetingFamily):
    async def check(self, task: Task, sandbox: Any, state: Any) -> CheckResult:
        await sandbox.exec(["touch", f"{sandbox.workdir}/.graded"], timeout=10)
        return await super().check(task, sandbox, state)


class Undetermined(GreetingFamily):
    def generate(self, seed: int, split: str) -> Task:
        task = super().generate(seed, split)
        return task.model_copy(update={"human_minutes": random.uniform(1, 2)})


@pytest.mark.parametrize(("broken", "message"), [
    (Untagged, "must name the subgoal it serves"),
    (ScoresForNothing, "goal checks pass without any action: ['no_damage']"),
    (WritesToLiteralWork, "outside the task's work directory"),
    (TwoSubgoals, "subgoal 'again' is met already"),
    (LeavesTraces, "left traces in the agent's world"),
    (Undetermined, "generate() is not deterministic"),
])
async def test_a_broken_family_is_named_with_its_fault(broken: type, message: str, need_bwrap: None) -> None:
    with pytest.raises(FamilyCheckError, match="family 'greeting'") as raised:
        await acheck_family(broken(), seeds=range(5), sandbox="bwrap")
    assert message in str(raised.value), raised.value
