"""Paired comparisons: a difference the data show is called, one they do not show is not, across
agents of a run and across runs, with exact p-values known by construction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from arena.errors import ConfigError
from arena.metrics import SummaryOptions, compare, resolve_sides
from arena.metrics.paired import CompareRow, Comparison, verdicts
from arena.metrics.stats import binomial_two_sided, holm, sign_flip_p
from arena.store import Store
from arena.types import EpisodeKey
from tests.metrics.ledger import FAMILY, Plan, run, values_for, write

SEEDS = range(40)
OTHER = "tests.metrics.test_compare:OtherLedger"


class OtherLedger:  # a second family name, to compare per family
    def __new__(cls) -> object:
        from tests.metrics.ledger import LedgerFamily

        family = LedgerFamily()
        family.name = "other"
        return family


def fails_when(rule: object) -> object:
    def make(key: EpisodeKey) -> Plan:
        v = values_for(key)
        if rule(key.seed):  # type: ignore[operator]
            return Plan([write("alpha", "wrong")])
        return Plan([write("alpha", v["alpha"]), write("beta", v["beta"])])
    return make


AGENTS = {
    "strong": fails_when(lambda s: False),
    "half": fails_when(lambda s: s % 2 == 0),
    "a80": fails_when(lambda s: s % 5 == 0),
    "b75": fails_when(lambda s: s % 4 == 0),
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    db = tmp_path_factory.mktemp("compare") / "c.db"
    return run(db, "c", AGENTS, seeds=SEEDS)


def row(comparison: Comparison, metric: str, family: str | None = None) -> CompareRow:
    (pair,) = comparison.pairs
    return next(r for r in pair.rows if r.metric == metric and r.family == family)


def test_a_real_difference_is_called(store: Store) -> None:
    c = compare(store, ["strong", "half"], run_id="c", options=SummaryOptions(bootstrap=500))
    success = row(c, "success")
    assert success.tasks == 40 and success.differing == 20
    assert success.diff == pytest.approx(0.5) and success.low is not None and success.low > 0.3
    assert success.test == "exact McNemar" and success.p == pytest.approx(binomial_two_sided(20, 20))
    assert success.winner == "strong" and success.verdict == "strong better"
    assert row(c, "score").winner == "strong"


def test_a_difference_the_data_do_not_show_is_not_called(store: Store) -> None:
    c = compare(store, ["a80", "b75"], run_id="c", options=SummaryOptions(bootstrap=500))
    success = row(c, "success")
    # a80 fails seeds 0,5,...,35 (8), b75 fails 0,4,...,36 (10): discordant are 6 against a80 and 8 against b75.
    assert success.differing == 14 and success.diff == pytest.approx(0.05)
    assert success.p == pytest.approx(binomial_two_sided(6, 14)) and success.p > 0.5
    assert success.winner is None and success.verdict == "no clear difference"
    assert success.low is not None and success.high is not None and success.low < 0 < success.high


def test_a_time_difference_under_the_stored_millisecond_is_never_called() -> None:
    def timed(diff: float) -> CompareRow:
        return CompareRow(level="agent", family=None, metric="seconds", better="lower", a=0.002 + diff, b=0.002,
                          diff=diff, low=diff, high=diff, p=0.01, tasks=40, differing=40)

    rows = [timed(-0.0004), timed(-0.0015)]
    verdicts(rows, ("a", "b"), 0.05)
    assert [r.verdict for r in rows] == ["no clear difference", "a faster"]
    steps = CompareRow(level="agent", family=None, metric="steps", better="lower", a=1.9996, b=2.0, diff=-0.0004,
                       low=-0.0004, high=-0.0004, p=0.01, tasks=40, differing=40)
    verdicts([steps], ("a", "b"), 0.05)
    assert steps.verdict == "a fewer steps"  # other metrics keep their own resolution


def test_runs_compare_as_sides(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    store = run(db, "before", {"x": AGENTS["half"]}, seeds=SEEDS)
    run(db, "after", {"x": AGENTS["strong"]}, seeds=SEEDS, store=store)
    sides = resolve_sides(store, ["before", "after"])
    assert [(s.run_id, s.agent, s.label) for s in sides] == [("before", "x", "before"), ("after", "x", "after")]
    c = compare(store, sides)
    assert row(c, "success").winner == "after"
    assert [s.label for s in resolve_sides(store, ["before:x", "after:x"])] == ["before", "after"]
    with pytest.raises(ConfigError, match="neither a run nor an agent"):
        resolve_sides(store, ["before", "nobody"])
    with pytest.raises(ConfigError, match="two sides"):
        resolve_sides(store, ["before"])


def test_trials_pair_on_tasks_and_pass_k_gets_a_sign_test(tmp_path: Path) -> None:
    store = run(tmp_path / "k.db", "k", {"strong": AGENTS["strong"], "half": AGENTS["half"]}, seeds=range(12),
                trials=3)
    c = compare(store, [], run_id="k")
    success, pass3 = row(c, "success"), row(c, "pass^3")
    assert success.tasks == 12 and success.test != "exact McNemar"  # trials are repeats, not pairs
    assert pass3.diff == pytest.approx(0.5) and pass3.test == "sign test"
    assert pass3.p == pytest.approx(binomial_two_sided(6, 6))  # 6 tasks differ: p = 1/32, significant
    assert pass3.winner == "strong"


def test_families_are_adjusted_for_multiple_comparisons(tmp_path: Path) -> None:
    store = run(tmp_path / "f.db", "f", {"a80": AGENTS["a80"], "b75": AGENTS["b75"]}, seeds=range(20),
                families=[FAMILY, OTHER])
    c = compare(store, ["a80", "b75"], run_id="f", options=SummaryOptions(bootstrap=200))
    per_family = [r for r in c.pairs[0].rows if r.metric == "success" and r.family is not None]
    assert len(per_family) == 2
    assert [r.p_adjusted for r in per_family] == holm([r.p for r in per_family])
    assert all(r.p_adjusted >= r.p for r in per_family)  # type: ignore[operator]
    assert row(c, "success").p_adjusted is None  # the all-families row is the primary test


def test_exact_tests_and_holm() -> None:
    assert binomial_two_sided(0, 10) == pytest.approx(2 / 1024)
    assert binomial_two_sided(5, 10) == 1.0
    assert sign_flip_p([1, 1, 1, -1]) == pytest.approx(binomial_two_sided(3, 4))
    assert sign_flip_p([0.5, 0.25, 0.75]) == pytest.approx(2 / 8)  # all positive: 2 of 8 sign patterns as extreme
    assert sign_flip_p([0, 0, 0]) == 1.0
    many = list(np.linspace(0.1, 1.0, 30))
    assert sign_flip_p(many) < 0.001  # Monte Carlo beyond 16 tasks
    assert holm([0.01, 0.04, None, 0.03]) == [0.03, 0.06, None, 0.06]
