#!/usr/bin/env python3
"""Sandbox speed, as ratios against baselines measured in the same run.

- steps: the cost of one tool step, (T(K=21) - T(K=1)) / 20 for an episode whose scripted agent
  calls `bash true` K times, in each sandbox, against the physical floor: `subprocess.run(["true"])`
  on the host, and `true` sent to a shell kept open inside a jail / a container; Docker also
  against one SDK `exec_run` (how each Docker command ran before the command channel).
- start: a Docker episode's start from the warm pool (`SandboxPool.open`) against a cold
  create + start + remove of a container with the SDK, and against a cold `open_sandbox` + close.
- overhead: start+close, one command, and oracle episodes of `files` through the runner, per kind,
  against the unisolated process sandbox.

    .venv/bin/python scripts/bench_sandboxes.py [--sections steps,start,overhead] [--kinds process,bwrap,docker]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from arena.agents.scripted import ScriptedAgent
from arena.episode import run_episode
from arena.protocols import Sandbox, State
from arena.runner import RunConfig, Runner, stored_config, validate_config
from arena.sandbox import SandboxConfig, open_sandbox
from arena.sandbox.pool import SandboxPool
from arena.store import Store
from arena.tools import SHELL_TOOLS
from arena.types import Action, CheckResult, Limits, Task

IMAGE = "arena-base"
console = Console()


def config(kind: str) -> SandboxConfig:
    return SandboxConfig(kind=kind, unsafe_local=True)  # type: ignore[arg-type]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


# ------------------------------------------------------------------------------------------ steps


class Shell:
    """A family whose task is nothing: the episode is only its tool steps."""

    name = "bench"
    version = "1"
    description = "tool steps, timed"
    templates = ["steps"]
    image = IMAGE

    def generate(self, seed: int, split: str) -> Task:
        return Task(family=self.name, version=self.version, seed=seed, split=split, template="steps",  # type: ignore[arg-type]
                    instructions=["Run true."], human_minutes=0.1)  # fmt: skip

    def tools(self, task: Task) -> list:
        return SHELL_TOOLS

    async def setup(self, task: Task, sandbox: Sandbox) -> State:
        return State()

    async def check(self, task: Task, sandbox: object, state: State) -> CheckResult:
        return CheckResult()

    def solution(self, task: Task) -> list:
        return []


async def episode_seconds(kind: str, calls: int) -> float:
    """One episode of `calls` tool steps in a fresh sandbox (an episode's final grading stops
    its agent's processes for good), timed from its first step to its grade."""
    family = Shell()
    task = family.generate(0, "dev")
    agent = ScriptedAgent([Action.call("bash", command="true") for _ in range(calls)])
    box = await open_sandbox(config(kind), image=IMAGE, labels={"arena.run": "bench"})
    try:
        started = time.perf_counter()
        result = await run_episode(family, task, agent, box, limits=Limits(max_steps=calls + 5, tool_timeout=30))
        elapsed = time.perf_counter() - started
    finally:
        await box.close()
    assert result.outcome != "error" and result.tool_errors == 0 and result.tool_calls >= calls, result
    return elapsed


async def per_step(kind: str, reps: int) -> float:
    await episode_seconds(kind, 3)  # warm up
    samples = []
    for _ in range(reps):
        short, long = await episode_seconds(kind, 1), await episode_seconds(kind, 21)
        samples.append((long - short) / 20)
    return statistics.median(samples)


def host_true(n: int) -> float:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        subprocess.run(["true"], check=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def kept_shell(argv: list[str], n: int) -> float:
    """`true` sent to a shell kept open (a bwrap jail's, a container's), per round trip."""
    shell = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    assert shell.stdin is not None and shell.stdout is not None
    try:
        samples = []
        for i in range(n + 10):
            started = time.perf_counter()
            shell.stdin.write(f"/bin/true; echo done{i}\n".encode())
            await shell.stdin.drain()
            line = await shell.stdout.readline()
            assert line == f"done{i}\n".encode(), line
            if i >= 10:
                samples.append(time.perf_counter() - started)
        return statistics.median(samples)
    finally:
        shell.stdin.close()
        with contextlib.suppress(ProcessLookupError):
            shell.kill()
        await shell.wait()


BWRAP_SHELL = ["bwrap", "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
               "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--dev", "/dev", "--unshare-all",
               "--die-with-parent", "sh"]  # fmt: skip


async def docker_floors(n: int) -> tuple[float, float]:
    """`true` down `docker exec -i CID sh`, and one SDK exec_run, against a running container."""
    from arena.sandbox.docker import connect

    client = connect()
    container = client.containers.run(IMAGE, ["sleep", "infinity"], detach=True, network_mode="none",
                                      labels={"arena.managed": "1", "arena.run": "bench"})  # fmt: skip
    try:
        shell = await kept_shell(["docker", "exec", "-i", container.id, "sh"], n)
        samples = []
        for _ in range(max(10, n // 10)):
            started = time.perf_counter()
            assert container.exec_run(["true"]).exit_code == 0
            samples.append(time.perf_counter() - started)
        return shell, statistics.median(samples)
    finally:
        container.remove(force=True)
        client.close()


async def steps_section(kinds: list[str], reps: int, n: int) -> None:
    floor = host_true(n)
    table = Table(title="Per tool step: (T(K=21) - T(K=1)) / 20, bash true", title_justify="left")
    for col in ("sandbox", "step", "floor (same run)", "floor", "step - floor", "step / floor"):
        table.add_column(col, justify="right")
    for kind in kinds:
        step = await per_step(kind, reps)
        if kind == "process":
            floors = [("subprocess.run(['true'])", floor)]
        elif kind == "bwrap":
            jailed = await kept_shell(BWRAP_SHELL, n)
            floors = [("subprocess.run(['true'])", floor), ("true to a shell kept in a jail", jailed)]
        else:
            shell, exec_run = await docker_floors(n)
            floors = [("true to `docker exec -i CID sh`", shell), ("one SDK exec_run (the old way)", exec_run)]
        for i, (name, value) in enumerate(floors):
            table.add_row(kind if i == 0 else "", ms(step) if i == 0 else "", name, ms(value), ms(step - value),
                          f"{step / value:.2f}x")  # fmt: skip
    console.print(table)


# ------------------------------------------------------------------------------------------ start


def cold_sdk(n: int) -> float:
    from arena.sandbox.docker import connect

    client = connect()
    samples = []
    try:
        for _ in range(n):
            started = time.perf_counter()
            container = client.containers.create(IMAGE, ["sleep", "infinity"], network_mode="none",
                                                 labels={"arena.managed": "1", "arena.run": "bench"})  # fmt: skip
            container.start()
            container.remove(force=True)
            samples.append(time.perf_counter() - started)
    finally:
        client.close()
    return statistics.median(samples)


async def timed(n: int, work: Callable[[], Awaitable[object]]) -> float:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        await work()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def warm_open(kind: str, n: int) -> float:
    samples = []
    async with SandboxPool(config(kind), size=n, labels={"arena.run": "bench"}, images=[IMAGE]) as pool:
        for _ in range(3):
            while pool.ready(IMAGE) < n:
                await asyncio.sleep(0.05)
            opened = []
            for _ in range(n):
                started = time.perf_counter()
                opened.append(await pool.open(image=IMAGE, labels={"arena.episode": "bench"}))
                samples.append(time.perf_counter() - started)
            for box in opened:
                await box.close()
    return statistics.median(samples)


async def start_section(kinds: list[str], n: int) -> None:
    table = Table(title="Episode start (a sandbox ready for its first command)", title_justify="left")
    for col in ("sandbox", "warm pool open", "baseline (same run)", "baseline", "baseline / warm"):
        table.add_column(col, justify="right")
    for kind in [k for k in kinds if k != "process"]:
        warm = await warm_open(kind, n)

        async def cold(kind: str = kind) -> None:
            box = await open_sandbox(config(kind), image=IMAGE, labels={"arena.run": "bench"})
            await box.close()

        baselines = [("cold open_sandbox + close", await timed(n, cold))]
        if kind == "docker":
            baselines.insert(0, ("SDK create + start + remove", cold_sdk(n)))
        for i, (name, value) in enumerate(baselines):
            table.add_row(kind if i == 0 else "", ms(warm) if i == 0 else "", name, ms(value), f"{value / warm:.0f}x")
    console.print(table)


# --------------------------------------------------------------------------------------- overhead


async def start_close(kind: str, n: int) -> float:
    async def once() -> None:
        box = await open_sandbox(config(kind), image=IMAGE, labels={})
        await box.close()

    return await timed(n, once)


async def one_command(kind: str, n: int) -> float:
    box = await open_sandbox(config(kind), image=IMAGE, labels={})
    try:
        return await timed(n, lambda: box.exec(["true"], timeout=30))
    finally:
        await box.close()


def episodes(kind: str, n: int) -> float:
    run = RunConfig(agents=["oracle"], families=["files"], seeds=list(range(n)),
                    sandbox={"kind": kind, "unsafe_local": True}, concurrency=2)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        factories = validate_config(run)
        store.create_run("bench", stored_config(run, factories), run.plan())
        started = time.perf_counter()
        asyncio.run(Runner(store, "bench", run, factories=factories).run())
        elapsed = time.perf_counter() - started
        assert all(e.result and e.result.outcome == "success" for e in store.episodes("bench"))
    return elapsed / n


def overhead_section(kinds: list[str], commands: int, starts: int, n_episodes: int) -> None:
    rows = {}
    for kind in kinds:
        rows[kind] = (
            asyncio.run(start_close(kind, starts)),
            asyncio.run(one_command(kind, commands)),
            episodes(kind, n_episodes),
        )
    base = rows[kinds[0]]
    table = Table(title=f"Sandbox overhead (baseline: {kinds[0]})", title_justify="left")
    for col in ("sandbox", "start+close", "ratio", "one command", "ratio", "episode (files, oracle)", "ratio"):
        table.add_column(col, justify="right")
    for kind, values in rows.items():
        cells = []
        for value, ref in zip(values, base, strict=True):
            cells += [f"{value * 1000:.1f} ms", f"{value / ref:.1f}x"]
        table.add_row(kind, *cells)
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sections", default="steps,start,overhead", help="which measurements, comma-separated")
    parser.add_argument("--kinds", default="process,bwrap,docker", help="kinds; the first is the overhead baseline")
    parser.add_argument("--reps", type=int, default=7, help="T(21) - T(1) pairs per kind (the median is shown)")
    parser.add_argument("--floor", type=int, default=300, help="round trips timed for each floor")
    parser.add_argument("--starts", type=int, default=8, help="sandbox starts timed per kind")
    parser.add_argument("--commands", type=int, default=50, help="commands timed per kind (overhead)")
    parser.add_argument("--episodes", type=int, default=40, help="oracle episodes of `files` per kind (overhead)")
    args = parser.parse_args()
    kinds = args.kinds.split(",")
    sections = args.sections.split(",")
    if "steps" in sections:
        asyncio.run(steps_section(kinds, args.reps, args.floor))
    if "start" in sections:
        asyncio.run(start_section(kinds, args.starts))
    if "overhead" in sections:
        overhead_section(kinds, args.commands, args.starts, args.episodes)


if __name__ == "__main__":
    main()
