"""Acceptance of the levels, through the runner, in bubblewrap: the oracle reaches every level's
ceiling on every family (worker jobs: seeds 0-99 of both splits, with and without faults); random
stays at the floor."""

from __future__ import annotations

from arena.config import RunConfig
from arena.store import Store
from arena.testing import run_to_end

POOL = ["files", "data", "helpdesk", "web"]


def run(config: RunConfig) -> Store:
    return run_to_end(config, run_id="acceptance")


def failures(store: Store, agent: str = "oracle") -> list[tuple[str, str | None, list[str]]]:
    return [
        (e.key.id, e.result.error if e.result else "not run",
         [c.name for c in e.result.checks if not c.passed] if e.result else [])
        for e in store.episodes("acceptance")
        if e.key.agent == agent and (e.result is None or e.result.outcome != "success")
    ]


def test_the_oracle_solves_every_job_with_and_without_faults(need_bwrap: None) -> None:
    config = RunConfig(
        agents=["oracle"], families=POOL, seeds=list(range(100)), splits=["dev", "test"], levels=["worker"],
        faults={"rate": [0.0, 0.1], "latency": 0.2}, concurrency=8,
    )
    store = run(config)
    episodes = store.episodes("acceptance")
    assert len(episodes) == 4 * 100 * 2 * 2
    assert not failures(store)[:5]
    templates = {e.task_id.split("/")[0] for e in episodes if e.task_id}
    assert templates == {f"job:{f}@1" for f in POOL}


def test_repair_jobs_and_every_level_on_every_family(need_bwrap: None) -> None:
    config = RunConfig(
        agents=["oracle", "random"], families=[*POOL, "repair"], seeds=list(range(8)), splits=["dev", "test"],
        levels=["copilot", "agent", "worker"], faults={"latency": 0.2}, concurrency=8,
    )
    store = run(config)
    assert not failures(store)[:5]
    random_results = [e.result for e in store.episodes("acceptance") if e.key.agent == "random"]
    successes = sum(r is not None and r.outcome == "success" for r in random_results)
    assert successes <= 0.1 * len(random_results), f"random solved {successes} of {len(random_results)}"
    worker_scores = [r.score for e, r in ((e, e.result) for e in store.episodes("acceptance"))
                     if e.key.agent == "random" and e.key.level == "worker" and r is not None]
    assert sum(worker_scores) / len(worker_scores) < 0.1
