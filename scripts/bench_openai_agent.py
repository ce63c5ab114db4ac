"""Arena CPU per model-bound episode: `openai:` agents against a loopback chat-completions server
that answers every request after a fixed delay (a model that is slow but never busy).

The server runs in a child process, so the CPU measured here (user + system of this process) is
the arena's own: the runner, the store, the agent and its HTTP client. Each episode makes CALLS
model calls on a sandbox-free family. Printed against a baseline measured in the same run: the
same number of requests sent by bare httpx clients at the same concurrency (the endpoint alone;
16 connections per client, as the agent's own, since one big httpx pool costs CPU per request
in proportion to its size).

    .venv/bin/python scripts/bench_openai_agent.py [--episodes 256] [--concurrency 256] [--delay 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

CALLS = 5  # model calls per episode: four tool calls, then submit
FAMILY = "helpdesk"  # no sandbox: the episode is the arena and the model only


def serve(delay: float, ready: Any, stop: Any) -> None:
    import socketserver

    from arena.testing import Fault, ReplayPolicy, ScriptedChatServer
    from arena.types import ToolCall

    socketserver.TCPServer.request_queue_size = 1024  # the listen backlog: hundreds connect at once

    policy = ReplayPolicy([ToolCall(name="read_policy", arguments={})] * (CALLS - 1))
    # A "slow" fault on every request: a fixed delay, in a form every version of the server has.
    with ScriptedChatServer(policy, faults=[Fault("slow", delay=delay, times=10**9)], strict=False) as server:
        ready.put(server.base_url)
        stop.wait()


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def endpoint_alone(base_url: str, requests: int, concurrency: int) -> tuple[float, float]:
    body = {"model": "m", "messages": [{"role": "user", "content": "go"}], "tools": [{"type": "function"}]}
    per = min(concurrency, 16)
    clients = [httpx.AsyncClient(limits=httpx.Limits(max_connections=per)) for _ in range(-(-concurrency // per))]

    async def worker(client: httpx.AsyncClient, count: int) -> None:
        for _ in range(count):
            (await client.post(f"{base_url}/chat/completions", json=body, timeout=60)).raise_for_status()

    t0, c0 = time.perf_counter(), cpu()
    share, extra = divmod(requests, concurrency)
    await asyncio.gather(*(worker(clients[i // per], share + (i < extra)) for i in range(concurrency)))
    seconds, used = time.perf_counter() - t0, cpu() - c0
    for client in clients:
        await client.aclose()
    return seconds, used


async def arena_run(base_url: str, episodes: int, concurrency: int, db: Path) -> tuple[float, float, dict[str, int]]:
    from arena.runner import RunConfig, Runner, new_run_id, stored_config, validate_config
    from arena.store import Store

    spec = "openai:bench-model"
    config = RunConfig(
        agents=[spec], families=[FAMILY], seeds=list(range(episodes)), concurrency=min(concurrency, 256),
        agent_options={spec: {"base_url": base_url, "max_concurrency": concurrency, "timeout": 60.0}},
    )
    factories = validate_config(config)
    store = Store(db)
    run_id = new_run_id()
    store.create_run(run_id, stored_config(config, factories), config.plan())
    t0, c0 = time.perf_counter(), cpu()
    await Runner(store, run_id, config, factories=factories).run()
    seconds, used = time.perf_counter() - t0, cpu() - c0
    outcomes: dict[str, int] = {}
    for e in store.episodes(run_id):
        key = e.result.termination if e.result else "unfinished"
        outcomes[key] = outcomes.get(key, 0) + 1
    return seconds, used, outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=256)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--delay", type=float, default=0.2)
    args = parser.parse_args()
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=serve, args=(args.delay, ready, stop), daemon=True)
    server.start()
    try:
        base_url = ready.get(timeout=60)
        ideal = args.episodes * CALLS * args.delay / min(args.concurrency, args.episodes)  # seconds, if CPU were free
        alone_s, alone_cpu = asyncio.run(endpoint_alone(base_url, args.episodes * CALLS, args.concurrency))
        with tempfile.TemporaryDirectory() as tmp:
            run_s, run_cpu, outcomes = asyncio.run(arena_run(base_url, args.episodes, args.concurrency,
                                                             Path(tmp) / "bench.db"))
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{args.episodes} episodes x {CALLS} calls, concurrency {args.concurrency}, reply delay {args.delay}s; "
              f"ideal {ideal:.2f}s")
        print(f"  endpoint alone (bare httpx): {alone_s:.2f}s = {ideal / alone_s:.2f} of ideal, "
              f"{1000 * alone_cpu / args.episodes:.1f} ms CPU per {CALLS} requests")
        print(f"  arena run:                   {run_s:.2f}s = {ideal / run_s:.2f} of ideal, "
              f"{1000 * run_cpu / args.episodes:.1f} ms CPU per episode "
              f"({run_cpu / max(alone_cpu, 1e-9):.1f}x the endpoint alone), peak RSS {peak_mb:.0f} MB; {outcomes}")
    finally:
        stop.set()
        server.join(timeout=10)


if __name__ == "__main__":
    main()
