"""Cross-cutting behaviour as wrappers over the episode interface, stackable like Gymnasium's.

Each wrapper is itself an episode (`view`, `start`, `step`, `stop`, `finish`, `done`) and
delegates what it does not change; `repr` shows the stack, outermost first:

    Recorder<TimeLimit(600s)<BudgetLimit(tokens=None, cost=0.5)<StepLimit(30)<Episode(files@1/dev/3)>>>>

`with_limits` puts the step, budget and time limits on an episode; the runner adds a `Recorder`
on top so that every step, whatever the wrappers below added to it, is stored as it happens.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from arena.episode import Episode
from arena.protocols import EpisodeEnv
from arena.types import Action, EpisodeResult, Limits, Observation, StepRecord, TaskView, Termination


class EpisodeWrapper:
    """Base of episode wrappers: everything is delegated to `inner`."""

    def __init__(self, inner: EpisodeEnv) -> None:
        self.inner = inner

    @property
    def unwrapped(self) -> Episode:
        return self.inner.unwrapped  # type: ignore[no-any-return]

    @property
    def done(self) -> bool:
        return self.inner.done

    def view(self) -> TaskView:
        return self.inner.view()

    async def start(self) -> Observation:
        return await self.inner.start()

    async def step(self, action: Action) -> Observation:
        return await self.inner.step(action)

    def stop(self, termination: Termination, reason: str | None = None) -> None:
        self.inner.stop(termination, reason)

    async def finish(self) -> EpisodeResult:
        return await self.inner.finish()

    def describe(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"{self.describe()}<{self.inner!r}>"


def agent_steps(core: Episode) -> int:
    """Steps the agent took (a supervisor's own steps are not the agent's to count)."""
    return sum(1 for s in core.steps if s.actor == "agent")


class StepLimit(EpisodeWrapper):
    """Ends the episode (`max_steps`) once the agent has taken `max_steps` steps; warns one before."""

    def __init__(self, inner: EpisodeEnv, max_steps: int) -> None:
        super().__init__(inner)
        self.max_steps = max_steps

    def describe(self) -> str:
        return f"StepLimit({self.max_steps})"

    async def step(self, action: Action) -> Observation:
        obs = await self.inner.step(action)
        if self.done:
            return obs
        taken = agent_steps(self.unwrapped)
        if taken >= self.max_steps:
            self.stop("max_steps", f"step limit of {self.max_steps} reached")
            return self.unwrapped.annotate(obs, f"step limit of {self.max_steps} reached")
        if taken == self.max_steps - 1:
            return self.unwrapped.annotate(obs, "one step left: submit now")
        return obs


class TimeLimit(EpisodeWrapper):
    """Gives the episode a wall-clock deadline. The core cuts every tool call's timeout to what is
    left and runs no call after it, so one action cannot outlast the limit; `drive` bounds the
    agent's own thinking by it too."""

    def __init__(self, inner: EpisodeEnv, max_seconds: float) -> None:
        super().__init__(inner)
        self.max_seconds = max_seconds

    def describe(self) -> str:
        return f"TimeLimit({self.max_seconds:g}s)"

    async def start(self) -> Observation:
        obs = await self.inner.start()
        core = self.unwrapped
        core.deadline = core._started + self.max_seconds
        return obs

    async def step(self, action: Action) -> Observation:
        obs = await self.inner.step(action)
        remaining = self.unwrapped.remaining()
        if not self.done and remaining is not None and remaining <= 0:
            self.stop("time_limit", f"time limit of {self.max_seconds:g}s reached")
            return self.unwrapped.annotate(obs, f"time limit of {self.max_seconds:g}s reached")
        return obs


class BudgetLimit(EpisodeWrapper):
    """Ends the episode (`budget`) once its model usage reaches a token or cost budget."""

    def __init__(self, inner: EpisodeEnv, max_tokens: int | None, max_cost_usd: float | None) -> None:
        super().__init__(inner)
        self.max_tokens = max_tokens
        self.max_cost_usd = max_cost_usd

    def describe(self) -> str:
        return f"BudgetLimit(tokens={self.max_tokens}, cost={self.max_cost_usd})"

    async def step(self, action: Action) -> Observation:
        obs = await self.inner.step(action)
        if self.done:
            return obs
        usage = self.unwrapped.usage
        reason = None
        if self.max_tokens and usage.input_tokens + usage.output_tokens >= self.max_tokens:
            reason = f"token budget of {self.max_tokens} reached"
        elif self.max_cost_usd and (usage.cost_usd or 0.0) >= self.max_cost_usd:
            reason = f"cost budget of ${self.max_cost_usd:g} reached"
        if reason is None:
            return obs
        self.stop("budget", reason)
        return self.unwrapped.annotate(obs, reason)


def with_limits(env: EpisodeEnv, limits: Limits) -> EpisodeEnv:
    """The standard limit stack: steps innermost, then budget, then time."""
    env = StepLimit(env, limits.max_steps)
    if limits.max_tokens or limits.max_cost_usd:
        env = BudgetLimit(env, limits.max_tokens, limits.max_cost_usd)
    return TimeLimit(env, limits.max_seconds)


# ---------------------------------------------------------------- recording

StepSink = Callable[[StepRecord], None]

MAX_STORED_TEXT = 64 * 1024  # one stored string (an argument, a message, an output)
MAX_STORED_DEPTH = 24  # nesting of stored arguments and info


class Recorder(EpisodeWrapper):
    """Hands every new step to `sink` as soon as it is recorded, supervisor steps included, in a
    form the store can always hold (see `storable`)."""

    def __init__(self, inner: EpisodeEnv, sink: StepSink) -> None:
        super().__init__(inner)
        self.sink = sink
        self._recorded = 0

    async def step(self, action: Action) -> Observation:
        try:
            return await self.inner.step(action)
        finally:
            self.flush()

    def stop(self, termination: Termination, reason: str | None = None) -> None:
        self.inner.stop(termination, reason)
        self.flush()

    async def finish(self) -> EpisodeResult:
        self.flush()
        return await self.inner.finish()

    def flush(self) -> None:
        steps = self.unwrapped.steps
        while self._recorded < len(steps):
            self.sink(storable(steps[self._recorded]))
            self._recorded += 1


def storable(record: StepRecord) -> StepRecord:
    """The record as it can be stored: text JSON cannot hold (lone surrogates) escaped, nesting
    beyond `MAX_STORED_DEPTH` and strings beyond `MAX_STORED_TEXT` cut, and `sanitized` saying so.
    A record that needs none of that is returned as it is."""
    if _plainly_storable(record):
        return record
    changes: list[str] = []
    data = _clean(record.model_dump(mode="python"), 0, changes)
    if not changes:
        try:
            record.model_dump_json()
            return record
        except ValueError:  # serialisation failed for a reason _clean did not foresee
            changes.append("a value that JSON cannot hold was replaced")
            data = json.loads(json.dumps(record.model_dump(mode="json"), default=repr, ensure_ascii=True))
    kinds = sorted(set(changes))
    data["sanitized"] = "; ".join(kinds)[:500]
    return StepRecord.model_validate(data)


# Depth in the record's dump of the containers an agent fills freely (the rest has a fixed shape).
ARGUMENTS_DEPTH = 4  # record -> action -> tool_calls -> call -> arguments
INFO_DEPTH = 2  # record -> action -> info


def _plainly_storable(record: StepRecord) -> bool:
    """The common case, checked cheaply (one serialisation instead of a walk over the whole dump):
    serialisable as it is (no lone surrogates), no nesting or number `_clean` would change in what
    the agent filled freely, and too short in all for any string to be over `MAX_STORED_TEXT`."""
    action = record.action
    free = [(c.arguments, ARGUMENTS_DEPTH) for c in action.tool_calls] + [(action.info, INFO_DEPTH)]
    if not all(_plain(value, depth) for value, depth in free):
        return False
    if action.usage is not None and action.usage.cost_usd is not None and not math.isfinite(action.usage.cost_usd):
        return False
    try:
        return len(record.model_dump_json()) <= MAX_STORED_TEXT
    except ValueError:
        return False


def _plain(value: Any, depth: int) -> bool:
    """No container at `MAX_STORED_DEPTH` or deeper and no non-finite number in `value`, a value at
    `depth` in the record's dump (iterative: the value may be nested beyond the recursion limit)."""
    stack = [(value, depth)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return False
        if isinstance(item, dict | list | tuple):
            if at >= MAX_STORED_DEPTH:
                return False
            stack += [(v, at + 1) for v in (item.values() if isinstance(item, dict) else item)]
    return True


def _clean(value: Any, depth: int, changes: list[str]) -> Any:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            changes.append("text that is not valid Unicode was escaped")
            value = value.encode("utf-8", "backslashreplace").decode("utf-8")
        if len(value) > MAX_STORED_TEXT:
            changes.append(f"strings longer than {MAX_STORED_TEXT} characters were cut")
            cut = len(value) - MAX_STORED_TEXT
            half = MAX_STORED_TEXT // 2
            value = f"{value[:half]}[... {cut} characters not stored ...]{value[-half:]}"
        return value
    if isinstance(value, float) and not math.isfinite(value):
        changes.append("a number JSON cannot hold was replaced")
        return repr(value)
    if isinstance(value, dict | list | tuple):
        if depth >= MAX_STORED_DEPTH:
            changes.append(f"values nested deeper than {MAX_STORED_DEPTH} levels were stored as text")
            text = json.dumps(value, default=repr, ensure_ascii=True, check_circular=False)[:MAX_STORED_TEXT] \
                if _shallow_enough(value) else "[too deeply nested to store]"
            return text
        if isinstance(value, dict):
            return {str(_clean(k, depth + 1, changes)): _clean(v, depth + 1, changes) for k, v in value.items()}
        return [_clean(v, depth + 1, changes) for v in value]
    return value


def _shallow_enough(value: Any, limit: int = 400) -> bool:
    """Whether json.dumps can walk the value without hitting Python's recursion limit."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            stack += [(v, depth + 1) for v in item.values()]
        elif isinstance(item, list | tuple):
            stack += [(v, depth + 1) for v in item]
    return True
