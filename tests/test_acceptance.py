"""The spine's acceptance: the oracle solves every task of every family (seeds 0-99, both splits) in
real sandboxes through the real runner and store; the random agent stays under 10% success and
near zero score (score is progress: doing nothing, or nothing useful, earns none)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from arena.metrics import aggregate
from arena.runner import RunConfig, Runner, stored_config, validate_config
from arena.store import Store

RANDOM_SCORE = 0.05  # the floor's mean score: random calls make next to no progress


def run(config: RunConfig, db: Path) -> Store:
    store = Store(db)
    factories = validate_config(config)
    store.create_run("acceptance", stored_config(config, factories), config.plan())
    asyncio.run(Runner(store, "acceptance", config, factories=factories).run())
    return store


@pytest.mark.parametrize("kind", ["bwrap", "docker"])
def test_files_oracle_solves_all_random_is_the_floor(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("need_bwrap" if kind == "bwrap" else "need_docker")
    if kind == "docker":
        request.getfixturevalue("docker_images")
    # The floor does not depend on the sandbox; measuring it once keeps the Docker half short.
    agents = ["oracle", "random"] if kind == "bwrap" else ["oracle"]
    config = RunConfig(
        agents=agents, families=["files"], seeds=list(range(100)), splits=["dev", "test"],
        sandbox={"kind": kind}, concurrency=4,
    )
    store = run(config, tmp_path / "acceptance.db")
    eps = store.episodes("acceptance")
    assert len(eps) == 200 * len(agents) and all(e.status == "done" for e in eps)
    failures = [(e.key.id, e.result.error or e.result.checks) for e in eps
                if e.key.agent == "oracle" and e.result and e.result.outcome != "success"]
    assert not failures, failures[:5]
    by_agent = {a.agent: a for a in aggregate(eps)}
    assert by_agent["oracle"].successes == 200
    if kind == "docker":
        return
    assert by_agent["oracle"].mean_score == 1.0
    random_agent = by_agent["random"]
    assert random_agent.errors == 0
    assert random_agent.success_rate is not None and random_agent.success_rate < 0.10
    assert random_agent.mean_score is not None and random_agent.mean_score < RANDOM_SCORE


@pytest.mark.parametrize("family", ["repair", "data", "helpdesk", "web"])
def test_every_family_oracle_solves_all_random_is_the_floor(family: str, tmp_path: Path, need_bwrap: None) -> None:
    """Seeds 0-99 of both splits, in the sandbox each family needs (bwrap; none for state-only families)."""
    config = RunConfig(
        agents=["oracle", "random"], families=[family], seeds=list(range(100)), splits=["dev", "test"],
        sandbox={"kind": "bwrap"}, concurrency=4,
    )
    store = run(config, tmp_path / "families.db")
    eps = store.episodes("acceptance")
    failures = [(e.key.id, e.result.error or e.result.checks) for e in eps
                if e.key.agent == "oracle" and e.result and e.result.outcome != "success"]
    assert not failures, failures[:5]
    by_agent = {a.agent: a for a in aggregate(eps)}
    assert by_agent["oracle"].successes == 200 and by_agent["oracle"].mean_score == 1.0
    assert by_agent["random"].errors == 0
    assert by_agent["random"].success_rate is not None and by_agent["random"].success_rate < 0.10
    assert by_agent["random"].mean_score is not None and by_agent["random"].mean_score < RANDOM_SCORE


@pytest.mark.parametrize("family", ["repair", "data"])
def test_sandbox_families_run_in_their_docker_images(family: str, tmp_path: Path, docker_images: None) -> None:
    config = RunConfig(agents=["oracle"], families=[family], seeds=list(range(10)), splits=["dev", "test"],
                       sandbox={"kind": "docker"}, concurrency=4)
    eps = run(config, tmp_path / "docker.db").episodes("acceptance")
    assert [e.result.outcome for e in eps if e.result] == ["success"] * 20, [e.result for e in eps]
