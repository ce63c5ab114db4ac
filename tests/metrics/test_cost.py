"""Cost beside every rate: totals, per success ("no success" when a known cost bought none),
unknown prices never shown as zero, re-pricing a stored run from its tokens, the frontier."""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.metrics import SummaryOptions, build_summary
from arena.types import Action, EpisodeKey, Usage
from tests.metrics.ledger import Factory, Plan, run, values_for

TOKENS = Usage(input_tokens=1000, output_tokens=100)


def paid(key: EpisodeKey, *, cost: float | None, right: bool = True) -> Plan:
    v = values_for(key)
    usage = TOKENS.model_copy(update={"cost_usd": cost})
    value = v["beta"] if right else "wrong"
    return Plan([Action.call("write_note", usage=usage, key="alpha", value=v["alpha"]),
                 Action.call("write_note", usage=usage, key="beta", value=value)])


def modelled(name: str, model: str | None, make: object) -> Factory:
    factory = Factory(name, make)  # type: ignore[arg-type]
    if model is not None:
        factory.config = {"class": "test", "model": model}  # as openai: agents store their model with the run
    return factory


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> object:
    agents = {
        "cheap": modelled("cheap", "tiny-model", lambda k: paid(k, cost=0.001)),
        "dear": modelled("dear", "big-model", lambda k: paid(k, cost=0.01)),
        "dear_and_worse": modelled("dear_and_worse", None, lambda k: paid(k, cost=0.02, right=k.seed % 2 == 0)),
        "broke": modelled("broke", None, lambda k: paid(k, cost=0.005, right=False)),
        "unpriced": modelled("unpriced", "local-model", lambda k: paid(k, cost=None)),
        "scripted": lambda k: Plan([]),
    }
    return run(tmp_path_factory.mktemp("cost") / "c.db", "c", agents, seeds=range(10))


def test_totals_per_episode_and_per_success(store: object) -> None:
    summary = build_summary(store, "c", SummaryOptions(bootstrap=200))  # type: ignore[arg-type]
    cheap = summary.group("cheap", "agent").cost  # type: ignore[union-attr]
    assert cheap.input_tokens == 10 * 2 * 1000 and cheap.output_tokens == 10 * 2 * 100
    assert cheap.cost_usd == pytest.approx(10 * 2 * 0.001) and cheap.cost_per_episode == pytest.approx(0.002)
    assert cheap.cost_per_success == pytest.approx(0.002) and cheap.per_success_status == "ok"
    assert cheap.tokens_per_success == pytest.approx(2200)
    broke = summary.group("broke", "agent").cost  # type: ignore[union-attr]
    assert broke.cost_usd == pytest.approx(0.1) and broke.cost_per_success is None
    assert broke.per_success_status == "no success"
    unpriced = summary.group("unpriced", "agent").cost  # type: ignore[union-attr]
    assert unpriced.cost_usd is None and unpriced.cost_status == "unknown"
    assert unpriced.per_success_status == "unknown" and unpriced.input_tokens == 20_000
    scripted = summary.group("scripted", "agent").cost  # type: ignore[union-attr]
    assert not scripted.used_model and scripted.per_success_status == "no model"


def test_a_stored_run_is_repriced_from_its_tokens(store: object, tmp_path: Path) -> None:
    table = tmp_path / "prices.toml"
    table.write_text('[models."local-model"]\ninput = 2.0\noutput = 10.0\n[models."tiny-model"]\ninput = 0\n'
                     'output = 0\n')
    summary = build_summary(store, "c", SummaryOptions(bootstrap=200, prices=str(table)))  # type: ignore[arg-type]
    per_step = (1000 * 2.0 + 100 * 10.0) / 1_000_000
    unpriced = summary.group("unpriced", "agent").cost  # type: ignore[union-attr]
    assert unpriced.cost_usd == pytest.approx(20 * per_step) and unpriced.per_success_status == "ok"
    assert summary.group("cheap", "agent").cost.cost_usd == 0.0  # type: ignore[union-attr]
    # A model the table does not know keeps the cost stored with the run.
    assert summary.group("dear", "agent").cost.cost_usd == pytest.approx(0.2)  # type: ignore[union-attr]
    inline = build_summary(store, "c", SummaryOptions(  # type: ignore[arg-type]
        bootstrap=200, prices={"local-model": {"input": 2.0, "output": 10.0}}))
    assert inline.group("unpriced", "agent").cost.cost_usd == pytest.approx(20 * per_step)  # type: ignore[union-attr]


def test_the_cost_frontier(store: object) -> None:
    summary = build_summary(store, "c", SummaryOptions(bootstrap=200))  # type: ignore[arg-type]
    points = {p.agent: p for p in summary.frontier}
    assert "scripted" not in points  # no model: not on the plane
    assert {p.axis for p in points.values()} == {"tokens"}  # some agent's cost is unknown: tokens instead
    priced = build_summary(store, "c", SummaryOptions(bootstrap=200,  # type: ignore[arg-type]
                                                      prices={"local-model": {"input": 50.0, "output": 50.0}}))
    points = {p.agent: p for p in priced.frontier}
    assert {p.axis for p in points.values()} == {"cost"}
    assert points["cheap"].on_frontier and not points["cheap"].dominated
    assert points["dear"].dominated_by == ["cheap"]  # as successful, for more
    assert points["dear_and_worse"].dominated_by == ["cheap", "dear"]
    assert points["unpriced"].dominated_by == ["cheap", "dear"]  # re-priced at $0.11 an episode
    assert points["broke"].dominated_by == ["cheap"]
