"""Episodes ready together start one per turn of the event loop, and set up without collections."""

from __future__ import annotations

import asyncio
import gc
import itertools
import time
from pathlib import Path
from typing import Any

import pytest

import arena.runner as runner
from arena.runner import RunConfig, Runner, stored_config, validate_config
from arena.starts import StartLine, quiet_first_wave
from arena.store import Store
from arena.testing import ScriptedChatServer


@pytest.fixture
def collector() -> Any:
    """Whatever a test does to the collector is undone after it."""
    yield
    gc.unfreeze()
    gc.enable()


def test_starts_are_admitted_one_per_turn_oldest_first() -> None:
    order: list[str] = []

    async def start(name: str, line: StartLine) -> None:
        await line.turn()
        order.append(name)

    async def ticker(turns: int) -> None:
        for _ in range(turns):
            order.append("tick")
            await asyncio.sleep(0)

    async def main() -> None:
        line = StartLine()
        await asyncio.gather(ticker(12), *(start(f"s{i}", line) for i in range(5)))

    asyncio.run(main())
    starts = [i for i, name in enumerate(order) if name != "tick"]
    assert [order[i] for i in starts] == ["s0", "s1", "s2", "s3", "s4"]
    assert all(b - a >= 2 for a, b in itertools.pairwise(starts)), order  # a turn of the loop between any two


def test_a_start_cancelled_while_it_waits_is_skipped() -> None:
    async def main() -> list[int]:
        line = StartLine()
        admitted: list[int] = []

        async def start(i: int) -> None:
            await line.turn()
            admitted.append(i)

        tasks = [asyncio.create_task(start(i)) for i in range(4)]
        await asyncio.sleep(0)  # all four wait in the line
        tasks[1].cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return admitted

    assert asyncio.run(main()) == [0, 2, 3]


def test_the_first_wave_sets_up_without_collections_and_what_it_built_is_frozen_after(collector: Any) -> None:
    seen: list[tuple[str, bool]] = []

    async def episode(name: str, line: StartLine) -> None:
        await line.turn()
        seen.append((name, gc.isenabled()))  # its setup
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        seen.append((f"{name} later", gc.isenabled()))

    async def main() -> int:
        line = StartLine()
        with quiet_first_wave(line, 3):
            tasks = [asyncio.create_task(episode(f"e{i}", line)) for i in range(3)]
        await asyncio.gather(*tasks)
        return gc.get_freeze_count()

    frozen = asyncio.run(main())
    setups = [enabled for name, enabled in seen if "later" not in name]
    assert setups == [False, False, False], seen
    assert seen[-1] == ("e2 later", True), seen  # back on once the last of the wave has set up
    assert frozen > 0


def test_the_collector_is_back_after_the_first_wave_even_if_the_line_never_runs_empty(collector: Any) -> None:
    seen: list[bool] = []

    async def episode(line: StartLine) -> None:
        await line.turn()
        seen.append(gc.isenabled())

    async def main() -> None:
        line = StartLine()
        with quiet_first_wave(line, 2):
            tasks = [asyncio.create_task(episode(line)) for _ in range(6)]  # more than the wave
        await asyncio.gather(*tasks)

    asyncio.run(main())
    assert seen[:2] == [False, False] and all(seen[3:]), seen


def test_an_empty_wave_leaves_the_collector_on(collector: Any) -> None:
    async def main() -> bool:
        with quiet_first_wave(StartLine(), 0):
            pass
        return gc.isenabled()

    assert asyncio.run(main())


def test_a_failed_start_turns_the_collector_back_on_at_once(collector: Any) -> None:
    async def main() -> None:
        with quiet_first_wave(StartLine(), 3):
            raise RuntimeError("no episodes")

    with pytest.raises(RuntimeError):
        asyncio.run(main())
    assert gc.isenabled()


def test_the_first_requests_leave_while_later_episodes_still_set_up(tmp_path: Path, monkeypatch: Any) -> None:
    """Sixty episodes that start together: the endpoint gets the first one's request before the
    last one is even generated, instead of all sixty in one burst once every episode is set up."""
    generated: list[float] = []
    real = runner.generate

    def generate(*args: Any, **kwargs: Any) -> Any:
        generated.append(time.monotonic())
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "generate", generate)
    n = 60
    with ScriptedChatServer() as server:  # every reply: submit
        options = {"base_url": server.base_url, "max_concurrency": n, "max_retries": 0}
        config = RunConfig(agents=["m=openai:loopback"], families=["helpdesk"], seeds=list(range(n)), concurrency=n,
                           agent_options={"m": options})
        factories = validate_config(config)
        store = Store(tmp_path / "s.db")
        store.create_run("s", stored_config(config, factories), config.plan())
        asyncio.run(Runner(store, "s", config, factories=factories).run())
    assert len(generated) == n and len(server.requests) == n
    assert all(e.result is not None and e.result.outcome != "error" for e in store.episodes("s"))
    first_request = min(r.at for r in server.requests)
    later = sum(1 for t in generated if t > first_request)
    assert later >= n // 3, f"only {later} of {n} episodes were generated after the first request arrived"
