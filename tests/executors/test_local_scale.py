"""The local executor with many episodes at once: every step of every episode is stored (steps
that land in the same turn of the loop share a transaction), and the open-files limit is raised,
or refused with the fix, for the concurrency asked."""

from __future__ import annotations

import asyncio
import resource
import subprocess
import sys
from pathlib import Path

from arena.runner import RunConfig, Runner, stored_config, validate_config
from arena.store import Store

REPO = Path(__file__).resolve().parents[2]


def test_hundreds_of_episodes_at_once_store_every_step(tmp_path: Path) -> None:
    config = RunConfig(agents=["oracle", "random"], families=["helpdesk"], seeds=list(range(128)), concurrency=256)
    store = Store(tmp_path / "many.db")
    factories = validate_config(config)
    store.create_run("r", stored_config(config, factories), config.plan())
    asyncio.run(Runner(store, "r", config, factories=factories).run())
    episodes = store.episodes("r")
    steps = store.run_steps("r")
    assert len(episodes) == 256 and all(e.status == "done" and e.result is not None for e in episodes)
    assert all(e.result.outcome == "success" for e in episodes if e.key.agent == "oracle")  # type: ignore[union-attr]
    for e in episodes:
        assert [s.index for s in steps.get(e.key.id, [])] == list(range(1, e.result.steps + 1))  # type: ignore[union-attr]


def limited(soft: int, hard: int, code: str) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return subprocess.run([sys.executable, "-c", code], cwd=REPO, text=True, capture_output=True, timeout=60,
                          preexec_fn=limit)


def test_the_open_files_limit_is_raised_for_the_concurrency() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    cap = 8192 if hard == resource.RLIM_INFINITY else min(hard, 8192)
    code = ("import resource; from arena.runner import allow_open_files; allow_open_files(1024); "
            "print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])")
    done = limited(256, cap, code)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == min(cap, 256 + 4 * 1024)


def test_too_few_open_files_for_the_concurrency_is_refused_with_the_fix() -> None:
    code = "from arena.runner import allow_open_files; allow_open_files(1024)"
    done = limited(128, 128, code)
    assert done.returncode != 0 and "ConfigError" in done.stderr and "ulimit -n" in done.stderr
