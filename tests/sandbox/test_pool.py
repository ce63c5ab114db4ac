"""Warm sandboxes (`SandboxPool`), in both sandboxes: an episode gets a sandbox that is already up,
never one another episode used; leaving the pool, even by cancellation, removes everything."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from arena.errors import SandboxError
from arena.images import BASE_IMAGE
from arena.sandbox import SandboxConfig, open_sandbox, records
from arena.sandbox.docker import MANAGED_LABEL, connect
from arena.sandbox.pool import SandboxPool
from tests.sandbox.conftest import KINDS, need
from tests.sandbox.kit import live_children


def leftovers(run: str) -> int:
    mine = [r for r in records.all_records() if r.data.get("labels", {}).get("arena.run") == run]
    client = connect()
    try:
        containers = client.containers.list(all=True, filters={"label": [f"{MANAGED_LABEL}=1", f"arena.run={run}"]})
    finally:
        client.close()
    return len(mine) + len(containers)


async def warm(pool: SandboxPool, image: str, count: int) -> None:
    for _ in range(600):
        if pool.ready(image) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the pool did not warm {count} sandboxes")


@pytest.mark.parametrize("kind", KINDS)
async def test_pool_hands_out_fresh_warm_sandboxes(request: pytest.FixtureRequest, kind: str) -> None:
    need(request, kind)
    request.getfixturevalue("docker_images")
    run = f"pytest-pool-{uuid.uuid4().hex[:8]}"
    async with SandboxPool(SandboxConfig(kind=kind), size=2, labels={"arena.run": run}, images=[BASE_IMAGE]) as pool:
        await warm(pool, BASE_IMAGE, 2)
        first = await pool.open(image=BASE_IMAGE, labels={"arena.episode": "e1"})
        assert pool.ready(BASE_IMAGE) == 1  # it was already up
        await first.write_file("mine.txt", b"e1 was here")
        await first.exec("nohup sleep 600 >/dev/null 2>&1 &", timeout=10)
        second = await pool.open(image=BASE_IMAGE, labels={"arena.episode": "e2"})
        assert second is not first
        with pytest.raises(FileNotFoundError):
            await second.read_file("mine.txt")
        assert (await second.exec("pgrep -c sleep", timeout=10)).stdout.strip() == "0"
        assert first.record.data["labels"] == {"arena.run": run, "arena.episode": "e1"}  # type: ignore[attr-defined]
        await first.close()
        await second.close()
        await warm(pool, BASE_IMAGE, 2)  # refilled in the background
    assert leftovers(run) == 0


async def test_leaving_the_pool_by_cancellation_removes_everything(request: pytest.FixtureRequest) -> None:
    need(request, "bwrap")
    need(request, "docker")
    run = f"pytest-pool-{uuid.uuid4().hex[:8]}"
    opened = asyncio.Event()

    async def episode(kind: str) -> None:
        async with SandboxPool(SandboxConfig(kind=kind), size=3, labels={"arena.run": run}) as pool:
            sandbox = await pool.open(image=BASE_IMAGE, labels={})
            try:
                opened.set()
                await sandbox.exec("sleep 600", timeout=900)
            finally:
                await sandbox.close()

    tasks = [asyncio.ensure_future(episode(kind)) for kind in KINDS]
    await opened.wait()
    await asyncio.sleep(1.0)  # the fillers are starting more meanwhile
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert leftovers(run) == 0


async def test_a_start_failure_reaches_the_episode(request: pytest.FixtureRequest) -> None:
    need(request, "docker")
    run = f"pytest-pool-{uuid.uuid4().hex[:8]}"
    async with SandboxPool(SandboxConfig(kind="docker"), size=2, labels={"arena.run": run}) as pool:
        with pytest.raises(SandboxError, match="build_images"):
            await pool.open(image=f"arena-missing-{uuid.uuid4().hex[:6]}", labels={})
    assert leftovers(run) == 0
    with pytest.raises(SandboxError, match="not open"):
        await pool.open(image=BASE_IMAGE, labels={})


@pytest.mark.parametrize("kind", KINDS)
async def test_a_start_cancelled_at_any_point_leaves_nothing_running(request: pytest.FixtureRequest, kind: str) -> None:
    """A pool drained while it starts sandboxes cancels those starts: each must take its jail or
    container with it at once, wherever the cancellation lands."""
    need(request, kind)
    run = f"pytest-pool-{uuid.uuid4().hex[:8]}"
    config = SandboxConfig(kind=kind)
    await (await open_sandbox(config, image=BASE_IMAGE, labels={"arena.run": run})).close()
    before = live_children()  # what stays for the whole run (the sandboxes' watchdog)
    for delay in [i * 0.004 for i in range(25)] if kind == "bwrap" else [0.0, 0.05, 0.1, 0.2, 0.3, 0.5]:
        task = asyncio.ensure_future(open_sandbox(config, image=BASE_IMAGE, labels={"arena.run": run}))
        await asyncio.sleep(delay)
        task.cancel()
        done = (await asyncio.gather(task, return_exceptions=True))[0]
        if not isinstance(done, BaseException):  # it was up before the cancellation came
            await done.close()
        assert live_children() == before, f"cancelled after {delay:.3f} s"
    assert leftovers(run) == 0


async def test_a_pool_drained_at_any_moment_of_its_starts_comes_back_at_once(request: pytest.FixtureRequest) -> None:
    """Draining cancels the jails still starting. On Python 3.11 a process start cancelled while
    its pipes connect could wait for ever; the drain that caught it hung a run after its last
    episode (about one drain in thirty)."""
    need(request, "bwrap")
    run = f"pytest-pool-{uuid.uuid4().hex[:8]}"
    await (await open_sandbox(SandboxConfig(kind="bwrap"), image=BASE_IMAGE, labels={"arena.run": run})).close()
    before = live_children()  # what stays for the whole run (the sandboxes' watchdog)
    for i in range(60):
        pool = SandboxPool(SandboxConfig(kind="bwrap"), size=4, labels={"arena.run": run})
        await pool.__aenter__()
        await (await pool.open(image=BASE_IMAGE, labels={})).close()  # the filler now starts more
        await asyncio.sleep((i % 30) * 0.003)
        await asyncio.wait_for(pool.__aexit__(None, None, None), 30)
    assert live_children() == before
    assert leftovers(run) == 0
