"""The episode behind an MCP server, shared by every connection and session of the process.

Listing tools, prompts or resources is free: it reads the episode's view and never starts,
stores or grades anything. Each `tools/call` is one step of the very episode stack the runner
builds, stored as it happens through the runner's `Recorder`; the first one sets the task up and
starts its clock. The episode ends exactly once: at `submit` (for the copilot, the last hand-in
that is met) or a limit, after `idle_timeout` seconds without a call, when a stdio client ends
the process (graded, as the agent's failure: the client owns a stdio server, so ending it is no
way out of a failing episode), or when an HTTP server is stopped by its operator (put back to
pending, as an interrupted `arena run` is).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from mcp import types

from arena.attempt import close_quietly
from arena.drivers.mcp._run import ServedRun
from arena.errors import StoreError
from arena.protocols import EpisodeEnv
from arena.types import Action, EpisodeResult, TaskView, Termination, ToolCall

HEARTBEAT_SECONDS = 5.0
CALL_GRACE_SECONDS = 60.0  # how long a stopping server waits for the calls in flight to finish


class EpisodeService:
    def __init__(self, env: EpisodeEnv, run: ServedRun, *, idle_timeout: float | None = None) -> None:
        self.env = env
        self.run = run
        self.idle_timeout = idle_timeout
        self.result: EpisodeResult | None = None
        self.interrupted = False
        self.failure: BaseException | None = None  # the arena's own failure (say, the store): serving stops
        self.failed = asyncio.Event()
        self.started = False
        self._lock = asyncio.Lock()  # calls from several sessions run one at a time, in arrival order
        self._last_call = time.monotonic()
        self._calls: set[asyncio.Task[types.CallToolResult]] = set()

    @property
    def over(self) -> bool:
        return self.result is not None or self.interrupted

    def view(self) -> TaskView:
        return self.env.view()

    def tools(self) -> list[types.Tool]:
        view = self.view()
        tools = []
        for spec in view.tools:
            description = spec.description
            if spec.name == "submit":  # the one place every client shows its model
                description += f"\n\nThe task:\n{view.instruction}"
            tools.append(types.Tool(name=spec.name, description=description, input_schema=spec.parameters))
        return tools

    # ------------------------------------------------------------ steps

    async def call(self, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        """One step. Shielded: a client that drops its connection or cancels mid-call does not cut
        the step short; it runs to its end and is stored all the same."""
        task = asyncio.create_task(self._call(name, arguments))
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)
        return await asyncio.shield(task)

    async def _call(self, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        async with self._lock:
            self._last_call = time.monotonic()
            try:
                return await self._step(name, arguments)
            except StoreError as e:  # the arena failed, not the agent: stop serving, show the client nothing of it
                self._fail(e)
                return _text("error: the arena failed to store this call and stops; the episode is not counted",
                             error=True)
            except Exception as e:  # as in the runner's loop: what escapes a step ends the episode, graded
                return await self._end_after(e)
            finally:
                self._last_call = time.monotonic()

    async def _end_after(self, error: Exception) -> types.CallToolResult:
        try:
            if self.result is None:
                self.env.stop("agent_error", f"{type(error).__name__}: {error}")
                await self._finish()
            return _text(f"error: {self.over_text()}", error=True)
        except Exception as e:
            self._fail(e)
            return _text("error: the arena failed and stops; the episode is not counted", error=True)

    async def _step(self, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        if self.failure is not None:
            return _text("error: the arena failed and stops; no more tool calls are run", error=True)
        if self.over:
            return _text(f"error: {self.over_text()}; no more tool calls are run", error=True)
        if not self.started:
            try:
                self.run.begin()
            except Exception as e:  # the store refused the run: nothing started, so nothing to end
                self._fail(e)
                return _text("error: the arena could not store the episode and stops; nothing was started",
                             error=True)
            self.started = True
            await self.env.start()
            if self.env.done:  # the task could not be set up: the arena's failure, recorded as such
                await self._finish()
                return _text(f"error: {self.over_text()}", error=True)
        obs = await self.env.step(Action(tool_calls=[ToolCall(name=name, arguments=arguments)]))
        result = obs.results[0] if obs.results else None
        text = result.output if result is not None else ""
        if obs.note:
            text += f"\n[arena] {obs.note}"
        if self.env.done:
            await self._finish()
            text += f"\n[arena] {self.over_text()}"
        return _text(text.strip(), error=bool(result and result.is_error))

    def over_text(self) -> str:
        """What the client is told once the episode is over: how it ended and was graded, check
        names and pass/fail only (a check's detail can hold grading material)."""
        if self.interrupted:
            return "the episode was stopped by the server before it ended"
        result = self.result
        assert result is not None
        if result.outcome == "error":
            return "the episode is over: the arena failed (not the agent); it is recorded as an error, not graded"
        passed = [c.name for c in result.checks if c.passed]
        failed = [c.name for c in result.checks if not c.passed]
        return (
            f"the episode is over ({result.termination}) and graded: {result.outcome}, score {result.score:.2f}; "
            f"checks passed: {', '.join(passed) or 'none'}; checks not passed: {', '.join(failed) or 'none'}"
        )

    async def _finish(self) -> None:
        try:
            self.result = await self.env.finish()
        finally:
            await close_quietly(self.env.unwrapped.sandbox)  # free it now; the server may live on
        self.run.finish(self.result)

    def _fail(self, error: BaseException) -> None:
        if self.failure is None:
            self.failure = error
        self.failed.set()

    # ------------------------------------------------------------ endings from outside

    async def end(self, termination: Termination, reason: str) -> None:
        """End a started episode from outside (its time limit, the idle timeout): graded."""
        async with self._lock:
            if not self.started or self.over or self.failure is not None:
                return
            try:
                self.env.stop(termination, reason)
                await self._finish()
            except Exception as e:
                self._fail(e)

    async def watch(self) -> None:
        """While serving: the time limit and the idle timeout (without calls nothing else checks
        them), and the heartbeat of the run's lease."""
        while True:
            wait = HEARTBEAT_SECONDS
            if self.started and not self.over and self.failure is None:
                core = self.env.unwrapped
                remaining = core.remaining()
                if remaining is not None and remaining <= 0:
                    await self.end("time_limit", f"time limit of {core.limits.max_seconds:g}s reached")
                    continue
                if remaining is not None:
                    wait = min(wait, remaining)
                if self.idle_timeout is not None:
                    idle = 0.0 if self._lock.locked() else time.monotonic() - self._last_call
                    if idle >= self.idle_timeout:
                        await self.end("agent_error", f"no tool call for {self.idle_timeout:g}s (the idle timeout)")
                        continue
                    wait = min(wait, self.idle_timeout - idle)
            try:
                self.run.heartbeat()
            except Exception as e:
                self._fail(e)
            await asyncio.sleep(max(wait, 0.05))

    async def close(self, *, graded: str | None) -> None:
        """Once serving has stopped: let the calls in flight finish, then end what is left. With
        `graded` (a stdio client ended the process: it disconnected or signalled the server) a
        started episode is graded as the agent's failure for that reason; without it (an HTTP
        server was stopped) the episode goes back to pending with its steps stored, like an
        interrupted `arena run`, and so does any episode when the arena itself failed."""
        if self._calls:
            _, late = await asyncio.wait(set(self._calls), timeout=CALL_GRACE_SECONDS)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
        async with self._lock:
            if not self.started or self.over:
                return
            if graded is not None and self.failure is None:
                self.env.stop("agent_error", graded)
                try:
                    await self._finish()
                except Exception as e:
                    self._fail(e)
                return
            self.interrupted = True
            await close_quietly(self.env.unwrapped.sandbox)
            # The Recorder stores every step on stop; the store itself may be what failed.
            with contextlib.suppress(Exception):
                self.env.stop("cancelled", "the MCP server was stopped")
            with contextlib.suppress(Exception):
                self.run.interrupt()


def _text(text: str, *, error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=error)
