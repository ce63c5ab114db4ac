"""The three extension points: sandboxes, task families and agents, and the grading view.

They are `typing.Protocol`s: third parties need not inherit from anything; any object with
these members works, and any dotted import path `package.module:Name` loads one.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel

from arena.types import Action, CheckResult, EpisodeResult, Observation, Split, Task, TaskView, Termination, ToolCall

if TYPE_CHECKING:
    from arena.tools import Tool


class ExecResult(BaseModel):
    exit_code: int
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    seconds: float = 0.0


@runtime_checkable
class Sandbox(Protocol):
    """Where commands run. Paths are absolute inside the sandbox or relative to `workdir`."""

    workdir: str

    async def exec(
        self, cmd: str | list[str], *, timeout: float, stdin: bytes | None = None
    ) -> ExecResult: ...

    async def write_file(self, path: str, data: bytes) -> None: ...

    async def read_file(self, path: str) -> bytes: ...

    async def close(self) -> None: ...


@runtime_checkable
class GradingView(Protocol):
    """The world as a grader sees it, after (or, mid-episode, while freezing) every agent process.

    `exec`, `read_file` and `write_file` run with the privilege grading needs (the sandbox's own
    root, not the agent's uid), so nothing the agent did to permissions, processes or limits can
    make grading fail; they never run code the agent controls. `exec_untrusted` runs commands that
    do execute the agent's code (a test run) as an unprivileged grader user that is not the agent;
    its processes are killed when it returns. `scratch` is a directory only graders can see (fresh
    and empty each grading, removed afterwards): grading material goes there, never into the
    agent's work directory.
    """

    workdir: str
    scratch: str

    async def exec(
        self, cmd: str | list[str], *, timeout: float, stdin: bytes | None = None
    ) -> ExecResult: ...

    async def exec_untrusted(
        self, cmd: str | list[str], *, timeout: float, stdin: bytes | None = None, cwd: str | None = None
    ) -> ExecResult: ...

    async def write_file(self, path: str, data: bytes) -> None: ...

    async def read_file(self, path: str) -> bytes: ...


@runtime_checkable
class GradableSandbox(Sandbox, Protocol):
    """A sandbox that can hand graders a privileged view of itself (bwrap and Docker do).

    `grading(final=True)` stops every agent process for good before yielding; `final=False` (a
    copilot's mid-episode check) freezes them while the view is open and thaws them afterwards.
    """

    def grading(self, *, final: bool) -> AbstractAsyncContextManager[GradingView]: ...


class State:
    """Per-episode family state. Families subclass it to keep what their tools act on
    (a database, a browser session); the episode sets `answer` when the agent submits."""

    answer: str | None = None


@runtime_checkable
class Family(Protocol):
    """A generator of tasks with its tools, setup, checker and reference solution.

    `image` names the sandbox image the family's tasks run in (Docker) and says that the family
    needs a sandbox at all; `None` means its tools act on `State` only and no sandbox is started.
    """

    name: str
    version: str
    description: str
    templates: Sequence[str]
    image: str | None

    def generate(self, seed: int, split: Split) -> Task: ...

    def tools(self, task: Task) -> list[Tool]: ...

    async def setup(self, task: Task, sandbox: Sandbox) -> State: ...

    async def check(self, task: Task, sandbox: GradingView, state: State) -> CheckResult: ...

    def solution(self, task: Task) -> list[ToolCall]: ...


@runtime_checkable
class Agent(Protocol):
    """The system under test. A fresh agent is made for every episode."""

    async def reset(self, view: TaskView) -> None: ...

    async def act(self, obs: Observation) -> Action: ...


@runtime_checkable
class EpisodeEnv(Protocol):
    """The narrow interface of one episode, which the runner, the Gymnasium env and the MCP server
    use and nothing else. The core (`arena.episode.Episode`) and every wrapper over it
    (`arena.wrappers`, `arena.levels`) have it; `unwrapped` is the core."""

    @property
    def unwrapped(self) -> Any: ...

    @property
    def done(self) -> bool: ...

    def view(self) -> TaskView: ...

    async def start(self) -> Observation: ...

    async def step(self, action: Action) -> Observation: ...

    def stop(self, termination: Termination, reason: str | None = None) -> None: ...

    async def finish(self) -> EpisodeResult: ...
