"""The one episode loop.

`Episode` is the loop as a state machine driven one action at a time: `start()` sets the task up,
`step(action)` runs the action's tool calls and records the step, `finish()` grades and tears
down. `run_episode` drives it with an agent; the Gymnasium view and the MCP server drive the very
same object from outside, so there is exactly one implementation of what an episode is.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from arena.errors import AgentError, InfraError
from arena.protocols import Agent, Family, Sandbox, State, is_oracle_aware
from arena.tools import Toolbox, ToolContext, run_tool
from arena.tools import submit as submit_tool
from arena.types import (
    Action,
    CheckResult,
    EpisodeResult,
    Level,
    Limits,
    Observation,
    StepRecord,
    Task,
    TaskView,
    Termination,
    ToolResult,
    Usage,
)

StepSink = Callable[[StepRecord], None]


class Episode:
    """One agent, one task, one level, one trial."""

    def __init__(
        self,
        family: Family,
        task: Task,
        sandbox: Sandbox,
        *,
        level: Level = "agent",
        limits: Limits | None = None,
        paraphrase: int = 0,
        on_step: StepSink | None = None,
    ) -> None:
        self.family = family
        self.task = task
        self.sandbox = sandbox
        self.level = level
        self.limits = limits or task.limits
        self.paraphrase = paraphrase
        self.on_step = on_step
        tools = [t for t in family.tools(task) if t.name != "submit"] + [submit_tool]
        self.toolbox = Toolbox.of(tools)
        self.state: State | None = None
        self.steps: list[StepRecord] = []
        self.usage = Usage()
        self.termination: Termination | None = None
        self.error: str | None = None
        self._started = 0.0

    # ------------------------------------------------------------------ driving

    @property
    def done(self) -> bool:
        return self.termination is not None

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started if self._started else 0.0

    @property
    def remaining_seconds(self) -> float:
        return max(0.0, self.limits.max_seconds - self.elapsed)

    def view(self) -> TaskView:
        return TaskView(
            task_id=self.task.id,
            family=self.task.family,
            instruction=self.task.instruction(self.paraphrase),
            tools=self.toolbox.specs(),
            level=self.level,
            limits=self.limits,
        )

    async def start(self) -> Observation:
        """Set the task up in the sandbox. Raises `InfraError` if that fails."""
        self._started = time.monotonic()
        try:
            self.state = await self.family.setup(self.task, self.sandbox)
        except InfraError:
            raise
        except Exception as e:  # a setup that cannot run is infrastructure, not the agent's doing
            raise InfraError(f"setup of {self.task.id} failed: {type(e).__name__}: {e}") from e
        return Observation(step=0)

    async def step(self, action: Action) -> Observation:
        """Run the action's tool calls in order, record the step, and apply the limits."""
        assert self.state is not None, "start() the episode first"
        if self.done:
            return Observation(step=len(self.steps), note="the episode is over", done=True)
        started_wall, started = time.time(), time.monotonic()
        results: list[ToolResult] = []
        note = None
        if action.parse_error:
            note = f"your reply could not be read as an action: {action.parse_error}"
        elif not action.tool_calls:
            note = "no tool call in your reply: call one of the tools, or call submit when you are done"
        ctx = ToolContext(self.sandbox, self.task, self.state, timeout=self.limits.tool_timeout)
        for i, call in enumerate(action.tool_calls):
            results.append(await run_tool(self.toolbox, call, ctx))
            if call.name == "submit" and not results[-1].is_error:
                self.termination = "submitted"
                if i + 1 < len(action.tool_calls):
                    note = "calls after submit were ignored"
                break
        if action.usage is not None:
            self.usage = self.usage + action.usage
        index = len(self.steps) + 1
        if not self.done:
            note = self._apply_limits(index) or note
        record = StepRecord(
            index=index,
            action=action,
            results=results,
            note=note,
            started=started_wall,
            seconds=round(time.monotonic() - started, 4),
        )
        self.steps.append(record)
        if self.on_step is not None:
            self.on_step(record)
        return Observation(step=index, results=results, note=note, done=self.done)

    def _apply_limits(self, index: int) -> str | None:
        limits = self.limits
        if index >= limits.max_steps:
            self.termination = "max_steps"
            return f"step limit of {limits.max_steps} reached"
        if self.elapsed >= limits.max_seconds:
            self.termination = "time_limit"
            return f"time limit of {limits.max_seconds:g}s reached"
        if limits.max_tokens and self.usage.input_tokens + self.usage.output_tokens >= limits.max_tokens:
            self.termination = "budget"
            return f"token budget of {limits.max_tokens} reached"
        if limits.max_cost_usd and (self.usage.cost_usd or 0.0) >= limits.max_cost_usd:
            self.termination = "budget"
            return f"cost budget of ${limits.max_cost_usd:g} reached"
        if index == limits.max_steps - 1:
            return "one step left: submit now"
        return None

    def stop(self, termination: Termination, error: str | None = None) -> None:
        """End the episode from outside (agent failure, cancellation, infrastructure)."""
        if self.termination is None or termination == "infra_error":
            self.termination = termination
            self.error = error

    async def finish(self) -> EpisodeResult:
        """Grade (unless infrastructure failed) and derive the result from the recorded steps."""
        termination = self.termination or "cancelled"
        checks = CheckResult()
        if termination not in ("infra_error", "cancelled") and self.state is not None:
            try:
                checks = await self.family.check(self.task, self.sandbox, self.state)
            except InfraError as e:
                termination, self.error = "infra_error", str(e)
            except Exception as e:
                termination, self.error = "infra_error", f"checker failed: {type(e).__name__}: {e}"
        if termination in ("infra_error", "cancelled"):
            outcome = "error"
        else:
            outcome = "success" if termination == "submitted" and checks.success else "fail"
        calls = [r for s in self.steps for r in s.results]
        return EpisodeResult(
            outcome=outcome,
            termination=termination,
            score=checks.score,
            checks=checks.checks,
            steps=len(self.steps),
            tool_calls=len(calls),
            tool_errors=sum(r.is_error for r in calls),
            usage=self.usage,
            seconds=round(self.elapsed, 3),
            error=self.error,
            task_id=self.task.id,
        )


async def drive(episode: Episode, agent: Agent) -> None:
    """Let an agent play a started episode to its end. Agent failures end it as `agent_error`;
    infrastructure failures propagate as `InfraError`."""
    if is_oracle_aware(agent):
        agent.bind_solution(episode.family.solution(episode.task))  # type: ignore[attr-defined]
    try:
        await asyncio.wait_for(agent.reset(episode.view()), timeout=max(episode.remaining_seconds, 0.1))
        obs = Observation(step=0)
        while not episode.done:
            remaining = episode.remaining_seconds
            if remaining <= 0:
                episode.stop("time_limit")
                break
            action = await asyncio.wait_for(agent.act(obs), timeout=remaining)
            obs = await episode.step(action)
    except TimeoutError:
        episode.stop("time_limit")
    except AgentError as e:
        episode.stop("agent_error", str(e))
    except InfraError:
        raise
    except Exception as e:  # an agent bug ends its episode, never the run
        episode.stop("agent_error", f"{type(e).__name__}: {e}")


async def run_episode(
    family: Family,
    task: Task,
    agent: Agent,
    sandbox: Sandbox,
    *,
    level: Level = "agent",
    limits: Limits | None = None,
    paraphrase: int = 0,
    on_step: StepSink | None = None,
) -> EpisodeResult:
    """Set up, let the agent act until it submits or a limit is hit, then grade.
    The caller owns the sandbox (opens and closes it)."""
    episode = Episode(family, task, sandbox, level=level, limits=limits, paraphrase=paraphrase, on_step=on_step)
    try:
        await episode.start()
        await drive(episode, agent)
    except InfraError as e:
        episode.stop("infra_error", str(e))
    except asyncio.CancelledError:
        episode.stop("cancelled")
        raise
    finally:
        closer = getattr(agent, "close", None)
        if callable(closer):
            with contextlib.suppress(Exception):  # a broken agent's close must not hide the result
                await closer()
    return await episode.finish()
