"""The levels' own figures (copilot subgoals, help, rejected hand-ins, takeovers; worker jobs, parts,
faults) and the certified autonomy level, through real runs at every level."""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.levels.worker import JobFamily
from arena.metrics import GateConfig, SummaryOptions, build_summary
from arena.metrics.summary import Summary
from arena.registry import agent_factory
from arena.types import Action, EpisodeKey
from tests.metrics.ledger import FAMILY, Plan, retry_faults, run, values_for, write

HAND_IN = Action.submit()


def self_reliant(key: EpisodeKey) -> Plan:
    v = values_for(key)
    return Plan([write("alpha", v["alpha"]), HAND_IN, write("beta", v["beta"])])


def helped(key: EpisodeKey) -> Plan:
    v = values_for(key)
    return Plan([Action.call("ask_for_help"), write("alpha", v["alpha"]), HAND_IN, write("beta", v["beta"])])


def early(key: EpisodeKey) -> Plan:
    """Hands the first subgoal in before doing it: rejected, then does it and is met."""
    v = values_for(key)
    return Plan([HAND_IN, write("alpha", v["alpha"]), HAND_IN, write("beta", v["beta"])])


def staller(key: EpisodeKey) -> Plan:
    return Plan([Action.call("check_ledger")] * 40)


@pytest.fixture(scope="module")
def copilot(tmp_path_factory: pytest.TempPathFactory) -> Summary:
    db = tmp_path_factory.mktemp("copilot") / "c.db"
    store = run(db, "c", {"self_reliant": self_reliant, "helped": helped, "early": early, "staller": staller},
                seeds=range(12), levels=("copilot",))
    return build_summary(store, "c", SummaryOptions(bootstrap=200))


def test_copilot_subgoals_done_by_the_agent_itself(copilot: Summary) -> None:
    for agent, self_done, help_, rejected, takeovers in [
        ("self_reliant", 1.0, 0, 0, 0), ("helped", 0.5, 1, 0, 0), ("early", 1.0, 0, 1, 0), ("staller", 0.0, 0, 0, 2),
    ]:
        g = copilot.group(agent, "copilot")
        assert g is not None and g.copilot is not None
        c = g.copilot
        assert c.subgoals == 2 * 12, agent
        assert c.self_done.value == self_done, agent
        assert (c.interventions_per_episode, c.rejected_per_episode, c.takeovers_per_episode) == (
            help_, rejected, takeovers), agent
    assert copilot.group("staller", "copilot").outcomes.why == {"taken_over": 12}  # type: ignore[union-attr]
    assert copilot.group("staller", "copilot").copilot.met.value == 1.0  # type: ignore[union-attr]
    early_reflection = copilot.group("early", "copilot").reflection  # type: ignore[union-attr]
    # The rejected hand-in is an own error, recovered when the same subgoal is later handed in and met.
    assert early_reflection.own_errors == 12 and early_reflection.recovery.value == 1.0
    assert copilot.group("helped", "copilot").success.value == 1.0  # type: ignore[union-attr]


def first_part_only(key: EpisodeKey) -> Plan:
    job = JobFamily(FAMILY, [FAMILY])
    task = job.generate(key.seed, key.split)
    first = task.subgoals[0].name.split("/")[0] + "/"
    calls = [c for c in job.solution(task) if c.subgoal and c.subgoal.startswith(first)]
    return Plan([Action(tool_calls=[c]) for c in calls], react=retry_faults)


def test_worker_jobs_parts_and_faults(tmp_path: Path) -> None:
    store = run(tmp_path / "w.db", "w", {"oracle": agent_factory("oracle"), "first": first_part_only},
                seeds=range(10), levels=("worker",))
    summary = build_summary(store, "w", SummaryOptions(bootstrap=200))
    oracle = summary.group("oracle", "worker").worker  # type: ignore[union-attr]
    assert oracle is not None and oracle.jobs == 10 and oracle.job_success.value == 1.0
    assert oracle.parts_done.value == 1.0 and oracle.faults_met > 0  # faults are on by default for workers
    assert oracle.faults_recovered.value == 1.0
    first = summary.group("first", "worker").worker  # type: ignore[union-attr]
    parts = [e.result.parts for e in store.episodes("w") if e.key.agent == "first"]  # type: ignore[union-attr]
    assert first is not None and first.job_success.value == 0.0
    assert first.parts_done.value == pytest.approx(sum(1 for _ in parts) / sum(len(p) for p in parts))
    assert summary.group("first", "worker").reliability.faults is None  # no fault-free jobs to pair with  # type: ignore[union-attr]


def perfect(key: EpisodeKey) -> Plan:
    v = values_for(key)
    return Plan([write("alpha", v["alpha"]), HAND_IN, write("beta", v["beta"])] if key.level == "copilot"
                else [write("alpha", v["alpha"]), write("beta", v["beta"])])


def test_a_small_run_certifies_nothing(tmp_path: Path) -> None:
    store = run(tmp_path / "s.db", "s", {"perfect": perfect}, seeds=range(5), trials=3, levels=("copilot", "agent"))
    summary = build_summary(store, "s", SummaryOptions(bootstrap=200))
    cert = summary.certification("perfect")
    assert cert is not None and cert.level is None
    assert summary.group("perfect", "agent").success.value == 1.0  # type: ignore[union-attr]
    assert cert.next_level == "copilot" and cert.blocking is not None and cert.blocking.low is not None
    assert cert.blocking.low < 0.8 and "lower bound" in cert.blocking_text


def test_enough_evidence_certifies_and_names_what_blocks_the_next_level(tmp_path: Path) -> None:
    store = run(tmp_path / "b.db", "b", {"perfect": perfect}, seeds=range(40), trials=3,
                levels=("copilot", "agent", "worker"))
    summary = build_summary(store, "b", SummaryOptions(bootstrap=300, horizon_bootstrap=0))
    cert = summary.certification("perfect")
    assert cert is not None and cert.level == "agent"  # its worker jobs fail: it knows only the ledger's own tools
    assert [g.passed for g in cert.gates] == [True, True, False]
    assert cert.next_level == "worker" and cert.blocking is not None and cert.blocking.figure == "job success"
    assert cert.blocking_text.startswith("worker: job success 0%")
    strict = build_summary(store, "b", SummaryOptions(bootstrap=300, horizon_bootstrap=0,
                                                      gates=GateConfig(agent={"success": 0.99})))
    assert strict.certification("perfect").level == "copilot"  # type: ignore[union-attr]
    assert strict.certification("perfect", FAMILY).level == "copilot"  # type: ignore[union-attr]


def test_a_worker_certified_with_faults_on_paired_jobs(tmp_path: Path) -> None:
    store = run(tmp_path / "w.db", "w", {"oracle": agent_factory("oracle")}, seeds=range(40), trials=3,
                levels=("worker",), faults=[0.0, 0.2])
    summary = build_summary(store, "w", SummaryOptions(bootstrap=300, horizon_bootstrap=0))
    cert = summary.certification("oracle")
    assert cert is not None and cert.level == "worker" and cert.blocking is None
    faults = summary.group("oracle", "worker").reliability.faults  # type: ignore[union-attr]
    assert faults is not None and faults.tasks == 40 and faults.ratio.value == 1.0
    assert faults.ratio.low is not None and faults.ratio.low >= 0.9


def test_pass_k_and_fault_robustness_are_needed_and_say_how(tmp_path: Path) -> None:
    store = run(tmp_path / "o.db", "o", {"oracle": agent_factory("oracle")}, seeds=range(40),
                levels=("agent", "worker"))
    cert = build_summary(store, "o", SummaryOptions(bootstrap=200, horizon_bootstrap=0)).certification("oracle")
    assert cert is not None and cert.level is None
    agent_gate = next(g for g in cert.gates if g.level == "agent")
    assert [f.note for f in agent_gate.figures if not f.passed] == ["needs 3 trials per task (--trials 3)"]
    worker_gate = next(g for g in cert.gates if g.level == "worker")
    assert "--faults 0,0.1" in worker_gate.figures[-1].note


def test_a_bound_just_under_its_gate_never_reads_as_equal() -> None:
    from arena.metrics.autonomy import GateFigure

    # 15 of 15 tasks: a Wilson lower bound of 79.6%, which rounds to the gate's 80%
    short = GateFigure(figure="self-done subgoals", threshold=0.8, value=1.0, low=0.7961, tasks=15)
    assert short.text() == "self-done subgoals 100%, lower bound 79.6% < 80%"
    clear = GateFigure(figure="success", threshold=0.8, value=0.95, low=0.851, passed=True, tasks=40)
    assert clear.text() == "success 95%, lower bound 85% >= 80%"
