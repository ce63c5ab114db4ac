"""Reliability of scripted agents with known per-trial behaviour, through the real runner, fault
injection and store: pass^k against its true value, flips, fault robustness, paraphrase robustness."""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.metrics import SummaryOptions, build_summary
from arena.metrics.groups import Group
from arena.types import EpisodeKey
from tests.metrics.ledger import Plan, chance, give_up_on_faults, retry_faults, run, values_for, write


def right(key: EpisodeKey) -> list:
    v = values_for(key)
    return [write("alpha", v["alpha"]), write("beta", v["beta"])]


def ninety(key: EpisodeKey) -> Plan:
    """Succeeds with probability 0.9 per trial, independently of everything else."""
    if chance(key, "ninety") < 0.1:
        return Plan([write("alpha", "wrong"), write("beta", "wrong")])
    return Plan(right(key))


def test_an_agent_at_90_percent_per_trial(tmp_path: Path) -> None:
    store = run(tmp_path / "n.db", "n", {"ninety": ninety}, seeds=range(100), trials=3)
    g = build_summary(store, "n").group("ninety", "agent")
    assert g is not None
    rel = g.reliability
    hat3, hat1, at3 = rel.pass_hat_k[3], rel.pass_hat_k[1], rel.pass_at_k[3]
    assert hat3.low < 0.9**3 < hat3.high  # type: ignore[operator]
    assert hat1.low < 0.9 < hat1.high  # type: ignore[operator]
    assert at3.low < 1 - 0.1**3 <= at3.high  # type: ignore[operator]
    assert hat3.high < 0.9  # type: ignore[operator]  # pass^3 is clearly below pass^1: the point of measuring it
    assert hat3.tasks == 100 and not hat3.few
    # Flips: a task's three trials disagree with probability 1 - 0.9^3 - 0.1^3 = 0.27.
    assert rel.flips.low < 0.27 < rel.flips.high  # type: ignore[operator]
    assert rel.consistency is not None and 0.3 < rel.consistency < 0.8
    # The success interval accounts for trials of a task being repeats, not new tasks.
    assert g.success.low < 0.9 < g.success.high  # type: ignore[operator]


def fragile(key: EpisodeKey) -> Plan:
    return Plan(right(key), react=give_up_on_faults)


def steady(key: EpisodeKey) -> Plan:
    return Plan(right(key), react=retry_faults)


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Group], object]:
    db = tmp_path_factory.mktemp("faults") / "f.db"
    store = run(db, "f", {"fragile": fragile, "steady": steady}, seeds=range(40), faults=[0.0, 0.5])
    summary = build_summary(store, "f", SummaryOptions(bootstrap=500))
    return {a: summary.group(a, "agent") for a in ("fragile", "steady")}, store  # type: ignore[misc]


def test_a_fault_fragile_agent(faults: tuple[dict[str, Group], object]) -> None:
    groups, store = faults
    episodes = store.episodes("f")  # type: ignore[attr-defined]
    faulted = [e for e in episodes if e.key.agent == "fragile" and e.key.faults > 0]
    expected = sum(e.result.outcome == "success" for e in faulted) / len(faulted)
    robustness = groups["fragile"].reliability.faults
    assert robustness is not None and robustness.rates == [0.5] and robustness.tasks == 40
    assert robustness.without_faults.value == 1.0
    assert robustness.ratio.value == pytest.approx(expected) and expected < 0.5  # two calls, each faulted half the time
    assert robustness.ratio.high is not None and robustness.ratio.high < 0.8
    r = groups["fragile"].reflection
    assert r.fault_errors > 0 and r.good_retries == 0 and r.own_errors == 0


def test_an_agent_that_retries_faults_is_robust_and_never_blind(faults: tuple[dict[str, Group], object]) -> None:
    groups, _ = faults
    robustness = groups["steady"].reliability.faults
    assert robustness is not None and robustness.ratio.value == 1.0
    r = groups["steady"].reflection
    assert r.fault_errors > 10 and r.good_retries == r.fault_errors and r.blind_repeats == 0
    assert r.faults_recovered.value == 1.0 and r.fault_retry.value == 1.0
    assert r.own_errors == 0  # an injected fault is never the agent's own error


def wording_sensitive(key: EpisodeKey) -> Plan:
    """Right when told "Record ...", wrong when the same task is worded the other way."""
    agent = Plan([])

    async def reset(view: object) -> None:
        agent.actions = right(key) if view.instruction.startswith("Record") else [write("alpha", "?")]  # type: ignore[attr-defined]

    agent.reset = reset  # type: ignore[method-assign]
    return agent


def test_a_paraphrase_sensitive_agent(tmp_path: Path) -> None:
    store = run(tmp_path / "p.db", "p", {"sensitive": wording_sensitive, "robust": lambda k: Plan(right(k))},
                seeds=range(20), paraphrases=2)
    summary = build_summary(store, "p", SummaryOptions(bootstrap=200))
    sensitive = summary.group("sensitive", "agent").reliability.paraphrase  # type: ignore[union-attr]
    assert sensitive is not None and sensitive.wordings == 2 and sensitive.tasks == 20
    assert sensitive.by_wording[0].value == 1.0 and sensitive.by_wording[1].value == 0.0
    assert sensitive.spread == 1.0 and sensitive.sensitive.value == 1.0
    assert sensitive.sensitive.low is not None and sensitive.sensitive.low > 0.8
    robust = summary.group("robust", "agent").reliability.paraphrase  # type: ignore[union-attr]
    assert robust is not None and robust.spread == 0.0 and robust.sensitive.value == 0.0
