"""Injected tool faults: deterministic per task and configuration, recorded in the steps, and the
difference between an agent that retries a transient failure and one that does not."""

from __future__ import annotations

from arena.agents.oracle import OracleAgent
from arena.agents.scripted import ScriptedAgent
from arena.config import RunConfig
from arena.episode import run_episode
from arena.sandbox import SandboxConfig, open_sandbox
from arena.store import Store
from arena.testing import run_to_end
from arena.tools.faults import FaultConfig, fault_at, schedule_seed
from arena.types import Action, EpisodeResult, StepRecord
from tests.minimal_family import GreetingFamily

FAMILY = GreetingFamily()
PROCESS = SandboxConfig(kind="process", unsafe_local=True)


async def play(agent: object, seed: int, faults: FaultConfig) -> tuple[EpisodeResult, list[StepRecord]]:
    steps: list[StepRecord] = []
    box = await open_sandbox(PROCESS, image="arena-base", labels={})
    try:
        result = await run_episode(FAMILY, FAMILY.generate(seed, "dev"), agent, box, faults=faults,  # type: ignore[arg-type]
                                   on_step=steps.append)
    finally:
        await box.close()
    return result, steps


def first_call_faulted(config: FaultConfig) -> int:
    """A seed whose first tool call meets a transient failure and whose second does not."""
    for seed in range(200):
        schedule = schedule_seed(FAMILY.generate(seed, "dev").id, config)
        if fault_at(schedule, 0, config) == "error" and fault_at(schedule, 1, config) is None:
            return seed
    raise AssertionError("no such seed in 0-199")


class NoRetry:
    """Plays the reference once, never looking back: a transient failure is simply lost."""

    def __init__(self) -> None:
        self.plan = [Action.call("write_file", path="greeting.txt", content="?"), Action.submit()]

    def bind(self, expected: str) -> NoRetry:
        self.plan[0] = Action.call("write_file", path="greeting.txt", content=expected)
        return self

    async def reset(self, view: object) -> None:
        return None

    async def act(self, obs: object) -> Action:
        return self.plan.pop(0) if self.plan else Action.submit()


async def test_an_agent_that_retries_a_transient_failure_succeeds_one_that_does_not_fails() -> None:
    config = FaultConfig(rate=0.5, kinds=["error"])
    seed = first_call_faulted(config)
    expected = FAMILY.generate(seed, "dev").params["expected"]
    fragile, steps = await play(NoRetry().bind(expected), seed, config)
    assert fragile.outcome == "fail"
    first = steps[0].results[0]
    assert first.is_error and first.fault == "error" and "temporary" in first.output
    careful, steps = await play(OracleAgent(), seed, config)
    assert careful.outcome == "success"
    assert [r.fault for s in steps for r in s.results][:2] == ["error", None]  # the retry went through


async def test_submit_is_never_faulted() -> None:
    result, steps = await play(ScriptedAgent([Action.submit()]), 0, FaultConfig(rate=1.0, kinds=["error"]))
    assert result.termination == "submitted" and steps[0].results[0].fault is None


async def test_partial_empty_and_latency_faults_run_the_tool_and_say_so() -> None:
    reads = [Action.call("read_file", path="notes.txt")]
    setup = Action.call("bash", command="seq 1 300 > notes.txt")
    for kind, flag in (("partial", "[output incomplete"), ("empty", "[no output received")):
        _, steps = await play(ScriptedAgent([setup, *reads]), 0, FaultConfig(rate=1.0, kinds=[kind]))  # type: ignore[list-item]
        read = steps[1].results[0]
        assert read.fault == kind and not read.is_error and flag in read.output
    _, steps = await play(ScriptedAgent(reads), 0, FaultConfig(rate=1.0, kinds=["latency"], latency=0.3))
    assert steps[0].results[0].fault == "latency" and steps[0].seconds >= 0.3


def run(config: RunConfig, run_id: str = "r") -> Store:
    return run_to_end(config, run_id=run_id)


def schedules(store: Store) -> dict[tuple[int, int], list[str | None]]:
    steps = store.run_steps("r")
    return {(e.key.seed, e.key.trial): [r.fault for s in steps[e.key.id] for r in s.results]
            for e in store.episodes("r")}


def test_the_schedule_is_the_same_across_trials_and_reruns() -> None:
    config = RunConfig(agents=["oracle"], families=["helpdesk"], seeds=[0, 1, 2, 3], trials=2, faults={"rate": 0.4})
    first, second = schedules(run(config)), schedules(run(config))
    assert first == second, "a rerun reproduces the schedule"
    for seed in range(4):
        assert first[(seed, 0)] == first[(seed, 1)], "every trial meets the same faults"
    assert any(kind is not None for kinds in first.values() for kind in kinds)
    assert len({tuple(first[(s, 0)]) for s in range(4)}) > 1, "different tasks meet different faults"


def test_faults_zero_and_point_two_are_planned_side_by_side() -> None:
    config = RunConfig(agents=["oracle"], families=["helpdesk"], seeds=[0, 1], faults={"rate": [0, 0.2]})
    store = run(config)
    rates = sorted(e.key.faults for e in store.episodes("r"))
    assert rates == [0.0, 0.0, 0.2, 0.2]
    assert all(e.result is not None and e.result.outcome == "success" for e in store.episodes("r"))
