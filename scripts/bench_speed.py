#!/usr/bin/env python3
"""Episode throughput of the arena, each figure against a baseline measured in the same run.

(a) Scripted one-tool episodes per second (one `bash true`, then submit; graded; stored) at
    concurrency 1 and 4: ours in bubblewrap against inspect_ai's `local` sandbox (no isolation)
    doing the same work, its `mockllm` model scripted to make the same call
    (`pip install '.[bench]'`). Medians over interleaved repetitions.
(b) Many model-bound episodes at once: 256 and 1024 concurrent `helpdesk` episodes (no sandbox)
    of the real `openai:` agent against a loopback chat-completions endpoint that answers every
    request after a fixed delay (scripts/loopback_chat.py, another process): achieved over ideal
    throughput (ideal: every episode's calls back to back, nothing else taking any time), the
    arena's CPU seconds per episode, and its peak memory. The same endpoint driven by a bare
    client on the agent's HTTP stack (aiohttp), with transcripts of the same size, is the floor.
    Medians over interleaved repetitions, with the range of the ratio: on a shared machine one
    run at 1024 can differ from the next by a second.

Every measurement runs in a fresh child process of its own, so imports, caches and peak memory do
not leak from one into the next; only the run itself is timed.

    .venv/bin/python scripts/bench_speed.py [--quick] [--only one-tool|model] [--delay 5] [--sizes 256,1024]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CALLS = 4  # tool calls per model-bound episode before its submit: CALLS + 1 model requests


# ---------------------------------------------------------------- (a) the one-tool work


class OneToolFamily:
    """One task per seed: run `true` with bash, then submit "done"; graded on the answer."""

    name = "onetool"
    version = "1"
    description = "Run true, then submit done."
    templates = ["one"]
    image = "arena-base"

    def generate(self, seed: int, split: str) -> Any:
        from arena.types import Task

        return Task(family=self.name, version=self.version, seed=seed, split=split, template="one",  # type: ignore[arg-type]
                    instructions=["Run `true` with bash, then submit the answer: done"], human_minutes=0.1)

    def tools(self, task: Any) -> list[Any]:
        from arena.tools import SHELL_TOOLS

        return SHELL_TOOLS

    async def setup(self, task: Any, sandbox: Any) -> Any:
        from arena.protocols import State

        return State()

    async def check(self, task: Any, sandbox: Any, state: Any) -> Any:
        from arena.types import Check, CheckResult

        return CheckResult(checks=[Check(name="answer", passed=getattr(state, "answer", None) == "done")])

    def solution(self, task: Any) -> list[Any]:
        from arena.types import ToolCall

        return [ToolCall(name="bash", arguments={"command": "true"}),
                ToolCall(name="submit", arguments={"answer": "done"})]


WARM_UP = 4  # untimed episodes first, on both sides, so first-use costs are not counted


def ours_one_tool(n: int, concurrency: int, sandbox: str) -> dict[str, Any]:
    """The oracle (a built-in scripted agent) plays `OneToolFamily` through the real runner and store."""
    from arena.runner import RunConfig, Runner, stored_config, validate_config
    from arena.store import Store

    def run(count: int, run_id: str, store: Store) -> float:
        config = RunConfig(agents=["oracle"], families=["bench_speed:OneToolFamily"], seeds=list(range(count)),
                           sandbox={"kind": sandbox, "unsafe_local": True}, concurrency=concurrency)
        factories = validate_config(config)
        store.create_run(run_id, stored_config(config, factories), config.plan())
        t = time.perf_counter()
        asyncio.run(Runner(store, run_id, config, factories=factories).run())
        seconds = time.perf_counter() - t
        outcomes = [e.result.outcome for e in store.episodes(run_id) if e.result]
        assert outcomes.count("success") == count, f"not every episode succeeded: {outcomes}"
        return seconds

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        run(WARM_UP, "warm-up", store)
        return {"seconds": run(n, "bench", store)}


def inspect_one_tool(n: int, concurrency: int) -> dict[str, Any]:
    """The same work in inspect_ai: `mockllm` calls bash("true") once, then answers done."""
    from inspect_ai import Task, eval
    from inspect_ai.dataset import Sample
    from inspect_ai.model import ModelOutput, ModelUsage, get_model
    from inspect_ai.scorer import includes
    from inspect_ai.solver import generate, use_tools
    from inspect_ai.tool import bash

    def script(messages: list[Any], tools: Any, tool_choice: Any, config: Any) -> ModelOutput:
        if any(m.role == "tool" for m in messages):
            output = ModelOutput.from_content(model="mockllm/model", content="done")
        else:
            output = ModelOutput.for_tool_call(model="mockllm/model", tool_name="bash", tool_arguments={"cmd": "true"})
        # Usage given, as a scripted agent reports it: else mockllm counts tokens with a tiktoken
        # encoding it would download.
        output.usage = ModelUsage(input_tokens=10, output_tokens=5, total_tokens=15)
        return output

    def run(count: int, tmp: str) -> float:
        task = Task(
            dataset=[Sample(input="Run `true` with bash, then answer: done", target="done", id=i)
                     for i in range(count)],
            solver=[use_tools(bash(timeout=30)), generate()], scorer=includes(), sandbox="local",
        )
        model = get_model("mockllm/model", custom_outputs=script)
        t = time.perf_counter()
        # max_sandboxes is left at inspect's default: setting it makes inspect wait between samples.
        [log] = eval(task, model=model, max_samples=concurrency, log_dir=tmp, display="none", log_level="error")
        seconds = time.perf_counter() - t
        assert log.status == "success" and log.results is not None, log.error
        assert log.results.scores[0].metrics["accuracy"].value == 1.0, "not every sample was right"
        return seconds

    with tempfile.TemporaryDirectory() as tmp:
        run(WARM_UP, tmp)
        return {"seconds": run(n, tmp)}


# ---------------------------------------------------------------- (b) model-bound episodes


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def arena_model_bound(n: int, base_url: str) -> dict[str, Any]:
    """N concurrent `helpdesk` episodes of the real `openai:` agent, all at once."""
    from arena.runner import RunConfig, Runner, stored_config, validate_config
    from arena.store import Store

    options = {"base_url": base_url, "max_concurrency": n, "timeout": 600, "max_retries": 0}
    config = RunConfig(agents=["bench=openai:loopback"], families=["helpdesk"], seeds=list(range(n)),
                       concurrency=n, agent_options={"bench": options})
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        factories = validate_config(config)
        store.create_run("bench", stored_config(config, factories), config.plan())
        before = peak_mb()
        cpu, t = time.process_time(), time.perf_counter()
        asyncio.run(Runner(store, "bench", config, factories=factories).run())
        seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
        episodes = store.episodes("bench")
        steps = sum(len(s) for s in store.run_steps("bench").values())
    errors = [e.result.error for e in episodes if e.result and e.result.outcome == "error"]
    assert not errors, f"{len(errors)} episodes ended in error, e.g. {errors[0]}"
    assert steps == n * (CALLS + 1), f"expected {CALLS + 1} steps per episode, stored {steps / n:.2f}"
    return {"seconds": seconds, "cpu": cpu, "peak_mb": peak_mb(), "start_mb": before}


def floor_model_bound(n: int, base_url: str) -> dict[str, Any]:
    """The endpoint driven by a bare client on the agent's own HTTP stack (one aiohttp session with
    a connection per session): N sessions of CALLS + 1 requests each, with transcripts of about the
    agent's size (the helpdesk tools, a policy-sized output per call)."""
    import aiohttp

    from arena.environments.helpdesk import HelpdeskFamily

    family = HelpdeskFamily()
    task = family.generate(0, "dev")
    tools = [t.spec().openai() for t in family.tools(task)]
    output = "x" * 1800
    url = f"{base_url}/chat/completions"

    async def session(client: aiohttp.ClientSession) -> None:
        messages: list[dict[str, Any]] = [{"role": "system", "content": "s" * 1500},
                                          {"role": "user", "content": task.instruction(0)}]
        for _ in range(CALLS + 1):
            body = json.dumps({"model": "loopback", "messages": messages, "tools": tools}).encode()
            async with client.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
                reply = json.loads(await response.read())
            message = reply["choices"][0]["message"]
            messages.append(message)
            messages += [{"role": "tool", "tool_call_id": c["id"], "content": output} for c in message["tool_calls"]]

    async def main() -> None:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=n)) as client:
            await asyncio.gather(*(session(client) for _ in range(n)))

    before = peak_mb()
    cpu, t = time.process_time(), time.perf_counter()
    asyncio.run(main())
    return {"seconds": time.perf_counter() - t, "cpu": time.process_time() - cpu, "peak_mb": peak_mb(),
            "start_mb": before}


# ---------------------------------------------------------------- the parent


CHILDREN = {"ours": ours_one_tool, "inspect": inspect_one_tool, "arena": arena_model_bound,
            "floor": floor_model_bound}


def child(kind: str, *args: Any) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; its last stdout line is the JSON result."""
    command = [sys.executable, str(Path(__file__)), "--child", json.dumps([kind, *args])]
    done = subprocess.run(command, capture_output=True, text=True, cwd=HERE.parent, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"{kind} {args} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def inspect_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("inspect_ai") is not None


def one_tool_table(n: int, reps: int) -> list[list[str]]:
    rows = []
    with_inspect = inspect_available()
    for concurrency in (1, 4):
        ours: list[float] = []
        theirs: list[float] = []
        for _ in range(reps):  # interleaved, so a busy moment of the machine hits both alike
            ours.append(n / child("ours", n, concurrency, "bwrap")["seconds"])
            if with_inspect:
                theirs.append(n / child("inspect", n, concurrency)["seconds"])
        mine = statistics.median(ours)
        if theirs:
            base = statistics.median(theirs)
            rows.append([f"c={concurrency}", f"{mine:.1f}/s", f"{base:.1f}/s", f"{mine / base:.2f}x"])
        else:
            rows.append([f"c={concurrency}", f"{mine:.1f}/s", "not installed", "-"])
    return rows


def model_bound_table(sizes: list[int], delay: float, reps: int) -> list[list[str]]:
    server = subprocess.Popen(
        [sys.executable, str(HERE / "loopback_chat.py"), "--delay", str(delay), "--calls", str(CALLS)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert server.stdout is not None and server.stdin is not None
    base_url = f"http://127.0.0.1:{server.stdout.readline().strip()}/v1"
    ideal = (CALLS + 1) * delay
    clients = ("floor", "arena")  # the child measurement's kind is also the row's name
    rows = []
    try:
        for n in sizes:
            runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in clients}
            for _ in range(reps):  # interleaved, so a busy moment of the machine hits both alike
                for kind in clients:
                    runs[kind].append(child(kind, n, base_url))
            for kind in clients:
                ratios = sorted(ideal / r["seconds"] for r in runs[kind])
                spread = f"{ratios[0]:.2f}-{ratios[-1]:.2f}" if len(ratios) > 1 else "-"
                rows.append([
                    str(n), kind, f"{statistics.median(r['seconds'] for r in runs[kind]):.2f} s",
                    f"{statistics.median(ratios):.2f}", spread,
                    f"{statistics.median(r['cpu'] for r in runs[kind]) / n * 1000:.1f} ms",
                    f"{max(r['peak_mb'] for r in runs[kind]):.0f} MB",
                ])
    finally:
        server.stdin.close()
        server.wait(timeout=30)
    return rows


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in header:
        table.add_column(col, justify="right")
    for row in rows:
        table.add_row(*row)
    Console(width=80).print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer episodes and repetitions, 256 only")
    parser.add_argument("--episodes", type=int, help="one-tool episodes per measurement (default 200, quick 40)")
    parser.add_argument("--reps", type=int, help="interleaved repetitions of each figure (default 3, quick 1)")
    parser.add_argument("--sizes", help="concurrent model-bound episodes (default 256,1024; quick 256)")
    parser.add_argument("--delay", type=float, default=5.0, help="seconds the endpoint takes per reply (default 5)")
    parser.add_argument("--only", choices=["one-tool", "model"], help="run one part only")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = json.loads(args.child)
        print(json.dumps(CHILDREN[kind](*rest)))
        return
    n = args.episodes or (40 if args.quick else 200)
    reps = args.reps or (1 if args.quick else 3)
    sizes = [int(s) for s in (args.sizes or ("256" if args.quick else "256,1024")).split(",")]
    if args.only != "model":
        print_table(f"(a) one-tool episodes per second, {n} episodes, median of {reps} (goal: 3x inspect_ai)",
                    ["concurrency", "ours (bwrap)", "inspect_ai (local)", "ratio"], one_tool_table(n, reps))
    if args.only != "one-tool":
        print_table(
            f"(b) concurrent model-bound helpdesk episodes, {CALLS + 1} model calls each, {args.delay:g} s per "
            f"reply: ideal {(CALLS + 1) * args.delay:g} s (goal: 0.90 of ideal); medians of {reps}, with the "
            "range of `of ideal`; floor: a bare aiohttp client",
            ["episodes", "client", "wall", "of ideal", "range", "CPU/ep", "peak RSS"],
            model_bound_table(sizes, args.delay, reps),
        )


if __name__ == "__main__":
    os.environ.setdefault("INSPECT_DISPLAY", "none")
    main()
