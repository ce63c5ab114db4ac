"""The worker level: jobs generated from seeds, parts in worlds of their own, one merged toolbox,
graded only at the end, with faults on by default."""

from __future__ import annotations

import asyncio
import re

import pytest

from arena.agents.scripted import ScriptedAgent
from arena.config import RunConfig
from arena.episode import run_episode
from arena.levels.worker import JobFamily
from arena.sandbox import SandboxConfig, open_sandbox
from arena.store import Store
from arena.testing import run_to_end
from arena.types import Action, ToolCall

POOL = ["files", "data", "helpdesk", "web"]


def test_jobs_are_generated_from_seeds_with_stable_ids() -> None:
    job = JobFamily("files", POOL)
    for seed in (0, 1, 7):
        a, b = job.generate(seed, "dev"), job.generate(seed, "dev")
        assert a.model_dump() == b.model_dump() and a.id == f"job:files@1/dev/{seed}"
        parts = job.parts(a)
        assert 2 <= len(parts) <= 4
        assert parts[0].task.id == job.families["files"].generate(seed, "dev").id, "the first part: the same seed"
        assert a.limits.max_steps > sum(p.task.limits.max_steps for p in parts)
        assert a.human_minutes >= sum(p.task.human_minutes for p in parts)
    assert job.generate(3, "dev").model_dump() != job.generate(3, "test").model_dump()
    templates = {job.generate(s, "dev").template for s in range(12)}
    assert templates == {"batch", "mixed", "chain"}


def test_the_goal_statement_reads_as_one_job() -> None:
    job = JobFamily("files", POOL)
    task = job.generate(2, "dev")
    statement = task.instruction(0)
    assert not re.search(r"^\s*(\d+[.)]|step \d)", statement, re.MULTILINE | re.IGNORECASE)
    assert statement.count("submit") >= 1 and len(set(task.instructions)) == 3
    for part in job.parts(task):
        if part.folder:
            assert f"`{part.folder}/`" in statement


def test_a_chained_job_makes_one_part_the_input_of_the_next() -> None:
    job = JobFamily("data", POOL)
    seed = next(s for s in range(20) if job.generate(s, "dev").template == "chain")
    parts = job.parts(job.generate(seed, "dev"))
    assemble, data = parts[0], parts[1]
    target = assemble.task.params["target"]
    assert target.startswith(f"{data.folder}/")
    produced = target.removeprefix(f"{data.folder}/")
    assert produced not in data.task.files, "the data part's input comes only from the step before"


def test_tools_are_merged_shared_tools_once_clashes_namespaced() -> None:
    job = JobFamily("helpdesk", ["helpdesk"])
    task = next(t for t in (job.generate(s, "dev") for s in range(10)) if len(job.parts(t)) >= 2)
    names = [t.name for t in job.tools(task)]
    assert len(names) == len(set(names))
    assert "support_get_ticket" in names and "support-2_get_ticket".replace("-", "_") in names
    mixed = JobFamily("files", POOL)
    task = next(t for t in (mixed.generate(s, "dev") for s in range(40)) if {p.task.family for p in mixed.parts(t)}
                >= {"files", "data"})
    names = [t.name for t in mixed.tools(task)]
    assert names.count("read_file") == 1 and "python" in names


@pytest.mark.parametrize("primary", ["files", "data", "helpdesk", "web"])
async def test_a_part_works_in_its_own_folder(primary: str, need_bwrap: None) -> None:
    job = JobFamily(primary, POOL)
    task = job.generate(5, "dev")
    box = await open_sandbox(SandboxConfig(kind="bwrap"), image=job.image or "arena-base", labels={})
    try:
        listing = Action.call("list_dir", path=".") if job.image else Action.submit()
        agent = ScriptedAgent([listing, Action.submit()])
        result = await run_episode(job, task, agent, box, level="worker")
    finally:
        await box.close()
    assert result.outcome == "fail" and len(result.parts) == len(job.parts(task))
    assert result.score == 0.0 and not any(p.success for p in result.parts)
    if job.image:
        top = agent.observations[1].results[0].output
        for part in job.parts(task):
            assert part.folder in top or not part.folder or part.family.image is None


def run(config: RunConfig) -> Store:
    return run_to_end(config)


def test_worker_faults_are_on_by_default_and_parts_are_reported(need_bwrap: None) -> None:
    config = RunConfig(agents=["oracle"], families=["files", "data"], seeds=[0, 1, 2], levels=["worker"],
                       concurrency=3)
    store = run(config)
    for episode in store.episodes("r"):
        assert episode.key.faults == 0.1
        assert episode.result is not None and episode.result.outcome == "success", episode.result
        assert episode.result.parts and all(p.success for p in episode.result.parts)
        assert episode.result.score == 1.0
    steps = store.run_steps("r")
    assert any(r.fault for s in steps.values() for step in s for r in step.results), "some faults were met"


def test_the_job_score_is_the_share_of_parts_done(need_bwrap: None) -> None:
    job = JobFamily("helpdesk", ["helpdesk"])
    task = next(t for t in (job.generate(s, "dev") for s in range(10)) if len(job.parts(t)) >= 2)
    solution = job.solution(task)
    first = job.parts(task)[0].label
    only_first = [c for c in solution if c.subgoal and c.subgoal.startswith(first + "/")] or [
        c for c in solution[: len(solution) // len(job.parts(task))]
    ]

    async def play() -> object:
        from arena.sandbox import NullSandbox

        calls = [Action(tool_calls=[ToolCall(name=c.name, arguments=c.arguments)]) for c in only_first]
        return await run_episode(job, task, ScriptedAgent([*calls, Action.submit()]), NullSandbox(), level="worker")

    result = asyncio.run(play())
    parts = result.parts  # type: ignore[attr-defined]
    done = sum(p.success for p in parts)
    assert result.outcome == "fail" and result.score == done / len(parts)  # type: ignore[attr-defined]
