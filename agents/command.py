"""`command:"PROGRAM ARGS"`: an agent that is an external program, in any language.

One process per episode; it speaks newline-delimited JSON (one object per line, UTF-8) over its
stdin and stdout. Its stderr is captured for error messages, never read as protocol.

The arena writes:

    {"type": "reset", "task": TASK}               once, first; no reply is expected
    {"type": "observation", "observation": OBS}   every turn; exactly one action line is expected

TASK is the task view: `task_id`, `family`, `instruction`, `tools` (each `name`, `description`,
`parameters` as JSON Schema), `level` and `limits`. OBS has `step` (0 on the first turn),
`results` (per tool call: `call_id`, `name`, `output`, `is_error`, `truncated`, `fault`,
`seconds`), `note` (what the arena has to say, e.g. "no tool call in your reply") and `done`.

The program answers each observation with one action line:

    {"tool_calls": [{"name": "read_file", "arguments": {"path": "notes.txt"}}]}
    {"submit": "the answer"}                      shorthand for one call of the submit tool
                                                  (`"submit": null` submits without an answer)

An action may also carry `"message"` (free text, kept in the trajectory) and `"usage"`
(`input_tokens`, `output_tokens`, `cost_usd`) when the program calls a model itself; a tool
call's `"id"` is optional. Calling `submit` ends the episode. End of stdin means the episode is
over: exit then (the process is killed shortly after anyway).

The episode ends as `fail` (the reason recorded) when the program exits, writes a line that is
not a valid action, or does not answer within `timeout` seconds (default 60) of an observation;
the run goes on.

The program is the agent under test, so by default it runs in a jail of its own
(`arena.sandbox.agent_jail`): the system's /usr, the files its command line names and the paths
in `readable`, read-only; a private HOME and /tmp; no network unless `network = true` (then the
host's, for its model endpoint); only the environment variables named in `pass_env` (its API keys)
and set in `env`. It cannot see the arena's store, code or grading material, and every process it
starts ends with the episode. `trust = true` runs it on the host instead, with the arena's
environment, as the user's own trusted code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import shutil
import signal
from collections import deque
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from arena.errors import AgentError, ConfigError
from arena.processes import start_process
from arena.types import Action, EpisodeKey, Observation, TaskView

LINE_LIMIT = 16 * 1024 * 1024  # one protocol line; a longer one is garbage
STDERR_KEEP_LINES = 20
STDERR_LINE_CHARS = 300
EXIT_GRACE = 1.0  # seconds between end of stdin and the kill


class CommandOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timeout: float = Field(60.0, gt=0)  # seconds to answer one observation
    cwd: str | None = None  # where relative paths of the command line are found (default: where the run starts)
    env: dict[str, str] = Field(default_factory=dict)  # extra environment; only the names are stored
    pass_env: list[str] = Field(default_factory=list)  # host variables the program gets (its API keys)
    readable: list[str] = Field(default_factory=list)  # more paths it may read (its code, its data)
    network: bool = False  # jailed programs get no network unless this is set
    trust: bool = False  # run on the host with the arena's environment: no jail at all


class CommandFactory:
    def __init__(self, rest: str, options: dict[str, Any]) -> None:
        try:
            self.argv = shlex.split(rest)
        except ValueError as e:
            raise ConfigError(f"cannot split command {rest!r}: {e}") from None
        if not self.argv:
            raise ConfigError("command: needs a program, e.g. command:\"python my_agent.py\"")
        try:
            self.options = CommandOptions.model_validate(options)
        except ValidationError as e:
            known = ", ".join(CommandOptions.model_fields)
            raise ConfigError(f"bad options for command:{rest}: {e.errors()[0]['msg']} (known: {known})") from None
        program = self.argv[0]
        if shutil.which(program) is None and not (os.sep in program and Path(program).is_file()):
            raise ConfigError(f"command:{rest}: program {program!r} not found (give a path or a name on PATH)")
        self.name = f"command:{rest}"
        self.config: dict[str, Any] = {
            "kind": "command",
            "argv": self.argv,
            "timeout": self.options.timeout,
            "cwd": self.options.cwd,
            "env_names": sorted(self.options.env),  # values may be secrets
            "pass_env": sorted(self.options.pass_env),
            "readable": self.options.readable,
            "network": self.options.network,
            "trust": self.options.trust,
        }

    def __call__(self, key: EpisodeKey) -> CommandAgent:
        return CommandAgent(self.argv, self.options)


def make_factory(rest: str, options: dict[str, Any]) -> CommandFactory:
    return CommandFactory(rest, options)


class CommandAgent:
    """Drives one external program for one episode."""

    def __init__(self, argv: list[str], options: CommandOptions) -> None:
        self.argv = argv
        self.options = options
        self.proc: Any = None  # an asyncio process, or a jailed one
        self.stderr: deque[str] = deque(maxlen=STDERR_KEEP_LINES)
        self._stderr_task: asyncio.Task[None] | None = None

    async def reset(self, view: TaskView) -> None:
        await self.close()
        try:
            self.proc = await (self._start_trusted() if self.options.trust else self._start_jailed())
        except OSError as e:
            raise AgentError(f"cannot start {shlex.join(self.argv)}: {e}") from None
        self._stderr_task = asyncio.create_task(self._drain_stderr())
        await self._send({"type": "reset", "task": view.model_dump(mode="json")})

    async def _start_trusted(self) -> Any:
        return await start_process(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=self.options.cwd,
            env={**os.environ, **self.options.env} if self.options.env else None,
            limit=LINE_LIMIT,
            start_new_session=True,  # its own process group: close() kills its children too
        )

    async def _start_jailed(self) -> Any:
        from arena.errors import SandboxError
        from arena.sandbox.agent_jail import start_jailed

        base = Path(self.options.cwd or os.getcwd())
        argv, named = [], []
        for arg in self.argv:  # files the command line names are the program's own: readable, by absolute path
            path = base / arg
            if not arg.startswith("-") and ("/" in arg or arg.endswith((".py", ".json", ".toml"))) and path.exists():
                argv.append(str(path.resolve()))
                named.append(str(path.resolve()))
            else:
                argv.append(arg)
        env = {"LANG": "C.UTF-8", **{k: os.environ[k] for k in self.options.pass_env if k in os.environ},
               **self.options.env}
        try:
            process = await start_jailed(argv, cwd=None, env=env, network=self.options.network,
                                         readable=[*named, *(str(base / p) for p in self.options.readable)])
        except SandboxError as e:
            raise AgentError(f"cannot start {shlex.join(self.argv)} in its jail: {e}") from None
        # asyncio's default line limit is 64 KiB; a protocol line may be longer.
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream._limit = LINE_LIMIT  # type: ignore[attr-defined]
        return process

    async def act(self, obs: Observation) -> Action:
        await self._send({"type": "observation", "observation": obs.model_dump(mode="json")})
        line = await self._read_line()
        return self._parse(line)

    async def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and hasattr(proc, "kill_all"):  # jailed: ending the jail ends everything in it
            if proc.stdin is not None and not proc.stdin.is_closing():
                proc.stdin.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), EXIT_GRACE)
            await proc.kill_all()
        elif proc is not None:
            if proc.stdin is not None and not proc.stdin.is_closing():
                proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), EXIT_GRACE)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
            else:  # the program exited; its children may still run
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
        if self._stderr_task is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._stderr_task, 1.0)
            self._stderr_task = None

    # ------------------------------------------------------------ protocol

    async def _send(self, message: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None, "reset() the agent first"
        try:
            self.proc.stdin.write(json.dumps(message).encode() + b"\n")
            # A program that stops reading fills the pipe; without a bound the write would wait forever.
            await asyncio.wait_for(self.proc.stdin.drain(), self.options.timeout)
        except (BrokenPipeError, ConnectionResetError):
            raise AgentError(await self._died("before reading its input")) from None
        except TimeoutError:
            await self._kill()
            raise AgentError(f"the program stopped reading its input for {self.options.timeout:g}s") from None

    async def _read_line(self) -> bytes:
        assert self.proc is not None and self.proc.stdout is not None
        while True:
            try:
                line = await asyncio.wait_for(self.proc.stdout.readline(), self.options.timeout)
            except TimeoutError:
                await self._kill()
                raise AgentError(
                    f"the program gave no action within {self.options.timeout:g}s (timeout){self._stderr_tail()}"
                ) from None
            except ValueError:  # asyncio's "line too long"
                await self._kill()
                tail = self._stderr_tail()
                raise AgentError(f"the program wrote a line longer than {LINE_LIMIT} bytes{tail}") from None
            if not line:
                raise AgentError(await self._died("before answering"))
            if line.strip():
                return line

    def _parse(self, line: bytes) -> Action:
        text = line.decode("utf-8", errors="replace").strip()
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            tail = self._stderr_tail()
            raise AgentError(f"the program wrote a line that is not JSON: {text[:200]!r}{tail}") from None
        if not isinstance(data, dict):
            raise AgentError(f"the program wrote JSON that is not an action object: {text[:200]!r}")
        if "submit" in data:  # shorthand for one submit call
            answer = data.pop("submit")
            if answer is not None and not isinstance(answer, str):
                answer = json.dumps(answer)
            data["tool_calls"] = [{"name": "submit", "arguments": {} if answer is None else {"answer": answer}}]
        try:
            unknown = set(data) - {"tool_calls", "message", "usage", "info"}
            if unknown:
                raise ValueError(f"unknown keys {sorted(unknown)}")
            return Action.model_validate(data)
        except (ValidationError, ValueError) as e:
            raise AgentError(f"the program wrote an invalid action ({_first_error(e)}): {text[:200]!r}") from None

    async def _died(self, when: str) -> str:
        assert self.proc is not None
        try:
            code = await asyncio.wait_for(self.proc.wait(), 2.0)
        except TimeoutError:
            return f"the program closed its output {when}{self._stderr_tail()}"
        if self._stderr_task is not None:  # let the last stderr lines arrive
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._stderr_task), 1.0)
        return f"the program exited with code {code} {when}{self._stderr_tail()}"

    async def _kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            if hasattr(self.proc, "kill_all"):
                self.proc.kill()
                return
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    async def _drain_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        stream = self.proc.stderr
        while True:
            try:
                line = await stream.readline()
            except ValueError:  # a huge line without newline: drop it, keep reading
                continue
            if not line:
                return
            text = line.decode("utf-8", errors="replace").rstrip()
            if text:
                self.stderr.append(text[:STDERR_LINE_CHARS])

    def _stderr_tail(self) -> str:
        if not self.stderr:
            return ""
        return "; stderr (last lines):\n" + "\n".join(self.stderr)


def _first_error(e: Exception) -> str:
    if isinstance(e, ValidationError):
        err = e.errors()[0]
        return f"{'.'.join(map(str, err['loc'])) or 'action'}: {err['msg']}"
    return str(e)
