"""The one episode loop.

`Episode` is the loop as a state machine driven one action at a time, behind the narrow interface
every driver uses (`arena.protocols.EpisodeEnv`): `view()`, `start()`, `step(action)`,
`stop(termination)`, `finish()` and `done`. `start()` sets the task up, `step()` runs the action's
tool calls and records the step, `finish()` grades and returns the result. Limits, recording, fault
injection and the levels' supervisors are wrappers over this interface (`arena.wrappers`,
`arena.levels`), never flags in here. `drive` lets an agent play an episode; the runner, the
Gymnasium env and the MCP server all use the very same object.

Infrastructure failures never escape `start()` or `step()`: they end the episode as
`infra_error`, so every driver only has to look at `done`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from arena.errors import AgentError, ContextOverflow, InfraError, StoreError, WorldBroken
from arena.grading import open_grading
from arena.protocols import Agent, EpisodeEnv, Family, Sandbox, State
from arena.tools import Toolbox, ToolboxWrapper, ToolContext, reflect, submit
from arena.types import (
    Action,
    Actor,
    Check,
    CheckResult,
    EpisodeResult,
    Event,
    Level,
    Limits,
    Observation,
    StepRecord,
    Task,
    TaskView,
    Termination,
    ToolCall,
    ToolResult,
    ToolSpec,
    Usage,
)

# A supervisor's own tool: called instead of the toolbox for its name (copilot hand-ins, help).
Handler = Callable[[ToolCall], Awaitable[ToolResult]]


def default_toolbox(family: Family, task: Task, *, reflective: bool = True) -> Toolbox:
    """The family's tools, plus `reflect` (a recorded thought) and `submit`, which every episode has."""
    tools = [t for t in family.tools(task) if t.name not in ("submit", "reflect")]
    return Toolbox.of([*tools, *([reflect] if reflective else []), submit])


class Episode:
    """One agent, one task, one level, one trial: the core that wrappers build on."""

    def __init__(
        self,
        family: Family,
        task: Task,
        sandbox: Sandbox,
        *,
        level: Level = "agent",
        limits: Limits | None = None,
        paraphrase: int = 0,
        toolbox: Toolbox | ToolboxWrapper | None = None,
    ) -> None:
        self.family = family
        self.task = task
        self.sandbox = sandbox
        self.level: Level = level
        self.limits = limits or task.limits
        self.paraphrase = paraphrase
        self.toolbox = toolbox if toolbox is not None else default_toolbox(family, task)
        self.handlers: dict[str, tuple[ToolSpec, Handler]] = {}
        self.instruction = task.instruction(paraphrase)
        self.state: State | None = None
        self.steps: list[StepRecord] = []
        self.usage = Usage()
        self.termination: Termination | None = None
        self.error: str | None = None
        self.world_broken = False  # the agent made its sandbox unusable: nothing left to grade
        self.deadline: float | None = None  # time.monotonic() when the episode's time runs out
        self.pending_events: list[Event] = []
        self._started = 0.0
        self._result: EpisodeResult | None = None

    # ------------------------------------------------------------------ the interface

    @property
    def unwrapped(self) -> Episode:
        return self

    @property
    def done(self) -> bool:
        return self.termination is not None

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started if self._started else 0.0

    def remaining(self) -> float | None:
        """Seconds left before the time limit, or None when no limit is set."""
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def specs(self) -> list[ToolSpec]:
        specs = [s for s in self.toolbox.specs() if s.name not in self.handlers]
        return specs + [spec for spec, _ in self.handlers.values()]

    def view(self) -> TaskView:
        return TaskView(
            task_id=self.task.public_id,
            family=self.task.family,
            instruction=self.instruction,
            tools=self.specs(),
            level=self.level,
            limits=self.limits,
        )

    async def start(self) -> Observation:
        """Set the task up in the sandbox; a setup that cannot run ends the episode as `infra_error`."""
        self._started = time.monotonic()
        try:
            self.state = await self.family.setup(self.task, self.sandbox)
        except Exception as e:  # a setup that cannot run is infrastructure, not the agent's doing
            message = str(e) if isinstance(e, InfraError) else f"{type(e).__name__}: {e}"
            self.stop("infra_error", f"setup of {self.task.id} failed: {message}")
        return Observation(step=0, done=self.done)

    async def step(self, action: Action, *, actor: Actor = "agent") -> Observation:
        """Run the action's tool calls in order and record the step."""
        assert self.state is not None or self.done, "start() the episode first"
        if self.done:
            return Observation(step=len(self.steps), note="the episode is over", done=True)
        started_wall, started = time.time(), time.monotonic()
        results: list[ToolResult] = []
        notes: list[str] = []
        if action.parse_error:
            notes.append(f"your reply could not be read as an action: {action.parse_error}")
        elif not action.tool_calls:
            notes.append("no tool call in your reply: call one of the tools, or call submit when you are done")
        assert self.state is not None
        try:
            for i, call in enumerate(action.tool_calls):
                remaining = self.remaining()
                if remaining is not None and remaining <= 0:
                    results += [_not_run(c, "not run: the episode's time is up") for c in action.tool_calls[i:]]
                    self.stop("time_limit", f"time limit of {self.limits.max_seconds:g}s reached")
                    break
                results.append(await self._call(call, remaining))
                if self.done:
                    if i + 1 < len(action.tool_calls):
                        notes.append("calls after the episode ended were ignored")
                    break
        except WorldBroken as e:
            self.world_broken = True
            self.stop("agent_error", f"the agent's sandbox became unusable: {e}")
            notes.append(f"the sandbox is unusable: {e}")
        except InfraError as e:
            self.stop("infra_error", str(e))
            notes.append(f"infrastructure failed: {e}")
        if action.usage is not None:
            self.usage = self.usage + action.usage
        record = StepRecord(
            index=len(self.steps) + 1,
            action=action,
            results=results,
            note="; ".join(notes) or None,
            started=started_wall,
            seconds=round(time.monotonic() - started, 4),
            actor=actor,
            events=self.pending_events,
        )
        self.pending_events = []
        self.steps.append(record)
        return Observation(step=record.index, results=results, note=record.note, done=self.done)

    async def _call(self, call: ToolCall, remaining: float | None) -> ToolResult:
        if call.name in self.handlers:
            return await self.handlers[call.name][1](call)
        assert self.state is not None
        timeout = self.limits.tool_timeout
        ctx = ToolContext(self.sandbox, self.task, self.state, timeout=timeout, remaining=remaining)
        result = await self.toolbox.call(call, ctx)
        if call.name == "submit" and not result.is_error:
            self.termination = "submitted"
        return result

    def annotate(self, obs: Observation, note: str) -> Observation:
        """Add a note to the last step (stored) and to the observation (what the agent sees)."""
        combined = f"{obs.note}; {note}" if obs.note else note
        if self.steps and self.steps[-1].index == obs.step:
            self.steps[-1].note = combined
        return obs.model_copy(update={"note": combined, "done": self.done})

    def stop(self, termination: Termination, reason: str | None = None) -> None:
        """End the episode from outside (a limit, agent failure, cancellation, infrastructure)."""
        if self.termination is None or termination == "infra_error":
            self.termination = termination
            self.error = reason if reason is not None else self.error

    async def finish(self) -> EpisodeResult:
        """Grade (unless infrastructure failed or nothing is left to grade) and derive the result
        from the recorded steps. Idempotent."""
        if self._result is not None:
            return self._result
        termination: Termination = self.termination or "cancelled"
        checks = CheckResult()
        error = self.error
        if termination not in ("infra_error", "cancelled") and self.state is not None and not self.world_broken:
            checks, infra = await self._grade()
            if infra is not None:
                termination, error = "infra_error", infra
        if termination in ("infra_error", "cancelled"):
            outcome = "error"
        else:
            outcome = "success" if termination == "submitted" and checks.success else "fail"
        calls = [r for s in self.steps for r in s.results]
        self._result = EpisodeResult(
            outcome=outcome,
            termination=termination,
            score=checks.score,
            checks=checks.checks,
            steps=len(self.steps),
            tool_calls=len(calls),
            tool_errors=sum(r.is_error for r in calls),
            usage=self.usage,
            seconds=round(self.elapsed, 3),
            error=error,
            task_id=self.task.id,
        )
        return self._result

    async def _grade(self) -> tuple[CheckResult, str | None]:
        """The final checks, read after every agent process was stopped. What the agent did to its
        own world that breaks grading is its failure (a failed `grading` check saying why); only
        the arena's own machinery failing is infrastructure."""
        assert self.state is not None
        try:
            async with open_grading(self.sandbox, final=True) as view:
                return await self.family.check(self.task, view, self.state), None
        except InfraError as e:
            return CheckResult(), str(e)
        except Exception as e:
            detail = f"grading failed on the world the agent left: {type(e).__name__}: {e}"
            return CheckResult(checks=[Check(name="grading", passed=False, detail=detail[:2000])]), None

    def __repr__(self) -> str:
        return f"Episode({self.task.id}, level={self.level})"


def _not_run(call: ToolCall, why: str) -> ToolResult:
    return ToolResult(call_id=call.id, name=call.name, output=why, is_error=True)


async def drive(env: EpisodeEnv, agent: Agent, obs: Observation | None = None) -> None:
    """Let an agent play a started episode to its end. Agent failures end it as `agent_error`,
    a full context as `context`, an endpoint that never answered as `infra_error`."""
    core = env.unwrapped
    obs = obs or Observation(step=0)

    def left() -> float | None:
        remaining = core.remaining()
        return None if remaining is None else max(remaining, 0.05)

    # asyncio.timeout, not wait_for: wait_for runs each call as a task of its own, which costs
    # CPU and a turn of the event loop per model call, and with a thousand episodes in flight
    # every turn of the loop is long.
    try:
        async with asyncio.timeout(left()):
            await agent.reset(env.view())
        while not env.done:
            remaining = core.remaining()
            if remaining is not None and remaining <= 0:
                env.stop("time_limit", f"time limit of {core.limits.max_seconds:g}s reached")
                break
            async with asyncio.timeout(left()):
                action = await agent.act(obs)
            obs = await env.step(action)
    except TimeoutError:
        env.stop("time_limit", f"time limit of {core.limits.max_seconds:g}s reached while the agent was thinking")
    except ContextOverflow as e:
        if e.at_start:
            raise
        env.stop("context", str(e))
    except AgentError as e:
        env.stop("agent_error", str(e))
    except InfraError as e:
        env.stop("infra_error", str(e))
    except StoreError:  # the arena's own failure: the run stops, the agent takes no blame
        raise
    except Exception as e:  # an agent bug ends its episode, never the run
        env.stop("agent_error", f"{type(e).__name__}: {e}")


async def run_episode(
    family: Family,
    task: Task,
    agent: Agent,
    sandbox: Sandbox,
    *,
    level: Level = "agent",
    limits: Limits | None = None,
    paraphrase: int = 0,
    on_step: Callable[[StepRecord], None] | None = None,
    faults: object | None = None,
) -> EpisodeResult:
    """Play one episode of `level` in a sandbox the caller owns: build the level's stack, let the
    agent act until it submits or a limit is hit, then grade. The built-in oracle is handed the
    reference solution; no other agent is."""
    from arena.agents.oracle import receives_solution
    from arena.attempt import play
    from arena.levels import build_episode
    from arena.wrappers import Recorder

    env = build_episode(family, task, sandbox, level=level, limits=limits, paraphrase=paraphrase,
                        faults=faults)  # type: ignore[arg-type]
    if on_step is not None:
        env = Recorder(env, on_step)
    if receives_solution(agent):
        agent.bind_solution(family.solution(task))  # type: ignore[attr-defined]
    return await play(env, agent)
