"""Injected tool faults: a toolbox wrapper that makes tools fail the way real services do.

The schedule is a pure function of the schedule seed (the task and the fault settings, not the
trial) and the position of the call in the episode, so every trial of a configuration meets the
same faults at the same calls and a rerun reproduces them. Kinds:

- `error`: a transient failure; the tool did not run (`is_error`, `fault="error"`), and the
  message says it is temporary (a timeout, service unavailable, a rate limit). Retrying is right.
- `latency`: the tool runs, slowly.
- `partial` / `empty`: the tool runs, but its output arrives cut short or not at all, flagged as
  such; only for tools whose output is worth reading (never for a change the agent cannot redo).

`submit`, `reflect` and the supervisor's tools are never faulted.
"""

from __future__ import annotations

import asyncio
import hashlib
import random

from pydantic import BaseModel, ConfigDict, Field, field_validator

from arena.tools.run import Toolbox, ToolboxWrapper, ToolContext, cap_output
from arena.types import FaultKind, ToolCall, ToolResult

NEVER_FAULTED = frozenset({"submit", "reflect", "ask_for_help", "hand_in"})
FAULT_KINDS: tuple[FaultKind, ...] = ("error", "latency", "partial", "empty")
TRANSIENT_MESSAGES = (
    "error: temporary failure: the tool timed out before it could run; try again",
    "error: temporary failure: service unavailable (503); the tool did not run, try again",
    "error: temporary failure: rate limited (429); the tool did not run, retry in a moment",
    "error: temporary failure: connection reset before the tool ran; try again",
)


class FaultConfig(BaseModel):
    """`[faults]` in run.toml: the share of tool calls that meet a fault, which kinds, and how long
    added latency lasts."""

    model_config = ConfigDict(extra="forbid")

    rate: float = Field(0.0, ge=0.0, le=1.0)
    kinds: list[FaultKind] = Field(default_factory=lambda: list(FAULT_KINDS), min_length=1)
    latency: float = Field(1.0, ge=0.0, le=60.0)

    @field_validator("kinds")
    @classmethod
    def _unique(cls, kinds: list[FaultKind]) -> list[FaultKind]:
        if len(set(kinds)) != len(kinds):
            raise ValueError(f"kinds lists a kind twice: {kinds}")
        return kinds


def schedule_seed(task_id: str, config: FaultConfig) -> str:
    """The seed of a fault schedule: the task and the settings, never the trial."""
    text = f"{task_id}|{config.rate}|{','.join(config.kinds)}|{config.latency}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fault_at(seed: str, position: int, config: FaultConfig) -> FaultKind | None:
    """The fault (if any) that the call at `position` (0-based, faultable calls only) meets."""
    if config.rate <= 0:
        return None
    rng = random.Random(f"{seed}:{position}")
    if rng.random() >= config.rate:
        return None
    return rng.choice(config.kinds)


class FaultyToolbox(ToolboxWrapper):
    """Injects `config`'s faults into the calls of one episode, deterministically by position."""

    def __init__(self, inner: Toolbox | ToolboxWrapper, config: FaultConfig, seed: str) -> None:
        super().__init__(inner)
        self.config = config
        self.seed = seed
        self.position = 0  # faultable calls so far

    def __repr__(self) -> str:
        return f"FaultyToolbox(rate={self.config.rate:g})<{self.inner!r}>"

    async def call(self, call: ToolCall, ctx: ToolContext) -> ToolResult:
        tool = self.tools.get(call.name)
        if tool is None or call.name in NEVER_FAULTED:
            return await self.inner.call(call, ctx)
        kind = fault_at(self.seed, self.position, self.config)
        self.position += 1
        if kind in ("partial", "empty") and tool.effect == "change":
            kind = "error"  # a change's output is not worth cutting; its failure is
        if kind == "error":
            message = TRANSIENT_MESSAGES[self.position % len(TRANSIENT_MESSAGES)]
            return ToolResult(
                call_id=call.id, name=call.name, output=message, is_error=True, fault="error", effect=tool.effect
            )
        result = await self.inner.call(call, ctx)
        if kind is None:
            return result
        if kind == "latency":
            delay = self.config.latency if ctx.remaining is None else min(self.config.latency, ctx.remaining)
            await asyncio.sleep(delay)
            return result.model_copy(update={"fault": "latency", "seconds": round(result.seconds + delay, 4)})
        if kind == "partial":
            kept = result.output[: max(0, len(result.output) // 3)]
            text, _ = cap_output(kept + "\n[output incomplete: the connection dropped mid-transfer; run it again]")
            return result.model_copy(update={"output": text, "fault": "partial"})
        return result.model_copy(
            update={"output": "[no output received: the result was lost in transit; run it again]", "fault": "empty"}
        )
