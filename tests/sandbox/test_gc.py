"""Nothing of a sandbox survives its arena process: interrupted (Ctrl-C), terminated or killed
outright, its processes, containers, loop mounts, cgroups and directories go, by its own cleanup,
its watchdog, or the next `arena.sandbox.gc.collect()`; a live process's sandboxes never do."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from arena.sandbox import SandboxConfig, cgroups, records
from arena.sandbox.bwrap import BwrapSandbox
from arena.sandbox.docker import MANAGED_LABEL, connect
from arena.sandbox.gc import collect
from tests.sandbox.kit import host_pids

ARENA_PROCESS = """
import asyncio, sys
from arena.sandbox import SandboxConfig, open_sandbox
from arena.sandbox.pool import SandboxPool

async def main(kinds, run, mark):
    async with SandboxPool(SandboxConfig(kind=kinds[0]), size=1, labels={"arena.run": run}) as pool:
        boxes = [await pool.open(image="arena-base", labels={"arena.episode": "e1"})]
        for kind in kinds[1:]:
            boxes.append(await open_sandbox(SandboxConfig(kind=kind), image="arena-base", labels={"arena.run": run}))
        try:
            for box in boxes:
                await box.exec(f"nohup sleep {mark} >/dev/null 2>&1 &", timeout=30)
            print("ready", flush=True)
            await asyncio.sleep(3600)
        finally:
            for box in boxes:
                await box.close()

asyncio.run(main(sys.argv[1].split(","), sys.argv[2], sys.argv[3]))
"""


def kinds(request: pytest.FixtureRequest) -> list[str]:
    request.getfixturevalue("need_bwrap")
    request.getfixturevalue("docker_images")
    return ["bwrap", "docker"]


def start_arena(kinds: list[str], run: str, mark: str, *, watchdog: bool) -> subprocess.Popen[str]:
    env = {**os.environ, "ARENA_SANDBOX_WATCHDOG": "1" if watchdog else "0"}
    process = subprocess.Popen(
        [sys.executable, "-c", ARENA_PROCESS, ",".join(kinds), run, mark],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if line.strip() != "ready":
        process.kill()
        raise AssertionError(f"the arena process did not start its sandboxes: {line} {process.stderr.read()}")
    return process


def leftovers(run: str, mark: str) -> dict[str, int]:
    mine = [r for r in records.all_records() if r.data.get("labels", {}).get("arena.run") == run]
    names = {r.name for r in mine}
    client = connect()
    try:
        containers = client.containers.list(all=True, filters={"label": [f"{MANAGED_LABEL}=1", f"arena.run={run}"]})
    finally:
        client.close()
    mounts = Path("/proc/self/mountinfo").read_text()
    return {
        "records": len(mine),
        "containers": len(containers),
        "cgroups": sum(1 for n in cgroups.existing_names() if n.split(".")[0] in names),
        "mounts": sum(1 for name in names if name in mounts),
        "processes": len(host_pids(f"sleep {mark}")),
    }


async def nothing_left(run: str, mark: str, seconds: float = 30.0) -> dict[str, int]:
    for _ in range(int(seconds / 0.25)):
        found = leftovers(run, mark)
        if not any(found.values()):
            return found
        await asyncio.sleep(0.25)
    return leftovers(run, mark)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
async def test_watchdog_cleans_up_after_a_killed_arena(request: pytest.FixtureRequest, sig: int) -> None:
    run, mark = f"pytest-gc-{uuid.uuid4().hex[:8]}", f"{3000 + uuid.uuid4().int % 1000}.7"
    process = start_arena(kinds(request), run, mark, watchdog=True)
    assert leftovers(run, mark)["processes"] >= 2
    process.send_signal(sig)
    process.wait(timeout=30)
    assert not any((await nothing_left(run, mark)).values())


async def test_ctrl_c_cleans_up_without_help(request: pytest.FixtureRequest) -> None:
    run, mark = f"pytest-gc-{uuid.uuid4().hex[:8]}", f"{3000 + uuid.uuid4().int % 1000}.8"
    process = start_arena(kinds(request), run, mark, watchdog=False)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert "KeyboardInterrupt" in stderr
    assert not any((await nothing_left(run, mark, seconds=5)).values())


async def test_collect_removes_what_a_killed_arena_left(request: pytest.FixtureRequest) -> None:
    run, mark = f"pytest-gc-{uuid.uuid4().hex[:8]}", f"{3000 + uuid.uuid4().int % 1000}.9"
    live = await BwrapSandbox.start(SandboxConfig(), image="", labels={"arena.run": run})  # ours, alive
    try:
        process = start_arena(kinds(request), run, mark, watchdog=False)
        process.kill()
        process.wait(timeout=30)
        await asyncio.sleep(0.5)
        before = leftovers(run, mark)  # ours, and two or three (a warm one may have been refilled)
        assert before["records"] >= 3 and before["containers"] == 1 and before["mounts"] == before["records"]
        counts = collect(run)
        assert counts["containers"] == 1
        assert counts["mounts"] == counts["directories"] == before["records"] - 1
        assert counts["cgroups"] >= 2 and collect(run) == dict.fromkeys(counts, 0)
        after = leftovers(run, mark)
        assert (after["records"], after["containers"], after["mounts"], after["processes"]) == (1, 0, 1, 0)
        assert (await live.exec("echo still mine", timeout=10)).stdout == "still mine\n"
    finally:
        await live.close()


def test_the_state_root_lists_nothing_to_a_jail_even_when_made_by_someone_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A jail's own host uid must reach its sandbox's directory, and not list the others'.
    root = tmp_path / "made-before"
    root.mkdir(mode=0o755)
    monkeypatch.setenv("ARENA_SANDBOX_WATCHDOG", "0")
    monkeypatch.setenv("ARENA_SANDBOX_DIR", str(root))
    record = records.new_record("test", {})
    try:
        assert root.stat().st_mode & 0o777 == 0o711 and record.directory.stat().st_mode & 0o777 == 0o711
    finally:
        records.remove_tree(record.directory)
