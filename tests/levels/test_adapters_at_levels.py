"""`openai:` and `command:` agents and the Gymnasium env work at every level with no change on their
side: the level's tools and notes reach them through the normal tool list and observations."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import gymnasium
import pytest

import arena.environments  # noqa: F401  (registers arena/<family>-v0)
from arena.config import RunConfig
from arena.levels.worker import JobFamily
from arena.registry import load_family
from arena.store import Store
from arena.testing import ReplayPolicy, ScriptedChatServer, run_to_end

REPO = Path(__file__).resolve().parents[2]
FAST = {"backoff": 0.01, "max_backoff": 0.05, "timeout": 5.0, "max_retries": 2}


def run(config: RunConfig) -> Store:
    return run_to_end(config)


def solution_of(level: str, seed: int) -> ReplayPolicy:
    family = JobFamily("helpdesk", ["helpdesk"]) if level == "worker" else load_family("helpdesk")
    calls = family.solution(family.generate(seed, "dev"))
    answer = next((c.arguments.get("answer") for c in calls if c.name == "submit" and isinstance(c.arguments, dict)),
                  None)
    return ReplayPolicy([c for c in calls if c.name != "submit"], submit_answer=answer)


@pytest.mark.parametrize("level", ["copilot", "agent", "worker"])
@pytest.mark.parametrize("mode", ["tools", "text"])
def test_openai_agents_at_every_level(level: str, mode: str) -> None:
    with ScriptedChatServer(solution_of(level, 0)) as server:
        config = RunConfig(
            agents=["openai:scripted"], families=["helpdesk"], seeds=[0], levels=[level], faults={"rate": 0},
            agent_options={"openai:scripted": {"base_url": server.base_url, "mode": mode, **FAST}},
        )
        store = run(config)
        first = server.requests[0].body or {}
    (episode,) = store.episodes("r")
    assert episode.result is not None and episode.result.outcome == "success", episode.result
    offered = json.dumps(first)
    assert ("ask_for_help" in offered) == (level == "copilot")


@pytest.mark.parametrize("level", ["copilot", "agent", "worker"])
def test_command_agents_at_every_level(level: str, tmp_path: Path) -> None:
    family = JobFamily("helpdesk", ["helpdesk"]) if level == "worker" else load_family("helpdesk")
    plan = [c.model_dump(exclude={"id", "subgoal"}) for c in family.solution(family.generate(1, "dev"))
            if c.name != "submit"]
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    program = shlex.join(["python3", str(REPO / "scripts/example_command_agent.py"), str(tmp_path / "plan.json")])
    config = RunConfig(agents=[f"example=command:{program}"], families=["helpdesk"], seeds=[1], levels=[level],
                       faults={"rate": 0.2, "kinds": ["error"]})
    store = run(config)
    (episode,) = store.episodes("r")
    assert episode.result is not None and episode.result.outcome == "success", episode.result


@pytest.mark.parametrize("level", ["copilot", "worker"])
def test_gymnasium_takes_the_level(level: str) -> None:
    env = gymnasium.make("arena/helpdesk-v0", level=level, faults=0.0)
    family = JobFamily("helpdesk", ["helpdesk"]) if level == "worker" else load_family("helpdesk")
    try:
        obs, info = env.reset(seed=2)
        view = json.loads(obs)
        names = {t["name"] for t in view["tools"]}
        assert ("ask_for_help" in names) == (level == "copilot")
        calls = family.solution(family.generate(2, "dev"))
        if calls[-1].name != "submit":
            calls.append(calls[-1].model_copy(update={"name": "submit", "arguments": {}}))
        terminated = False
        for call in calls:
            obs, reward, terminated, truncated, info = env.step(json.dumps({"name": call.name,
                                                                            "arguments": call.arguments}))
            if terminated or truncated:
                break
        assert terminated and info["outcome"] == "success" and reward == 1.0
    finally:
        env.close()
