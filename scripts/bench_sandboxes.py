#!/usr/bin/env python3
"""Sandbox overhead, as ratios against the unisolated process sandbox measured in the same run.

For each sandbox kind: time to start and close a sandbox, time of one small command, and the wall
time of oracle episodes of the `files` family through the real runner. Prints a table; the
process sandbox is the baseline (1.0x).

    .venv/bin/python scripts/bench_sandboxes.py [--kinds process,bwrap,docker] [--commands 50] [--episodes 40]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from arena.runner import RunConfig, Runner, stored_config, validate_config
from arena.sandbox import SandboxConfig, open_sandbox
from arena.store import Store


async def start_close(kind: str, n: int) -> float:
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        box = await open_sandbox(SandboxConfig(kind=kind, unsafe_local=True), image="arena-base", labels={})
        await box.close()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


async def one_command(kind: str, n: int) -> float:
    box = await open_sandbox(SandboxConfig(kind=kind, unsafe_local=True), image="arena-base", labels={})
    try:
        samples = []
        for _ in range(n):
            t = time.perf_counter()
            result = await box.exec(["true"], timeout=30)
            assert result.exit_code == 0
            samples.append(time.perf_counter() - t)
        return statistics.median(samples)
    finally:
        await box.close()


def episodes(kind: str, n: int) -> float:
    config = RunConfig(agents=["oracle"], families=["files"], seeds=list(range(n)),
                       sandbox={"kind": kind, "unsafe_local": True}, concurrency=2)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        factories = validate_config(config)
        store.create_run("bench", stored_config(config, factories), config.plan())
        t = time.perf_counter()
        asyncio.run(Runner(store, "bench", config, factories=factories).run())
        elapsed = time.perf_counter() - t
        assert all(e.result and e.result.outcome == "success" for e in store.episodes("bench"))
    return elapsed / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kinds", default="process,bwrap,docker", help="sandbox kinds; the first is the baseline")
    parser.add_argument("--commands", type=int, default=50, help="commands timed per kind")
    parser.add_argument("--starts", type=int, default=10, help="sandbox starts timed per kind")
    parser.add_argument("--episodes", type=int, default=40, help="oracle episodes of `files` per kind")
    args = parser.parse_args()
    kinds = args.kinds.split(",")
    rows = {}
    for kind in kinds:
        rows[kind] = (
            asyncio.run(start_close(kind, args.starts)),
            asyncio.run(one_command(kind, args.commands)),
            episodes(kind, args.episodes),
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
    Console().print(table)


if __name__ == "__main__":
    main()
