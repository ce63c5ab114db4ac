"""Reflection, per episode, from the stored steps: does the agent notice and repair its own errors?

Only the agent's own steps count (`actor == "agent"`); the copilot supervisor's takeover steps are
left out. Calls are taken in order across steps; a call's signature is its tool name and its
arguments (as canonical JSON).

- errors: failed tool results. An injected transient fault (`fault == "error"`: the tool did not
  run) is counted apart (`fault_errors`); every other failed result is the agent's own error
  (`own_errors`), a rejected copilot hand-in included. Calls cut off because the episode's time
  ran out are neither.
- corrective step: the first call after an own error whose signature differs from the failed
  call. `corrected` counts own errors that got one, `corrected_at_once` those whose very next call
  was one.
- recovery: an own error is recovered when the same goal is later reached: a later call of the
  same tool succeeds, or, for a rejected copilot hand-in, the same subgoal is later handed in and
  met. recovery rate = recovered / own errors.
- blind repeat: a call identical to the call just before it when that one ended in an own error.
  After an injected fault (a transient `error`, or a `partial`/`empty` output) running the same
  call again is right: a good retry, never a blind repeat. `faults_recovered` counts transient
  faults after which the same tool later succeeds.
- loops (stuck): `loop_repeats` (default 3) identical steps in a row (same action, same result),
  or an A-B cycle repeated `loop_cycles` (default 2) times (A-B-A-B); each maximal stretch is one.
- verified before submit: after its last change and before its final submit, the agent looked at
  its work (read it back, listed it, ran the tests). Effects come from the tools and, for `run`
  tools such as `bash`, from what was run (`arena.metrics.effects`). None when the agent changed
  nothing (nothing to verify) or never submitted.
- reflect: calls of the `reflect` tool; one "changed course" when the next action differs from
  the action before the thought (judged when both exist).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from arena.metrics.effects import NOT_RUN, marks
from arena.types import StepRecord, ToolCall, ToolResult

RETRYABLE_FAULTS = ("error", "partial", "empty")


class ReflectionConfig(BaseModel):
    """Thresholds of the stuck detector (`[report.reflection]`)."""

    model_config = ConfigDict(extra="forbid")

    loop_repeats: int = Field(3, ge=2, description="identical steps in a row that make a loop")
    loop_cycles: int = Field(2, ge=2, description="repetitions of an A-B cycle that make a loop")


class EpisodeReflection(BaseModel):
    calls: int = 0  # the agent's tool calls, submit included
    errors: int = 0  # failed results of those calls
    fault_errors: int = 0  # injected transient faults: the tool did not run
    faults: int = 0  # results with any injected fault (error, latency, partial, empty)
    retryable_faults: int = 0  # faults after which running the call again is right
    own_errors: int = 0
    recovered: int = 0
    corrected: int = 0
    corrected_at_once: int = 0
    blind_repeats: int = 0
    good_retries: int = 0
    faults_recovered: int = 0
    loops: int = 0
    looped_steps: int = 0
    verified: bool | None = None
    reflects: int = 0
    reflect_judged: int = 0
    reflect_changed: int = 0


@dataclass
class _Call:
    step: int
    call: ToolCall
    result: ToolResult
    signature: str
    hand_in: str | None = None  # the subgoal of a rejected copilot hand-in


def signature(call: ToolCall) -> str:
    args = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments, sort_keys=True)
    return f"{call.name}\x00{args}"


def reflect_on(steps: list[StepRecord], config: ReflectionConfig | None = None) -> EpisodeReflection:
    config = config or ReflectionConfig()
    agent_steps = [s for s in steps if s.actor == "agent"]
    calls = _calls(agent_steps)
    signatures = {c.call.id: c.signature for c in calls}
    met_later = _hand_ins_met(steps)
    out = EpisodeReflection(calls=len(calls))
    for i, c in enumerate(calls):
        r = c.result
        previous = calls[i - 1] if i else None
        if previous is not None and previous.signature == c.signature:
            if previous.result.fault in RETRYABLE_FAULTS:
                out.good_retries += 1
            elif _own_error(previous.result):
                out.blind_repeats += 1
        if r.fault is not None:
            out.faults += 1
        if r.fault in RETRYABLE_FAULTS:
            out.retryable_faults += 1
        if not r.is_error or r.output.startswith(NOT_RUN):
            continue
        out.errors += 1
        later = calls[i + 1:]
        if r.fault == "error":
            out.fault_errors += 1
            out.faults_recovered += any(x.call.name == c.call.name and not x.result.is_error for x in later)
            continue
        out.own_errors += 1
        fix = next((j for j, x in enumerate(later) if x.signature != c.signature), None)
        if fix is not None:
            out.corrected += 1
            out.corrected_at_once += fix == 0
        if c.hand_in is not None:
            out.recovered += any(step > c.step for step in met_later.get(c.hand_in, []))
        else:
            out.recovered += any(x.call.name == c.call.name and not x.result.is_error for x in later)
    out.loops, out.looped_steps = _loops(agent_steps, config, signatures)
    out.verified = _verified(calls)
    _reflects(calls, out)
    return out


def _own_error(result: ToolResult) -> bool:
    return result.is_error and result.fault != "error" and not result.output.startswith(NOT_RUN)


def _calls(steps: list[StepRecord]) -> list[_Call]:
    found: list[_Call] = []
    for step in steps:
        by_id = {r.call_id: r for r in step.results}
        rejected = [e.subgoal or "" for e in step.events if e.kind == "hand_in_rejected"]
        for call in step.action.tool_calls:
            result = by_id.get(call.id)
            if result is None:
                continue  # never run: the episode ended before it
            hand_in = rejected.pop(0) if call.name == "submit" and result.is_error and rejected else None
            found.append(_Call(step.index, call, result, signature(call), hand_in))
    return found


def _hand_ins_met(steps: list[StepRecord]) -> dict[str, list[int]]:
    met: dict[str, list[int]] = {}
    for step in steps:
        for e in step.events:
            if e.kind == "hand_in_met":
                met.setdefault(e.subgoal or "", []).append(step.index)
    return met


def _fingerprint(step: StepRecord, signatures: dict[str, str]) -> str:
    if step.action.tool_calls:
        action = "\x01".join(signatures.get(c.id) or signature(c) for c in step.action.tool_calls)
    else:
        action = f"<no call>\x01{step.action.message or ''}\x01{step.action.parse_error or ''}"
    outcome = "\x01".join(f"{r.is_error}\x02{r.output}" for r in step.results) + f"\x01{step.note or ''}"
    return hashlib.sha1(f"{action}\x03{outcome}".encode(), usedforsecurity=False).hexdigest()


def _loops(steps: list[StepRecord], config: ReflectionConfig, signatures: dict[str, str]) -> tuple[int, int]:
    prints = [_fingerprint(s, signatures) for s in steps]
    loops = looped = 0
    i, n = 0, len(prints)
    while i < n:
        run = 1
        while i + run < n and prints[i + run] == prints[i]:
            run += 1
        if run >= config.loop_repeats:
            loops, looped, i = loops + 1, looped + run, i + run
            continue
        if i + 1 < n and prints[i + 1] != prints[i]:
            length = 2
            while i + length < n and prints[i + length] == prints[i + length - 2]:
                length += 1
            if length >= 2 * config.loop_cycles:
                loops, looped, i = loops + 1, looped + length, i + length
                continue
        i += 1
    return loops, looped


def _verified(calls: list[_Call]) -> bool | None:
    submits = [i for i, c in enumerate(calls) if c.call.name == "submit"]
    if not submits:
        return None
    final = next((i for i in reversed(submits) if not calls[i].result.is_error), submits[-1])
    seen_change = False
    looked_since = False
    for c in calls[:final]:
        for mark in marks(c.call, c.result):
            if mark == "change":
                seen_change, looked_since = True, False
            else:
                looked_since = True
    return looked_since if seen_change else None


def _reflects(calls: list[_Call], out: EpisodeReflection) -> None:
    for i, c in enumerate(calls):
        if c.call.name != "reflect":
            continue
        out.reflects += 1
        before = next((x.signature for x in reversed(calls[:i]) if x.call.name != "reflect"), None)
        after = next((x.signature for x in calls[i + 1:] if x.call.name != "reflect"), None)
        if before is not None and after is not None:
            out.reflect_judged += 1
            out.reflect_changed += after != before
