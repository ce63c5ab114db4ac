"""Every family through Gymnasium: the env checker passes and the oracle's actions reach success."""

from __future__ import annotations

import json
import warnings

import gymnasium
import pytest
from gymnasium.utils.env_checker import check_env

import arena.environments  # noqa: F401  (registers arena/<family>-v0)
from arena.drivers.gym import parse_action
from arena.registry import FAMILIES, load_family


def _kwargs(family: str) -> dict[str, object]:
    needs_sandbox = load_family(family).image is not None
    return {"sandbox": "bwrap"} if needs_sandbox else {}


@pytest.fixture(params=sorted(FAMILIES))
def family(request: pytest.FixtureRequest, need_bwrap: None) -> str:
    return request.param


def test_registered(family: str) -> None:
    assert f"arena/{family}-v0" in gymnasium.registry


def test_env_checker_passes(family: str) -> None:
    env = gymnasium.make(f"arena/{family}-v0", level="agent", split="dev", **_kwargs(family))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_env(env.unwrapped, skip_render_check=True)
    finally:
        env.close()


@pytest.mark.parametrize("split", ["dev", "test"])
def test_oracle_actions_reach_success(family: str, split: str) -> None:
    env = gymnasium.make(f"arena/{family}-v0", split=split, **_kwargs(family))
    fam = load_family(family)
    try:
        for seed in (0, 1):
            obs, info = env.reset(seed=seed)
            view = json.loads(obs)
            assert view["task_id"] == info["task_id"] and view["instruction"]
            assert {"submit"} <= {t["name"] for t in view["tools"]}
            calls = fam.solution(fam.generate(seed, split))
            if not calls or calls[-1].name != "submit":
                calls = [*calls, parse_action('{"name": "submit"}').tool_calls[0]]
            terminated = truncated = False
            reward = 0.0
            for call in calls:
                obs, reward, terminated, truncated, info = env.step(
                    json.dumps({"name": call.name, "arguments": call.arguments})
                )
                if terminated or truncated:
                    break
            assert terminated and not truncated
            assert reward == 1.0 and info["outcome"] == "success", info
    finally:
        env.close()


def test_garbage_actions_are_observations_not_exceptions(need_bwrap: None) -> None:
    env = gymnasium.make("arena/files-v0", sandbox="bwrap")
    try:
        env.reset(seed=0)
        for garbage in ["", "not json", "[1,2]", '{"name": "nope"}', '{"tool_calls": 5}']:
            obs, reward, terminated, _, _ = env.step(garbage)
            data = json.loads(obs)
            assert not terminated and reward == 0.0
            assert data["note"] or any(r["is_error"] for r in data["results"])
    finally:
        env.close()
