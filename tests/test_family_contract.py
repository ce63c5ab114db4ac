"""What every registered family owes its users, checked the same way for all of them."""

from __future__ import annotations

import pytest

from arena.registry import FAMILIES, load_family
from arena.types import task_id

SEEDS = range(100)


@pytest.fixture(params=sorted(FAMILIES))
def family(request: pytest.FixtureRequest):
    return load_family(request.param)


def test_identity(family) -> None:
    assert family.name in FAMILIES and family.version and family.description and family.templates
    assert family.image in (None, "arena-base", "arena-python")


def test_generation_is_deterministic_with_stable_ids(family) -> None:
    for split in ("dev", "test"):
        for seed in (0, 7, 42):
            a, b = family.generate(seed, split), family.generate(seed, split)
            assert a.model_dump() == b.model_dump()
            assert a.id == task_id(family.name, family.version, split, seed)


def test_templates_paraphrases_difficulty_and_estimates(family) -> None:
    tasks = [family.generate(s, "dev") for s in SEEDS]
    assert {t.template for t in tasks} == set(family.templates)
    assert len({t.difficulty for t in tasks}) >= 2, "difficulty must vary with the seed"
    for t in tasks:
        assert len(set(t.instructions)) >= 3, f"{t.id}: needs several paraphrases"
        assert t.subgoals and t.human_minutes > 0 and t.limits.max_steps >= len(family.solution(t))


def test_dev_and_test_splits_differ(family) -> None:
    def content(seed: int, split: str) -> tuple[object, ...]:
        task = family.generate(seed, split)
        return task.instructions, task.files, task.params

    assert not [s for s in SEEDS if content(s, "dev") == content(s, "test")]


def test_tools_are_documented_and_the_solution_uses_only_them(family) -> None:
    for seed in range(len(family.templates)):
        task = family.generate(seed, "dev")
        tools = family.tools(task)
        names = [t.name for t in tools]
        assert len(names) == len(set(names)) and "submit" not in names
        for tool in tools:
            spec = tool.spec()
            assert spec.description
            for prop, schema in spec.parameters["properties"].items():
                assert schema.get("description"), f"{family.name}.{tool.name}.{prop} has no description"
        assert {c.name for c in family.solution(task)} <= {*names, "submit"}
