from __future__ import annotations

import math

import pytest

from arena.metrics import aggregate, pass_at_k, pass_hat_k, wilson
from arena.store import StoredEpisode
from arena.types import EpisodeKey, EpisodeResult, Usage


def test_wilson_known_values() -> None:
    low, high = wilson(0, 10)
    assert low == 0.0 and math.isclose(high, 0.2775, abs_tol=1e-4)
    low, high = wilson(8, 10)
    assert math.isclose(low, 0.4902, abs_tol=1e-4) and math.isclose(high, 0.9433, abs_tol=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)


def test_pass_hat_k_and_pass_at_k_unbiased() -> None:
    assert pass_hat_k(3, 2, 2) == pytest.approx(1 / 3)
    assert pass_hat_k(3, 3, 3) == 1.0 and pass_hat_k(3, 2, 3) == 0.0
    assert pass_at_k(3, 1, 2) == pytest.approx(2 / 3)
    assert pass_at_k(4, 0, 4) == 0.0
    with pytest.raises(ValueError):
        pass_hat_k(2, 1, 3)


def _ep(seed: int, trial: int, outcome: str, cost: float | None = 0.01) -> StoredEpisode:
    key = EpisodeKey(agent="a", family="f", split="dev", seed=seed, level="agent", trial=trial)
    result = EpisodeResult(outcome=outcome, termination="submitted", score=1.0 if outcome == "success" else 0.0,
                           steps=3, seconds=2.0, usage=Usage(input_tokens=10, output_tokens=5, cost_usd=cost))
    return StoredEpisode(key=key, status="done", attempts=1, result=result)


def test_aggregate_leaves_errors_out_of_rates() -> None:
    eps = [_ep(0, 0, "success"), _ep(0, 1, "success"), _ep(0, 2, "error"),
           _ep(1, 0, "success"), _ep(1, 1, "fail"), _ep(1, 2, "success")]
    (a,) = aggregate(eps)
    assert (a.successes, a.fails, a.errors, a.tasks) == (4, 1, 1, 2)
    assert a.success_rate == pytest.approx(0.8)
    # task 0 has 2 scored trials, task 1 has 3: pass^2 is over both, pass^3 over task 1 alone.
    assert set(a.pass_hat_k) == {1, 2, 3}
    assert a.pass_hat_k[2] == pytest.approx((1.0 + 1 / 3) / 2)
    assert a.pass_hat_k[3] == 0.0
    assert a.cost_usd == pytest.approx(0.06) and a.cost_per_success == pytest.approx(0.015)
    assert a.input_tokens == 60


def test_unknown_price_is_unknown_cost_not_zero() -> None:
    (a,) = aggregate([_ep(0, 0, "success", cost=None), _ep(1, 0, "success")])
    assert a.cost_usd is None and a.cost_per_success is None
