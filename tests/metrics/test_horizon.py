"""The time-horizon fit on outcomes whose true horizon is known, and through a real run."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from arena.metrics import SummaryOptions, build_summary, fit_horizon, fit_logistic
from arena.metrics.episode import EpisodeMetrics
from arena.types import EpisodeKey
from tests.metrics.ledger import Plan, minutes_of, run, values_for, write

TRUE_H50 = 8.0  # minutes
SLOPE = -1.0  # per doubling of task length


def synthetic(n_tasks: int, families: int, trials: int, seed: int = 1) -> list[EpisodeMetrics]:
    """Outcomes drawn from a known logistic curve: P(success) = sigmoid(SLOPE * (log2 m - log2 TRUE_H50))."""
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(n_tasks):
        minutes = float(2 ** rng.uniform(-1, 7))
        p = 1 / (1 + math.exp(-SLOPE * (math.log2(minutes) - math.log2(TRUE_H50))))
        for trial in range(trials):
            success = bool(rng.random() < p)
            rows.append(EpisodeMetrics(
                run_id="s", episode=f"{t}/{trial}", agent="a", family=f"f{t % families}", split="dev", seed=t,
                level="agent", trial=trial, paraphrase=0, faults=0.0, human_minutes=minutes, status="done",
                outcome="success" if success else "fail", termination="submitted",
            ))
    return rows


def test_the_fit_recovers_a_known_horizon() -> None:
    h = fit_horizon(synthetic(600, 3, 1), agent="a", level="agent", rng=np.random.default_rng(0), draws=300)
    assert h.status == "ok" and h.families == 3 and h.tasks == 600
    assert h.h50 is not None and abs(math.log2(h.h50) - math.log2(TRUE_H50)) < 0.5
    assert h.h50_low is not None and h.h50_high is not None and h.h50_low < TRUE_H50 < h.h50_high
    true_h80 = 2 ** (math.log2(TRUE_H50) - math.log(4) / -SLOPE)
    assert h.h80 is not None and h.h80_low is not None and h.h80_high is not None
    assert h.h80_low < true_h80 < h.h80_high and h.h80 < h.h50
    assert h.slope is not None and -1.5 < h.slope < -0.6 and not h.extrapolated


def test_more_trials_narrow_the_interval() -> None:
    one = fit_horizon(synthetic(60, 2, 1), agent="a", level="agent", rng=np.random.default_rng(0), draws=300)
    five = fit_horizon(synthetic(60, 2, 5), agent="a", level="agent", rng=np.random.default_rng(0), draws=300)
    assert one.h50_low is not None and one.h50_high is not None and five.h50_low is not None
    assert five.h50_high is not None
    assert math.log2(five.h50_high / five.h50_low) < math.log2(one.h50_high / one.h50_low)


def test_weights_keep_a_big_family_from_dominating() -> None:
    # A family of 90 easy tasks (always done) beside one of 10 hard ones (never done): unweighted,
    # success looks like 90%; weighted by 1/sqrt(family size), the hard family counts for more.
    x = np.log2(np.array([1.0] * 90 + [16.0] * 10))
    y = np.array([1.0] * 90 + [0.0] * 10)
    from arena.metrics.horizon import weights

    w = weights(["easy"] * 90 + ["hard"] * 10, list(range(100)))
    assert w.sum() == pytest.approx(1.0)
    assert w[90:].sum() == pytest.approx(math.sqrt(10) / (math.sqrt(10) + math.sqrt(90)))
    a, b = fit_logistic(x, y, w)
    assert b < 0 and 1.0 < 2 ** (-a / b) < 16.0  # separated: the 50% point lies between the two lengths


def test_no_fit_when_the_data_cannot_say() -> None:
    rows = synthetic(40, 2, 1)
    rng = np.random.default_rng(0)
    won = [r.model_copy(update={"outcome": "success"}) for r in rows]
    lost = [r.model_copy(update={"outcome": "fail"}) for r in rows]
    assert fit_horizon(won, agent="a", level="agent", rng=rng).status == "all_success"
    assert fit_horizon(lost, agent="a", level="agent", rng=rng).status == "all_fail"
    assert fit_horizon(rows[:3], agent="a", level="agent", rng=rng).status == "too_few"
    same = [r.model_copy(update={"human_minutes": 5.0}) for r in rows]
    assert fit_horizon(same, agent="a", level="agent", rng=rng).status == "too_few"
    rising = [r.model_copy(update={"outcome": "success" if (r.human_minutes or 0) > 8 else "fail"}) for r in rows]
    h = fit_horizon(rising, agent="a", level="agent", rng=rng)
    assert h.status == "no_decline" and h.h50 is None and h.note


def short_tasks_only(key: EpisodeKey) -> Plan:
    """Does tasks of up to 4 human minutes and fails longer ones."""
    v = values_for(key)
    if minutes_of(key.seed) <= 4:
        return Plan([write("alpha", v["alpha"]), write("beta", v["beta"])])
    return Plan([write("alpha", v["alpha"])])


def test_a_run_whose_agent_does_short_tasks_only(tmp_path: Path) -> None:
    store = run(tmp_path / "h.db", "h", {"short": short_tasks_only}, seeds=range(32))
    summary = build_summary(store, "h", SummaryOptions(horizon_bootstrap=200))
    h = summary.horizon("short", "agent")
    assert h is not None and h.status == "ok"
    assert h.h50 is not None and 4 < h.h50 < 8
    assert [(p.minutes, p.successes, p.episodes) for p in h.points][:2] == [(0.5, 4, 4), (1.0, 4, 4)]
    data = summary.model_dump(mode="json")
    assert data["horizons"][0]["h50"] == pytest.approx(h.h50)
