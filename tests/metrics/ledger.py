"""A small family with no sandbox, and scripted agents whose behaviour is known by construction, for
the metrics tests: they run through the real runner, levels, fault injection and store.

The ledger family asks for two notes to be written (one subgoal each). Its task lengths spread
over 0.5 to 64 human minutes by seed, so horizons can be fitted. Agents learn the expected values
the way a test can: by generating the task from the key their factory is given.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from arena.errors import ToolError
from arena.protocols import State
from arena.runner import RunConfig, Runner, stored_config
from arena.store import Store
from arena.tools import Tool, ToolContext
from arena.types import Action, Check, CheckResult, EpisodeKey, Observation, Subgoal, Task, TaskView, ToolCall

FAMILY = "tests.metrics.ledger:LedgerFamily"
KEYS = ("alpha", "beta")


def minutes_of(seed: int) -> float:
    return 0.5 * 2 ** (seed % 8)


class LedgerState(State):
    def __init__(self) -> None:
        self.notes: dict[str, str] = {}


class KeyArgs(BaseModel):
    key: str = Field(description="the note's name")


class WriteArgs(BaseModel):
    key: str
    value: str


async def _read(args: KeyArgs, ctx: ToolContext) -> str:
    notes = ctx.state.notes  # type: ignore[attr-defined]
    if args.key not in notes:
        raise ToolError(f"no note named {args.key!r}")
    return notes[args.key]


async def _write(args: WriteArgs, ctx: ToolContext) -> str:
    ctx.state.notes[args.key] = args.value  # type: ignore[attr-defined]
    return f"noted {args.key}"


async def _check(args: BaseModel, ctx: ToolContext) -> str:
    return ", ".join(sorted(ctx.state.notes)) or "(empty)"  # type: ignore[attr-defined]


class NoArgs(BaseModel):
    pass


TOOLS = [
    Tool("read_note", "Read a note of the ledger.", KeyArgs, _read, effect="read"),
    Tool("write_note", "Write a note into the ledger.", WriteArgs, _write, effect="change"),
    Tool("check_ledger", "List the notes of the ledger.", NoArgs, _check),  # effect "run", named as a look
]


class LedgerFamily:
    name = "ledger"
    version = "1"
    description = "Write two notes into a ledger."
    templates = ["notes"]
    image = None

    def generate(self, seed: int, split: str) -> Task:
        rng = random.Random(f"ledger:{split}:{seed}")
        values = {k: f"{k}-{rng.randrange(10**6)}" for k in KEYS}
        a, b = values["alpha"], values["beta"]
        return Task(
            family=self.name, version=self.version, seed=seed, split=split, template="notes",  # type: ignore[arg-type]
            instructions=[f"Record alpha={a} and beta={b} in the ledger.",
                          f"In the ledger, set beta to {b} and alpha to {a}."],
            subgoals=[Subgoal(name=k, description=f"{k} is recorded", checks=[f"note_{k}"]) for k in KEYS],
            human_minutes=minutes_of(seed), difficulty=1 + seed % 3, params={"values": values},
        )

    def tools(self, task: Task) -> list[Tool]:
        return TOOLS

    async def setup(self, task: Task, sandbox: object) -> State:
        return LedgerState()

    async def check(self, task: Task, sandbox: object, state: State) -> CheckResult:
        notes = state.notes  # type: ignore[attr-defined]
        return CheckResult(checks=[Check(name=f"note_{k}", passed=notes.get(k) == v, detail=str(notes.get(k)))
                                   for k, v in task.params["values"].items()])

    def solution(self, task: Task) -> list[ToolCall]:
        calls = [ToolCall(name="write_note", arguments={"key": k, "value": v}, subgoal=k)
                 for k, v in task.params["values"].items()]
        return [*calls, ToolCall(name="submit")]


def values_for(key: EpisodeKey) -> dict[str, str]:
    return LedgerFamily().generate(key.seed, key.split).params["values"]


def chance(key: EpisodeKey, salt: str = "") -> float:
    """A number in [0, 1) fixed by the episode (its task and trial), the same on every run."""
    digest = hashlib.sha256(f"{salt}|{key.split}|{key.seed}|{key.trial}|{key.paraphrase}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def write(key: str, value: str) -> Action:
    return Action.call("write_note", key=key, value=value)


def read(key: str) -> Action:
    return Action.call("read_note", key=key)


class Plan:
    """Plays a fixed list of actions, then submits; `react` may answer an observation first."""

    def __init__(self, actions: list[Action], react: Callable[[Plan, Observation], Action | None] | None = None):
        self.actions = list(actions)
        self.react = react
        self.view: TaskView | None = None
        self.last: Action | None = None

    async def reset(self, view: TaskView) -> None:
        self.view = view

    async def act(self, obs: Observation) -> Action:
        if self.react is not None:
            reply = self.react(self, obs)
            if reply is not None:
                self.last = reply
                return reply
        self.last = self.actions.pop(0) if self.actions else Action.submit()
        return self.last


class Factory:
    """An agent factory (the runner's protocol): a fresh agent per episode, made from its key."""

    def __init__(self, name: str, make: Callable[[EpisodeKey], Any]) -> None:
        self.name = name
        self.make = make
        self.config: dict[str, Any] = {"class": f"test:{name}"}

    def __call__(self, key: EpisodeKey) -> Any:
        return self.make(key)


def retry_faults(agent: Plan, obs: Observation) -> Action | None:
    """The right move after a transient fault: run the same call again."""
    if obs.results and obs.results[-1].fault == "error" and agent.last is not None:
        return agent.last
    return None


def give_up_on_faults(agent: Plan, obs: Observation) -> Action | None:
    if obs.results and obs.results[-1].fault == "error":
        return Action.submit()
    return None


def run(
    db: Path | str, run_id: str, agents: dict[str, Callable[[EpisodeKey], Any]], *, seeds: range | list[int],
    trials: int = 1, levels: tuple[str, ...] = ("agent",), faults: list[float] | None = None, paraphrases: int = 1,
    families: list[str] | None = None, store: Store | None = None, **extra: Any,
) -> Store:
    """Plan and run a real run of scripted agents on the ledger family; returns the store."""
    config = RunConfig(
        agents=list(agents), families=families or [FAMILY], seeds=list(seeds), trials=trials, levels=list(levels),
        paraphrases=paraphrases, concurrency=8, faults={"rate": faults, "kinds": ["error"]} if faults else {},
        **extra,
    )
    factories = {name: make if hasattr(make, "config") else Factory(name, make) for name, make in agents.items()}
    store = store or Store(db)
    store.create_run(run_id, stored_config(config, factories), config.plan())  # type: ignore[arg-type]
    asyncio.run(Runner(store, run_id, config, factories=factories).run())  # type: ignore[arg-type]
    return store
