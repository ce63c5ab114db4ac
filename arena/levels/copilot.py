"""The copilot level: a supervisor walks the agent through the task's subgoals one at a time.

The agent sees the whole instruction and the current subgoal ("step 2 of 3: ..."). `submit`
hands the current subgoal in: the supervisor checks it with the family's own named checks, with
every agent process frozen, and answers only "met" or "not met" (nothing of the grader reaches
the agent or stays in its world). A hand-in that is not met is feedback, counted. `ask_for_help`
reveals the next reference step of the current subgoal (an intervention). A subgoal not met
within its budget of agent steps is taken over: the supervisor plays its reference steps through
the same tools (as `supervisor` steps) and the episode goes on with the next subgoal. When the
last subgoal is met the episode ends as submitted.

Every decision is an `Event` in the stored steps, so the level's figures (subgoals the agent met
itself, rejected hand-ins, interventions, takeovers) are computed from the trajectory. A taken-over
episode cannot be a success: the supervisor, not the agent, finished it (a failed `no_takeover`
guard check says so), and its score is at most the share of subgoals not taken over.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field

from arena.errors import InfraError, WorldBroken
from arena.grading import open_grading
from arena.protocols import EpisodeEnv
from arena.tools import parse_arguments
from arena.types import (
    Action,
    Check,
    EpisodeResult,
    Event,
    Observation,
    Subgoal,
    ToolCall,
    ToolResult,
    ToolSpec,
)
from arena.wrappers import EpisodeWrapper

HAND_IN_SPEC = ToolSpec(
    name="submit",
    description="Hand in the current subgoal when you believe it is met (with your answer, if the task asks for "
    "one). The supervisor checks it and says whether it is met; after the last subgoal the task is done.",
    parameters={
        "type": "object",
        "properties": {"answer": {"type": "string", "description": "Your answer, when the task asks for one."}},
    },
)
HELP_SPEC = ToolSpec(
    name="ask_for_help",
    description="Ask the supervisor for the next step of a reference solution for the current subgoal. "
    "Each answer counts as an intervention.",
    parameters={"type": "object", "properties": {}},
)


class CopilotConfig(BaseModel):
    """`[copilot]` in run.toml."""

    model_config = ConfigDict(extra="forbid")

    subgoal_steps: int | None = Field(
        None, ge=1, description="agent steps per subgoal before the supervisor takes over "
        "(default: twice the subgoal's reference steps plus three, at least five)",
    )


class Copilot(EpisodeWrapper):
    def __init__(self, inner: EpisodeEnv, config: CopilotConfig | None = None) -> None:
        super().__init__(inner)
        self.config = config or CopilotConfig()
        core = self.unwrapped
        task = core.task
        self.subgoals: list[Subgoal] = list(task.subgoals) or [
            Subgoal(name="task", description="the whole task", checks=[])
        ]
        self.reference, self.answer = group_reference(core.family.solution(task), self.subgoals)
        self.index = 0  # the current subgoal
        self.since = 0  # agent steps since the current subgoal began
        self.hints = [0] * len(self.subgoals)
        self.takeovers = 0
        core.handlers["submit"] = (HAND_IN_SPEC, self._hand_in)
        core.handlers["ask_for_help"] = (HELP_SPEC, self._help)
        core.instruction = (
            f"{core.instruction}\n\nYou work with a supervisor, one subgoal at a time ({len(self.subgoals)} in all). "
            f"Call submit when you believe the current subgoal is met; the supervisor checks it. Call ask_for_help "
            f"to see a next step.\n\n{self._current_text()}"
        )

    def describe(self) -> str:
        return f"Copilot({len(self.subgoals)} subgoals)"

    def budget(self, index: int) -> int:
        if self.config.subgoal_steps is not None:
            return self.config.subgoal_steps
        return max(5, 2 * len(self.reference[index]) + 3)

    def _current_text(self) -> str:
        goal = self.subgoals[self.index]
        return f"Step {self.index + 1} of {len(self.subgoals)}: {goal.description}"

    # ------------------------------------------------------------ stepping

    async def start(self) -> Observation:
        obs = await self.inner.start()
        self.unwrapped.pending_events.append(Event(kind="subgoal", subgoal=self.subgoals[0].name))
        return obs

    async def step(self, action: Action) -> Observation:
        before = self.index
        obs = await self.inner.step(action)
        if self.done or self.index != before:
            self.since = 0
            return obs
        self.since += 1
        if self.since < self.budget(self.index):
            return obs
        note = await self._take_over()
        return self.unwrapped.annotate(obs, note)

    async def finish(self) -> EpisodeResult:
        result = await self.inner.finish()
        if result.outcome == "error":
            return result
        guard = Check(
            name="no_takeover", kind="guard", passed=self.takeovers == 0,
            detail="the agent finished every subgoal" if not self.takeovers
            else f"the supervisor took over {self.takeovers} subgoal(s)",
        )
        checks = [*result.checks, guard]
        success = result.outcome == "success" and guard.passed
        # What the supervisor did is not the agent's progress: taken-over subgoals score nothing.
        own = 1 - self.takeovers / len(self.subgoals)
        return result.model_copy(update={
            "checks": checks, "outcome": "success" if success else "fail", "score": min(result.score, own),
        })  # fmt: skip

    # ------------------------------------------------------------ the supervisor's tools

    async def _hand_in(self, call: ToolCall) -> ToolResult:
        core = self.unwrapped
        try:
            args = parse_arguments(call.arguments)
        except Exception as e:
            return _result(call, f"error: {e}", error=True)
        answer = args.get("answer")
        if answer is not None and core.state is not None:
            core.state.answer = answer if isinstance(answer, str) else json.dumps(answer)
        goal = self.subgoals[self.index]
        met = await self._met()
        if not met.get(goal.name, False):
            core.pending_events.append(Event(kind="hand_in_rejected", subgoal=goal.name))
            return _result(call, f"not met yet: {self._current_text()}. Keep working on it, or call ask_for_help.",
                           error=True)
        core.pending_events.append(Event(kind="hand_in_met", subgoal=goal.name))
        done = self._advance(met)
        if done:
            core.termination = "submitted"
            return _result(call, "met: every subgoal is done; the task is complete.")
        return _result(call, f"met. Next: {self._current_text()}")

    async def _help(self, call: ToolCall) -> ToolResult:
        core = self.unwrapped
        steps = self.reference[self.index]
        shown = self.hints[self.index]
        goal = self.subgoals[self.index]
        if shown >= len(steps):
            hint = "no further step to show for this subgoal; call submit when you think it is met"
            if self.index == len(self.subgoals) - 1 and self.answer is not None:
                hint = f"hand it in with submit and the answer {self.answer!r}"
        else:
            step = steps[shown]
            self.hints[self.index] += 1
            arguments = step.arguments if isinstance(step.arguments, str) else json.dumps(step.arguments)
            hint = f"a next step for {goal.description!r}: call {step.name} with {arguments}"
        core.pending_events.append(Event(kind="help", subgoal=goal.name, detail=hint[:500]))
        return _result(call, hint)

    # ------------------------------------------------------------ checking, advancing, taking over

    async def _met(self) -> dict[str, bool]:
        """Which subgoals are met now: all their named checks pass. Agent processes are frozen
        while the family's checks run; a check that fails to run means not met."""
        core = self.unwrapped
        assert core.state is not None
        try:
            async with open_grading(core.sandbox, final=False) as view:
                result = await core.family.check(core.task, view, core.state)
        except (InfraError, WorldBroken):
            raise
        except Exception:
            return {}
        passed = {c.name: c.passed for c in result.checks}
        goals = [c.name for c in result.checks if c.kind == "goal"]
        met = {}
        for goal in self.subgoals:
            names = goal.checks or goals
            met[goal.name] = bool(names) and all(passed.get(n, False) for n in names)
        return met

    def _advance(self, met: dict[str, bool]) -> bool:
        """Move past the current subgoal and any later ones already met; True when all are done."""
        core = self.unwrapped
        self.index += 1
        while self.index < len(self.subgoals) and met.get(self.subgoals[self.index].name, False):
            core.pending_events.append(Event(kind="subgoal_met", subgoal=self.subgoals[self.index].name))
            self.index += 1
        if self.index >= len(self.subgoals):
            return True
        core.pending_events.append(Event(kind="subgoal", subgoal=self.subgoals[self.index].name))
        return False

    async def _take_over(self) -> str:
        core = self.unwrapped
        goal = self.subgoals[self.index]
        self.takeovers += 1
        core.pending_events.append(Event(kind="takeover", subgoal=goal.name, detail=f"after {self.since} steps"))
        played = []
        for call in self.reference[self.index]:
            if core.done:
                break
            await core.step(Action(tool_calls=[call.model_copy(update={"id": ToolCall(name=call.name).id})]),
                            actor="supervisor")
            played.append(call.name)
        if core.done:
            return f"the supervisor took over {goal.description!r}"
        last = self.index == len(self.subgoals) - 1
        if last and self.answer is not None and core.state is not None:
            core.state.answer = self.answer
        met = await self._met()
        done = self._advance(met)
        summary = f"the supervisor took over {goal.description!r} ({', '.join(played) or 'nothing to play'})"
        if done:
            core.termination = "submitted"
            return f"{summary}; every subgoal is done"
        self.since = 0
        return f"{summary}. Now: {self._current_text()}"


def group_reference(solution: list[ToolCall], subgoals: list[Subgoal]) -> tuple[list[list[ToolCall]], str | None]:
    """The reference steps of each subgoal, in order, and the final answer (the reference's submit).
    An untagged step belongs with the step before it (the first subgoal when it comes first)."""
    names = [g.name for g in subgoals]
    groups: list[list[ToolCall]] = [[] for _ in subgoals]
    answer = None
    current = 0
    for call in solution:
        if call.name == "submit":
            args = call.arguments if isinstance(call.arguments, dict) else {}
            answer = args.get("answer", answer)
            continue
        if call.subgoal in names:
            current = names.index(call.subgoal)
        groups[current].append(call)
    return groups, answer


def _result(call: ToolCall, text: str, *, error: bool = False) -> ToolResult:
    return ToolResult(call_id=call.id, name=call.name, output=text, is_error=error, effect="none")
