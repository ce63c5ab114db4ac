"""The `arena` command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console

from arena import __version__
from arena.errors import ArenaError, ConfigError

DEFAULT_DB = os.environ.get("ARENA_DB", "arena.db")
console = Console(stderr=True, soft_wrap=True)  # errors stay whole lines, easy to grep
# Reports piped to a file or CI log get room for every column instead of the 80-column default,
# unless COLUMNS says how wide to be.
out = Console() if sys.stdout.isatty() or os.environ.get("COLUMNS") else Console(width=160)


def parse_seeds(text: str) -> list[int]:
    """'0-19' or '1,4,9' or '0-4,10-14' -> sorted unique seeds."""
    seeds: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, dash, hi = part.partition("-")
        try:
            if dash:
                a, b = int(lo), int(hi)
                if b < a:
                    raise ValueError
                seeds.update(range(a, b + 1))
            else:
                seeds.add(int(part))
        except ValueError:
            raise ConfigError(f"bad seed range {part!r}: write seeds like 0-19, 3,7,9 or 0-4,10-14") from None
    if not seeds:
        raise ConfigError("no seeds given: write seeds like 0-19")
    return sorted(seeds)


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not true or false")


def seed_arg(text: str) -> int:
    """A task seed on the command line: a whole number, 0 or more."""
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a seed: give a whole number, 0 or more") from None
    if seed < 0:
        raise argparse.ArgumentTypeError(f"seeds are 0 or more, not {seed}")
    return seed


def _split_list(text: str | None) -> list[str] | None:
    return None if text is None else [x.strip() for x in text.split(",") if x.strip()]


def _agent_list(text: str | None) -> list[str] | None:
    """Agents are comma-separated, but a command:"..." spec may itself hold commas inside quotes."""
    if text is None:
        return None
    specs, buf, quote = [], "", ""
    for ch in text:
        if ch in "\"'" and (not quote or quote == ch):
            quote = "" if quote else ch
            continue
        if ch == "," and not quote:
            specs.append(buf.strip())
            buf = ""
        else:
            buf += ch
    specs.append(buf.strip())
    return [s for s in specs if s]


# ---------------------------------------------------------------- parser

MODEL_FLAGS: list[tuple[str, str, type, str]] = [
    ("--base-url", "base_url", str, "OpenAI-compatible endpoint for openai: agents (default: $OPENAI_BASE_URL)"),
    ("--api-key-env", "api_key_env", str, "name of the env variable holding the API key (default OPENAI_API_KEY)"),
    ("--mode", "mode", str, "openai: agents: 'tools' (native tool calling) or 'text' (JSON actions in text)"),
    ("--temperature", "temperature", float, "sampling temperature for openai: agents"),
    ("--top-p", "top_p", float, "nucleus sampling for openai: agents"),
    ("--max-output-tokens", "max_tokens", int, "max tokens per model reply"),
    ("--model-seed", "seed", int, "sampling seed sent to the endpoint"),
    ("--model-concurrency", "max_concurrency", int, "model calls in flight at once, per agent"),
    ("--request-timeout", "timeout", float, "seconds before a model request is retried"),
    ("--max-retries", "max_retries", int, "retries on 429/5xx/timeouts before the episode ends as error"),
    ("--context-budget", "context_budget", int,
     "tokens the prompt may hold: old tool output, then older replies and whole old turns are cut to fit"),
    ("--tool-choice", "tool_choice", str,
     "tool_choice sent with tools: auto (default), required, none, or omit (not sent)"),
    ("--tool-messages", "tool_messages", str,
     "'as_user' for servers whose chat templates drop tool messages: results go as user messages"),
    ("--stream", "stream", _bool, "true: stream replies, so a server stops generating when an episode times out"),
]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="arena",
        description="Autonomy Arena: run AI agents on fresh, seeded tasks in sandboxes and measure completion, "
        "reliability (pass^k), cost and time.",
        epilog="Example: arena run --agents oracle,random --families files --seeds 0-19 --trials 3",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ls = sub.add_parser("list", help="list task families or agents")
    ls.add_argument("what", choices=["families", "agents"])

    run = sub.add_parser(
        "run", help="plan and run episodes, store them, print the report",
        description="Run every agent on every task (family x split x seed) at every level, TRIALS times each. "
        "Episodes are stored in SQLite as they run; an interrupted run finishes with --resume.",
    )
    run.add_argument("--config", type=Path, help="run.toml with any of the settings below (flags win)")
    run.add_argument(
        "--agents", help="comma-separated: oracle, random, openai:MODEL, command:\"PROG ARGS\", pkg.mod:Class; "
        "name one with LABEL=SPEC (e.g. fast=openai:gpt-4o-mini@fast.toml) to show LABEL in reports",
    )
    run.add_argument("--labels", help="comma-separated short names for the agents, in the order of --agents")
    run.add_argument("--families", help="comma-separated family names (see `arena list families`)")
    run.add_argument("--seeds", help="task seeds: 0-19, 3,7,9 or 0-4,10-14")
    run.add_argument("--split", dest="splits", help="dev, test or dev,test (default dev)")
    run.add_argument(
        "--level", dest="levels",
        help="autonomy level(s): copilot, agent (default), worker, or a list such as copilot,agent,worker",
    )
    run.add_argument("--trials", type=int, help="repeats of each (agent, task), for pass^k (default 1)")
    run.add_argument("--paraphrases", type=int, help="plan each task under N instruction wordings (default 1)")
    run.add_argument(
        "--faults", help="rate(s) of injected tool faults, e.g. 0.2 or 0,0.2 to plan both (default: 0, and "
        "0.1 for worker)",
    )
    run.add_argument("--subgoal-steps", type=int, help="copilot: agent steps per subgoal before a takeover")
    run.add_argument("--sandbox", choices=["bwrap", "docker", "process"], help="where commands run (default bwrap)")
    run.add_argument("--unsafe-local", action="store_true", help="allow --sandbox process: no isolation at all")
    run.add_argument("--memory-mb", type=int, help="sandbox memory limit (default 1024)")
    run.add_argument("--db", default=None, help=f"SQLite file (default {DEFAULT_DB} or $ARENA_DB)")
    run.add_argument("--run-id", help="name of the run (default: a timestamp)")
    run.add_argument("--resume", action="store_true", help="finish the unfinished episodes of --run-id")
    run.add_argument(
        "--salt", help="a private test split: a secret mixed into the test split's generation (default: "
        "$ARENA_SALT); only its fingerprint is stored; resuming needs the same secret",
    )
    run.add_argument("--retry-errors", action="store_true", help="with --resume: run the error episodes again too")
    run.add_argument("--concurrency", type=int, help="episodes (sandboxes) at once (default 2)")
    run.add_argument("--executor", choices=["local", "ray"],
                     help="where episodes run: local (this machine, default) or ray (a Ray cluster)")
    run.add_argument("--ray-address", help="the Ray cluster to run on: auto, HOST:PORT or ray://HOST:PORT "
                     "(implies --executor ray; default $RAY_ADDRESS, else a local cluster)")
    run.add_argument("--max-attempts", type=int, help="attempts per episode on infrastructure errors (default 3)")
    run.add_argument("--max-steps", type=int, help="override the tasks' step limit")
    run.add_argument("--max-seconds", type=float, help="override the tasks' wall-time limit")
    run.add_argument("--tool-timeout", type=float, help="override the per-tool-call timeout")
    run.add_argument("--max-tokens", type=int, help="token budget per episode (truncates)")
    run.add_argument("--max-cost", type=float, help="cost budget per episode in USD (truncates)")
    run.add_argument("--command-timeout", type=float, help="seconds a command: agent may take per turn (default 60)")
    run.add_argument("--json", action="store_true", help="print the final report as JSON")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    for flag, _key, typ, text in MODEL_FLAGS:
        run.add_argument(flag, type=typ, help=text)

    rep = sub.add_parser(
        "report", help="print the report of stored runs",
        description="Success by level with intervals, the certified level and what blocks the next one, "
        "reliability (pass^k, consistency, robustness), reflection, cost, time horizon and why episodes failed, "
        "all computed from the stored steps.",
    )
    rep.add_argument("run_ids", nargs="*", metavar="RUN", help="run id(s) (default: the latest run)")
    rep.add_argument("--db", default=None, help=f"SQLite file (default {DEFAULT_DB})")
    rep.add_argument("--json", action="store_true", help="the whole summary as JSON")
    rep.add_argument("--prices", help="a price table (TOML, as agents/prices.toml) to price the stored tokens again")
    rep.add_argument("--by", help="extra breakdowns: template, difficulty or template,difficulty")
    rep.add_argument("--min-tasks", type=int, help="mark figures resting on fewer tasks (default 10)")
    rep.add_argument("--gates", type=Path, help="a TOML file with a [gates] table (default: the run's own)")
    rep.add_argument("--episodes", action="store_true", help="with --json: one row of metrics per episode")

    cmp_ = sub.add_parser(
        "compare", help="paired comparison of agents or runs on the same tasks",
        description="Pairs episodes on the same tasks and reports, per metric and family, the difference with a "
        "paired bootstrap interval and a p-value (Holm-adjusted over families); a winner is named only when the "
        "data say so. Names: AGENT (of --run, or of the latest run that has it), RUN (its only agent) or "
        "RUN:AGENT. Without names, every agent of --run is compared.",
    )
    cmp_.add_argument("names", nargs="*", metavar="NAME")
    cmp_.add_argument("--run", help="the run whose agents are compared")
    cmp_.add_argument("--db", default=None, help=f"SQLite file (default {DEFAULT_DB})")
    cmp_.add_argument("--json", action="store_true", help="the comparison as JSON")
    cmp_.add_argument("--prices", help="a price table to price the stored tokens again")
    cmp_.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    rep.add_argument("--html", type=Path, metavar="DIR",
                     help="write the report as a static site into DIR (opens from file://, no network)")

    runs = sub.add_parser("runs", help="list stored runs")
    runs.add_argument("--db", default=None, help=f"SQLite file (default {DEFAULT_DB})")

    gc = sub.add_parser(
        "gc", help="remove what dead arena processes left: containers, jails, mounts, cgroups, directories",
        description="Never touches the sandboxes of a run that is still going.",
    )
    gc.add_argument("--run-id", help="only this run's leftovers")

    img = sub.add_parser("images", help="build the Docker sandbox images (no registry needed)")
    img.add_argument("names", nargs="*", help="images to build (default: all)")
    img.add_argument("--force", action="store_true", help="rebuild even if the inputs did not change")

    show = sub.add_parser("show-task", help="print a generated task without running anything")
    show.add_argument("family")
    show.add_argument("--seed", type=seed_arg, default=0)
    show.add_argument("--level", choices=["copilot", "agent", "worker"], default="agent",
                      help="worker: show the job built around this task")
    show.add_argument("--split", choices=["dev", "test"], default="dev")
    show.add_argument("--json", action="store_true", help="the task as JSON, grading material included")
    show.add_argument("--salt", help="show a task of a private test split (default: $ARENA_SALT)")

    ep = sub.add_parser(
        "show-episode", help="print one stored episode: instruction, steps, checks, outcome and why",
        description="Name the episode by its number in the run (see the matches listed when a filter picks "
        "several) or its key id, or pick it with filters.",
    )
    ep.add_argument("run_id", metavar="RUN", help="run id (see `arena runs`)")
    ep.add_argument("episode", nargs="?", metavar="EPISODE", help="episode number (e.g. 12) or key id")
    ep.add_argument("--db", default=None, help=f"SQLite file (default {DEFAULT_DB})")
    ep.add_argument("--agent")
    ep.add_argument("--family")
    ep.add_argument("--split", choices=["dev", "test"])
    ep.add_argument("--seed", type=seed_arg)
    ep.add_argument("--trial", type=int)
    ep.add_argument("--level", choices=["copilot", "agent", "worker"])
    ep.add_argument("--paraphrase", type=int)
    ep.add_argument("--faults", type=float, metavar="RATE", help="the planned fault rate (0 for none)")
    ep.add_argument("--failed", action="store_true", help="only episodes that did not succeed")
    ep.add_argument("--first", action="store_true", help="show the first match instead of listing them")
    ep.add_argument("--full", action="store_true", help="print outputs whole instead of shortened")
    ep.add_argument("--json", action="store_true", help="the episode as data (schema arena.episode/1)")

    exp = sub.add_parser(
        "export", help="write a run's episodes as JSONL (with steps) or CSV (one row each), or its aggregates as CSV",
        description="Episodes: one arena.episode/1 record per line (jsonl), or one row of figures per episode "
        "(csv). With --aggregates: one CSV row per agent x level x family with the figures of `arena report` and "
        "their 95% intervals.",
    )
    exp.add_argument("run_id", metavar="RUN", help="run id (see `arena runs`)")
    exp.add_argument("--db", default=None, help=f"SQLite file (default {DEFAULT_DB})")
    exp.add_argument("--format", choices=["jsonl", "csv"], default=None,
                     help="jsonl (the default): one arena.episode/1 record per line; csv: one row of figures per "
                     "episode")
    exp.add_argument("--aggregates", action="store_true",
                     help="the run summary instead: one CSV row per agent x level x family")
    exp.add_argument("--prices", help="with --aggregates: a price table to price the stored tokens again")
    exp.add_argument("--output", "-o", type=Path, metavar="FILE", help="write to FILE instead of stdout")

    view = sub.add_parser("view", help="serve the HTML report on 127.0.0.1, live from the store")
    view.add_argument("run_ids", nargs="*", metavar="RUN", help="runs to show (default: every run, new ones too)")
    view.add_argument("--db", default=None, help=f"SQLite file (default {DEFAULT_DB})")
    view.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765; 0: any free port)")
    view.add_argument("--prices", help="a price table to price the stored tokens again in the summary")

    mcp = sub.add_parser(
        "serve-mcp", help="serve one episode to an MCP client, over stdio or streamable HTTP",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Serve one episode's tools to an MCP client (the agent under test).\n\n"
        "Listing tools, prompts or resources is free; each tools/call is one stored step, and the first\n"
        "one sets the task up and starts its clock. The episode ends at submit (copilot: the last\n"
        "hand-in that is met) or a limit, after --idle-timeout, when a stdio client disconnects or\n"
        "stops the server (graded as the agent's failure), or when an HTTP server is stopped: Ctrl-C or\n"
        "SIGTERM mid-episode keeps its steps and puts it back to pending, like an interrupted\n"
        "`arena run`. Over HTTP the episode outlives connections and sessions, so clients that connect\n"
        "once per call can finish it.",
        epilog="examples:\n"
        "  arena serve-mcp files --seed 3                                  # stdio, for a client that starts it\n"
        "  arena serve-mcp files --seed 3 --transport http --port 8765    # http://127.0.0.1:8765/mcp\n"
        "  arena serve-mcp helpdesk --seed 1 --level copilot --transport http --run-id desk1",
    )
    mcp.add_argument("family")
    mcp.add_argument("--seed", type=seed_arg, default=0)
    mcp.add_argument("--split", choices=["dev", "test"], default="dev")
    mcp.add_argument("--level", choices=["copilot", "agent", "worker"], default="agent",
                     help="copilot: submit hands in the current subgoal, ask_for_help shows a next step; "
                     "worker: a job built around the task, with injected faults (default agent)")
    mcp.add_argument("--sandbox", choices=["bwrap", "docker", "process"], default="bwrap")
    mcp.add_argument("--unsafe-local", action="store_true", help="allow --sandbox process (no isolation)")
    mcp.add_argument("--transport", choices=["stdio", "http"], default="stdio",
                     help="stdio: one episode per process, for clients that start the server; http: a "
                     "streamable HTTP server whose episode outlives connections and sessions (default stdio)")
    mcp.add_argument("--host", default="127.0.0.1", help="http: the address to listen on (default 127.0.0.1)")
    mcp.add_argument("--port", type=int, default=8765, help="http: the port; 0 picks a free one (default 8765). "
                     "The URL is printed on stderr once the server listens")
    mcp.add_argument("--idle-timeout", type=float, default=None, metavar="S",
                     help="end a started episode (graded, as the agent's failure) after S seconds without a tool "
                     "call (default: none; the task's own time limit still holds)")
    mcp.add_argument("--db", default=None, help=f"SQLite file (default {DEFAULT_DB})")
    mcp.add_argument("--run-id", metavar="RUN",
                     help="the run to store the episode in (default: a new one). Serving again with the same id "
                     "and the same task picks it up like `arena run --resume`: a finished episode is reported and "
                     "not played again; one that was interrupted or ended in an arena error is played again from "
                     "the start; a run another process is serving is refused")
    return p


# ---------------------------------------------------------------- commands


def _db(args: argparse.Namespace) -> str:
    return args.db or DEFAULT_DB


def run_config_from_args(args: argparse.Namespace) -> Any:
    from arena.config import parse_agent
    from arena.runner import RunConfig

    data: dict[str, Any] = {}
    if args.config:
        if not args.config.exists():
            raise ConfigError(f"config file {args.config} does not exist")
        try:
            data = tomllib.loads(args.config.read_text())
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{args.config} is not valid TOML: {e}") from None
    flags = {
        "agents": _agent_list(args.agents),
        "families": _split_list(args.families),
        "seeds": parse_seeds(args.seeds) if args.seeds else None,
        "splits": _split_list(args.splits),
        "levels": _split_list(args.levels),
        "trials": args.trials,
        "paraphrases": args.paraphrases,
        "concurrency": args.concurrency,
        "max_attempts": args.max_attempts,
    }
    if isinstance(data.get("seeds"), str):
        data["seeds"] = parse_seeds(data["seeds"])
    data.update({k: v for k, v in flags.items() if v is not None})
    sandbox = dict(data.get("sandbox", {}))
    for key, value in (("kind", args.sandbox), ("memory_mb", args.memory_mb)):
        if value is not None:
            sandbox[key] = value
    if args.unsafe_local:
        sandbox["unsafe_local"] = True
    data["sandbox"] = sandbox
    limits = dict(data.get("limits", {}))
    for key, value in (
        ("max_steps", args.max_steps), ("max_seconds", args.max_seconds), ("tool_timeout", args.tool_timeout),
        ("max_tokens", args.max_tokens), ("max_cost_usd", args.max_cost),
    ):
        if value is not None:
            limits[key] = value
    data["limits"] = limits
    executor = dict(data.get("executor", {}))
    if args.executor is not None:
        executor["kind"] = args.executor
    if args.ray_address is not None:
        if executor.get("kind", "ray") != "ray":
            raise ConfigError("--ray-address goes with --executor ray")
        executor.update(kind="ray", address=args.ray_address)
    data["executor"] = executor
    if args.faults is not None:
        faults = dict(data.get("faults", {}))
        faults.pop("rate", None)
        faults["rates"] = parse_rates(args.faults)
        data["faults"] = faults
    if args.subgoal_steps is not None:
        options = dict(data.get("level_options", {}))
        options["copilot"] = {**options.get("copilot", {}), "subgoal_steps": args.subgoal_steps}
        data["level_options"] = options
    if args.labels:
        labels = _split_list(args.labels) or []
        agents = data.get("agents", [])
        if len(labels) != len(agents):
            raise ConfigError(f"--labels gives {len(labels)} label(s) for {len(agents)} agent(s); give one per agent")
        data["agents"] = [f"{label}={parse_agent(entry)[1]}" for label, entry in zip(labels, agents, strict=True)]
    model_opts = {key: getattr(args, key_attr(flag)) for flag, key, _t, _h in MODEL_FLAGS}
    model_opts = {k: v for k, v in model_opts.items() if v is not None}
    entries = [parse_agent(entry) for entry in data.get("agents", [])]
    if model_opts:
        options = data.setdefault("agent_options", {})
        for _label, spec in entries:
            if spec.startswith("openai:"):
                options[spec] = {**model_opts, **options.get(spec, {})}
    if args.command_timeout is not None:
        options = data.setdefault("agent_options", {})
        for _label, spec in entries:
            if spec.startswith("command:"):
                options[spec] = {"timeout": args.command_timeout, **options.get(spec, {})}
    missing = [name for name in ("agents", "families", "seeds") if not data.get(name)]
    if missing:
        raise ConfigError(f"missing {', '.join('--' + m for m in missing)} (or put them in --config run.toml)")
    return RunConfig.model_validate(data)


def parse_rates(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"bad --faults {text!r}: give rates between 0 and 1, e.g. 0.2 or 0,0.2") from None


def key_attr(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def cmd_run(args: argparse.Namespace) -> int:
    from arena.progress import RunProgress
    from arena.report import print_report, report_json
    from arena.runner import Runner, new_run_id, restore, stored_config, validate_config
    from arena.store import Store

    store = Store(_db(args))
    if args.resume:
        if not args.run_id:
            raise ConfigError("--resume needs --run-id (see `arena runs` for the ids)")
        info = store.get_run(args.run_id)
        if info is None:
            raise ConfigError(f"no run {args.run_id!r} in {store.path}; see `arena runs --db {store.path}`")
        config = _salted(restore(info.config), args)
        if args.concurrency:
            config = config.model_copy(update={"concurrency": args.concurrency})
        if args.executor or args.ray_address:  # the cluster may have moved since the run started
            kind = "ray" if args.ray_address else args.executor
            executor = config.executor.model_copy(update={"kind": kind, "address": args.ray_address})
            config = config.model_copy(update={"executor": executor})
        run_id = args.run_id
        factories = validate_config(config)
        holder = store.lease_holder(run_id)
        if holder is not None:
            raise ConfigError(f"run {run_id!r} is being run right now by process {holder[1]} on {holder[0]}; "
                              "wait for it to finish or stop it, then resume")
        if args.retry_errors:
            console.print(f"{store.retry_errors(run_id)} error episode(s) will run again", markup=False)
        if config.sandbox.kind != "process":
            from arena.sandbox.gc import collect

            collect(run_id)  # what a killed process of this run left behind
    else:
        if args.retry_errors:
            raise ConfigError("--retry-errors goes with --resume --run-id RUN")
        config = _salted(run_config_from_args(args), args)
        factories = validate_config(config)
        run_id = args.run_id or new_run_id()
        store.create_run(run_id, stored_config(config, factories), config.plan())
    todo = len(store.unfinished(run_id))
    total = store.get_run(run_id).episodes  # type: ignore[union-attr]
    console.print(f"run {run_id}: {total} episodes ({todo} to run) in {config.sandbox.kind} sandboxes, "
                  f"db {store.path}", markup=False, highlight=False)
    progress = RunProgress(total=total, done=total - todo, disable=args.quiet)
    runner = Runner(store, run_id, config, factories=factories, on_done=progress.update)
    stopped_by = _run_until_signal(runner.run(), progress)
    if stopped_by is not None:
        console.print(f"[yellow]interrupted ({stopped_by})[/yellow]; finished episodes are stored. Resume with:")
        console.print(f"  arena run --resume --run-id {run_id} --db {store.path}", markup=False, highlight=False)
        return 130 if stopped_by == "SIGINT" else 143
    options = _summary_options(argparse.Namespace(), store, [run_id])  # the run's own gates, as `arena report`
    if args.json:
        out.print(report_json(store, run_id, options=options), highlight=False, soft_wrap=True, markup=False)
    else:
        print_report(store, run_id, out, options=options)
    outcomes = [e.result.outcome for e in store.episodes(run_id) if e.result is not None]
    if outcomes and all(o == "error" for o in outcomes):
        console.print("[red]every episode ended in error[/red]: the arena could not run them (see above)")
        return 1
    return 0


def _salted(config: Any, args: argparse.Namespace) -> Any:
    salt = getattr(args, "salt", None) or os.environ.get("ARENA_SALT") or None
    try:
        return config.with_salt(salt)
    except ValueError as e:
        raise ConfigError(str(e)) from None


def _run_until_signal(work: Any, progress: Any) -> str | None:
    """Run the coroutine; Ctrl-C and SIGTERM cancel it cleanly. Returns the signal's name, if any."""
    caught: list[str] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for sig in (signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, lambda s=sig: (caught.append(s.name), task.cancel()))
        await work

    try:
        with progress:
            asyncio.run(main())
    except KeyboardInterrupt:
        return "SIGINT"
    except asyncio.CancelledError:
        return caught[0] if caught else "cancelled"
    return None


def _latest_run(store: Any) -> str:
    runs = store.list_runs()
    if not runs:
        raise ConfigError(f"no runs in {store.path}; start one with `arena run`")
    return runs[-1].id


def _summary_options(args: argparse.Namespace, store: Any, run_ids: list[str]) -> Any:
    from arena.metrics.summary import SummaryOptions

    data: dict[str, Any] = {}
    gates = None
    if getattr(args, "gates", None):
        gates = _read_toml(args.gates).get("gates", {})
    else:
        info = store.get_run(run_ids[0]) if run_ids else None
        gates = (info.config.get("gates") if info else None) or {}
    data["gates"] = gates
    if getattr(args, "prices", None):
        if not Path(args.prices).exists():
            raise ConfigError(f"price table {args.prices} does not exist")
        data["prices"] = args.prices
    if getattr(args, "by", None):
        data["breakdowns"] = _split_list(args.by)
    if getattr(args, "min_tasks", None):
        data["min_tasks"] = args.min_tasks
    if getattr(args, "episodes", False):
        data["include_episodes"] = True
    return SummaryOptions.model_validate(data)


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ConfigError(f"{path} does not exist")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path} is not valid TOML: {e}") from None


def _open_store(args: argparse.Namespace) -> Any:
    from arena.store import Store

    path = _db(args)
    if not Path(path).exists():
        raise ConfigError(f"no database at {path}; pass --db or run `arena run` first")
    return Store(path, read_only=True)


def cmd_report(args: argparse.Namespace) -> int:
    from arena.report import print_report, report_json

    store = _open_store(args)
    run_ids = args.run_ids or [_latest_run(store)]
    for run_id in run_ids:
        if store.get_run(run_id) is None:
            raise ConfigError(f"no run {run_id!r} in {store.path}; see `arena runs --db {store.path}`")
    options = _summary_options(args, store, run_ids)
    target = run_ids[0] if len(run_ids) == 1 else run_ids
    if args.html is not None:
        return report_html(store, args.html, run_ids, options)
    if args.json:
        out.print(report_json(store, target, options=options), highlight=False, soft_wrap=True, markup=False)
    else:
        print_report(store, target, out, options=options)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from arena.metrics.sides import compare
    from arena.report import print_compare

    store = _open_store(args)
    if not args.names and not args.run:
        args.run = _latest_run(store)
    options = _summary_options(args, store, [args.run] if args.run else [])
    if args.json:
        comparison = compare(store, args.names, run_id=args.run, options=options, alpha=args.alpha)
        out.print(comparison.model_dump_json(indent=2), highlight=False, soft_wrap=True, markup=False)
    else:
        print_compare(store, args.names, out, run_id=args.run, options=options, alpha=args.alpha)
    return 0


def _read_store(args: argparse.Namespace) -> Any:
    from arena.store import Store

    path = _db(args)
    if not Path(path).exists():
        raise ConfigError(f"no database at {path}; pass --db or run `arena run` first")
    return Store(path, read_only=True)


def _known_run(store: Any, run_id: str) -> str:
    if store.get_run(run_id) is None:
        raise ConfigError(f"no run {run_id!r} in {store.path}; see `arena runs --db {store.path}`")
    return run_id


def report_html(store: Any, folder: Path, run_ids: list[str], options: Any) -> int:
    from arena.viewer import build_site
    from arena.viewer.comparison import site_figures

    with console.status("computing the run summary and the paired comparison …"):
        summary, comparison = site_figures(store, run_ids, options)
    index = build_site(store, run_ids, folder, summary=summary, comparison=comparison, console=console)
    out.print(str(index.resolve()), markup=False, highlight=False, soft_wrap=True)
    return 0


def cmd_show_episode(args: argparse.Namespace) -> int:
    import json

    from arena.config import agent_label
    from arena.trajectory import (
        EpisodeFilter,
        find_episodes,
        load_record,
        matches_table,
        numbered,
        print_record,
        what_exists,
    )

    store = _read_store(args)
    run_id = _known_run(store, args.run_id)
    episodes = numbered(store, run_id)
    info = store.get_run(run_id)
    agents = info.config.get("agents", []) if info else []
    agent = args.agent and (agent_label(agents, args.agent) or args.agent)  # by label or by full spec
    flt = EpisodeFilter(agent=agent, family=args.family, split=args.split, seed=args.seed, trial=args.trial,
                        level=args.level, paraphrase=args.paraphrase, faults=args.faults, failed=args.failed)
    matches = find_episodes(episodes, args.episode, flt)
    if not matches:
        asked = f"episode {args.episode!r}" if args.episode else "no episode"
        raise ConfigError(f"{asked} in run {run_id!r} matches; the run has {what_exists(e for _, e in episodes)}")
    if len(matches) > 1 and not args.first:
        out.print(matches_table(matches))
        console.print(f"{len(matches)} episodes match: name one by number (arena show-episode {run_id} "
                      f"{matches[0][0]}), narrow the filters, or add --first", markup=False, highlight=False)
        return 2
    number, episode = matches[0]
    record = load_record(store, run_id, number, episode)
    if args.json:
        with _quiet_broken_pipe():
            print(json.dumps(record, indent=2, ensure_ascii=False))
    else:
        print_record(record, out, full=args.full)
    return 0


@contextlib.contextmanager
def _quiet_broken_pipe() -> Iterator[None]:
    """Output piped into `head` and the like: stop writing when the reader has gone, quietly."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush cannot fail again


def cmd_export(args: argparse.Namespace) -> int:
    from arena.export import write_aggregates, write_csv, write_jsonl

    store = _read_store(args)
    run_id = _known_run(store, args.run_id)
    if args.aggregates and args.format == "jsonl":
        raise ConfigError("--aggregates writes CSV; drop --format jsonl (`arena report --json` gives the "
                          "aggregates as JSON)")
    if args.prices and not args.aggregates:
        raise ConfigError("--prices re-prices the aggregates: add --aggregates (episode exports keep the stored "
                          "costs)")
    fmt = "csv" if args.aggregates else args.format or "jsonl"
    what = "rows of aggregates" if args.aggregates else "episodes"
    if args.aggregates:
        from arena.metrics.summary import build_summary

        summary = build_summary(store, run_id, _summary_options(args, store, [run_id]))

        def write(_store: Any, _run_id: str, f: Any) -> int:
            return write_aggregates(summary, f)
    else:
        write = write_jsonl if fmt == "jsonl" else write_csv
    if args.output is None:
        with _quiet_broken_pipe():
            write(store, run_id, sys.stdout)
        return 0
    partial = args.output.with_name(args.output.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as f:
            count = write(store, run_id, f)
        partial.replace(args.output)  # a failed export leaves no half-written file behind
    except OSError as e:
        partial.unlink(missing_ok=True)
        raise ConfigError(f"cannot write {args.output}: {e.strerror or e}; pick another --output") from None
    console.print(f"{count} {what} of run {run_id} written to {args.output} ({fmt})", markup=False,
                  highlight=False)
    return 0


def cmd_view(args: argparse.Namespace) -> int:
    import threading

    from arena.viewer import LiveSite, make_server

    store = _read_store(args)
    runs = [_known_run(store, r) for r in args.run_ids] or None
    options = _summary_options(args, store, runs or [])
    console.print(f"reading {store.path} …", markup=False, highlight=False)
    try:
        server = make_server(LiveSite(store, runs, options=options), args.port)
    except OSError as e:
        raise ConfigError(f"cannot serve on 127.0.0.1:{args.port}: {e.strerror or e}; pick another --port") from None
    shown = ", ".join(runs) if runs else "every run"
    console.print(f"serving {shown} of {store.path} (live: new episodes appear as they are stored); Ctrl-C stops",
                  markup=False, highlight=False)
    out.print(f"http://127.0.0.1:{server.server_port}/", markup=False, highlight=False)
    # SIGTERM stops the server like Ctrl-C; shutdown() must come from another thread than serve_forever's.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from arena.report import runs_table
    from arena.store import Store

    path = _db(args)
    if not Path(path).exists():
        raise ConfigError(f"no database at {path}; pass --db or run `arena run` first")
    out.print(runs_table(Store(path, read_only=True).list_runs()))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from arena.catalog import agents_table, families_table

    out.print(families_table() if args.what == "families" else agents_table())
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    from arena.sandbox.gc import collect

    counts = collect(args.run_id)
    removed = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n) or "nothing"
    out.print(f"removed {removed} left by arena processes that are gone", markup=False, highlight=False)
    return 0


def cmd_images(args: argparse.Namespace) -> int:
    from arena.images import build_images

    build_images(args.names or None, force=args.force, log=console.print)
    return 0


def cmd_show_task(args: argparse.Namespace) -> int:
    from arena.catalog import print_task

    salt = args.salt or os.environ.get("ARENA_SALT") or None
    print_task(args.family, args.seed, args.split, as_json=args.json, console=out, level=args.level, salt=salt)
    return 0


def cmd_serve_mcp(args: argparse.Namespace) -> int:
    from arena.sandbox import SandboxConfig, check_config

    try:
        from arena.drivers.mcp import serve_episode
    except ImportError as e:
        raise ConfigError(f"serve-mcp needs the mcp package ({e}): pip install 'autonomy-arena[mcp]'") from None

    sandbox = SandboxConfig(kind=args.sandbox, unsafe_local=args.unsafe_local)
    check_config(sandbox)
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port} is not a port: give 1-65535, or 0 for a free one")
    if args.idle_timeout is not None and not args.idle_timeout > 0:
        raise ConfigError(f"--idle-timeout {args.idle_timeout:g} must be a number of seconds above 0")

    def log(text: str) -> None:  # stderr: over stdio, stdout is the MCP channel
        console.print(text, markup=False, highlight=False)

    try:
        served = asyncio.run(
            serve_episode(
                args.family, args.seed, split=args.split, level=args.level, sandbox=sandbox, db_path=_db(args),
                run_id=args.run_id, transport=args.transport, host=args.host, port=args.port,
                idle_timeout=args.idle_timeout, log=log,
            )
        )
    except (KeyboardInterrupt, asyncio.CancelledError):
        log("stopped at once: the episode may be left unfinished (it shows as interrupted; serve it again)")
        return 130
    run = f"run {served.run_id} in {_db(args)}"
    if served.state == "not_started":
        log(f"no tool call was made: nothing was stored ({run})")
    elif served.state == "interrupted":
        log(f"stopped mid-episode ({served.signal}): its steps are stored and it is pending again; play it again "
            f"with the same command and --run-id {served.run_id}")
        return 130 if served.signal == "SIGINT" else 143
    else:
        result = served.result
        assert result is not None
        already = "already done, nothing to serve: " if served.state == "already_done" else ""
        log(f"episode {served.task_id}: {already}{result.outcome} ({result.termination}), score {result.score:.2f}; "
            f"{run}")
    return 0


COMMANDS = {
    "run": cmd_run, "report": cmd_report, "compare": cmd_compare, "runs": cmd_runs, "list": cmd_list, "gc": cmd_gc,
    "images": cmd_images, "show-task": cmd_show_task, "serve-mcp": cmd_serve_mcp,
    "show-episode": cmd_show_episode, "export": cmd_export, "view": cmd_view,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())  # so `package.module:Class` finds the user's own modules
    try:
        return COMMANDS[args.command](args)
    except ValidationError as e:
        console.print("[red]bad config:[/red]")
        for err in e.errors():
            loc = ".".join(str(x) for x in err["loc"]) or "(config)"
            console.print(f"  {loc}: {err['msg']}")
        return 2
    except ConfigError as e:
        console.print(f"[red]error:[/red] {e}")
        return 2
    except ArenaError as e:
        console.print(f"[red]error:[/red] {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
