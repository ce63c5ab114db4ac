"""`arena serve-mcp`: one episode served over stdio or streamable HTTP, the same service on both.

Over stdio the process is the connection and belongs to the client: when the client disconnects
or stops it, an episode still running is graded as the agent's failure. Over HTTP the server
outlives connections and sessions: clients that open one connection per call (the MCP Inspector's
CLI does) play the same episode in the same sandbox, and the server answers until its operator
stops it (Ctrl-C, SIGTERM), which puts an unfinished episode back to pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from arena.attempt import OneOff, episode_sandbox
from arena.config import RunConfig, new_run_id
from arena.drivers.mcp._run import AGENT_NAME, ServedRun
from arena.drivers.mcp._server import build_server
from arena.drivers.mcp._service import EpisodeService
from arena.drivers.mcp._stdio import serve_stdio
from arena.errors import ConfigError, InfraError
from arena.levels import build_episode
from arena.protocols import Family
from arena.registry import load_family
from arena.sandbox import SandboxConfig
from arena.store import Store
from arena.types import EpisodeResult, Level, Split, Task
from arena.wrappers import Recorder

Transport = Literal["stdio", "http"]
Log = Callable[[str], None]
MCP_PATH = "/mcp"
DEFAULT_PORT = 8765
SHUTDOWN_SECONDS = 3.0  # how long the clients' open HTTP streams may keep a stopping server waiting
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class Served:
    """How serving ended. `state` is `done` (the episode ended and is stored; `result`),
    `already_done` (an earlier server finished this run's episode; `result` is the stored one),
    `not_started` (no tool call came: nothing stored) or `interrupted` (an HTTP server was stopped
    mid-episode, by `signal`: its steps are stored and it is pending again)."""

    run_id: str
    task_id: str
    state: Literal["done", "already_done", "not_started", "interrupted"]
    result: EpisodeResult | None = None
    signal: str | None = None


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)  # stdout is the MCP channel over stdio


def family_for(name: str, level: Level) -> Family:
    """The family an episode of `level` plays: the family, or for `worker` a job built around it."""
    if level == "worker":
        from arena.levels.worker import JobFamily

        return JobFamily(name, [name])
    return load_family(name)


async def serve_episode(
    family: str,
    seed: int,
    *,
    split: Split = "dev",
    level: Level = "agent",
    sandbox: SandboxConfig,
    db_path: str,
    run_id: str | None = None,
    transport: Transport = "stdio",
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    idle_timeout: float | None = None,
    log: Log = _stderr,
) -> Served:
    """Serve one episode of `family` until it ends and the client goes (stdio) or the server is
    stopped (HTTP). With the `run_id` of an earlier server for the same task, a finished episode is
    reported without serving and an unfinished one is played again, as `arena run --resume` does."""
    fam = family_for(family, level)
    task = fam.generate(seed, split)
    config = RunConfig(
        agents=[AGENT_NAME], families=[family], seeds=[seed], splits=[split], levels=[level], sandbox=sandbox,
        concurrency=1, max_attempts=1,
    )
    store = Store(db_path)
    try:
        run = ServedRun.open(store, run_id or new_run_id(), config, task, transport=transport)
        if run.finished is not None:
            return Served(run.run_id, task.id, "already_done", run.finished)
        run.hold()
        try:
            return await _serve(fam, task, run, transport, host, port, idle_timeout, log)
        finally:
            run.release()
    finally:
        store.close()


async def _serve(
    fam: Family, task: Task, run: ServedRun, transport: Transport, host: str, port: int,
    idle_timeout: float | None, log: Log,
) -> Served:
    listener = _listen(host, port) if transport == "http" else None
    labels = {"arena.run": run.run_id, "arena.episode": run.key.id, "arena.attempt": str(run.next_attempt)}
    stops = _Stops(log)
    async with contextlib.AsyncExitStack() as stack:
        stack.enter_context(stops.installed())  # from here on a signal stops serving cleanly
        if listener is not None:
            stack.callback(listener.close)
        try:
            box = await stack.enter_async_context(episode_sandbox(fam, OneOff(run.config.sandbox), labels))
        except InfraError as e:
            raise InfraError(f"{e}; nothing was stored: fix the cause and serve again") from None
        config = run.config
        env = build_episode(
            fam, task, box, level=run.key.level, limits=config.limits.apply(task.limits),
            faults=config.faults.at(run.key.faults), config=config.level_options,
        )
        service = EpisodeService(Recorder(env, run.add_step), run, idle_timeout=idle_timeout)
        server = build_server(service)
        if run.previous is not None:
            log(f"run {run.run_id}: playing episode {task.id} again from the start (attempt {run.next_attempt})")
        watcher = asyncio.create_task(service.watch())
        graded: str | None = None  # how a started episode that is still running gets graded; None: pending again
        try:
            if listener is not None:
                await _serve_http(server, listener, host, service, stops, log)
            else:
                log(f"serving episode {task.id} (run {run.run_id}, level {run.key.level}) over stdio")
                await _serve_stdio(server, service, stops)
                graded = (f"the MCP client stopped the server ({stops.caught[0]}) before calling submit"
                          if stops.caught else "the MCP client disconnected before calling submit")
        finally:
            watcher.cancel()
            stops.closing = True
            await service.close(graded=graded)
    if service.failure is not None:
        raise service.failure
    signal_name = stops.caught[0] if stops.caught else None
    if service.result is not None:
        return Served(run.run_id, task.id, "done", service.result, signal_name)
    if service.interrupted:
        return Served(run.run_id, task.id, "interrupted", signal=signal_name)
    return Served(run.run_id, task.id, "not_started", signal=signal_name)


# ---------------------------------------------------------------- transports


async def _serve_stdio(server: Any, service: EpisodeService, stops: _Stops) -> None:
    """Serve over stdin/stdout until the client disconnects, a signal comes or the arena fails."""
    serving = asyncio.create_task(serve_stdio(server))
    stopper = asyncio.create_task(_any(stops.stop, service.failed))
    try:
        await asyncio.wait({serving, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (serving, stopper):
            task.cancel()
        await asyncio.gather(serving, stopper, return_exceptions=True)


async def _serve_http(
    server: Any, listener: socket.socket, host: str, service: EpisodeService, stops: _Stops, log: Log
) -> None:
    """Serve streamable HTTP on `listener` until a signal stops the server or the arena fails."""
    import uvicorn

    class Quiet(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:  # uvicorn >= 0.29: the arena handles signals (it ends
            yield  # the episode first), so uvicorn neither takes them nor raises them again on exit

    # Stateful sessions (the SDK's default): clients that keep one get server-to-client streams;
    # the episode itself belongs to no session.
    app = server.streamable_http_app(streamable_http_path=MCP_PATH, host=host)
    web = Quiet(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                               timeout_graceful_shutdown=SHUTDOWN_SECONDS))
    serving = asyncio.create_task(web.serve(sockets=[listener]))
    while not web.started:
        if serving.done():
            await serving
            raise InfraError("the HTTP server stopped while starting")
        await asyncio.sleep(0.02)
    if host not in LOOPBACK:
        log(f"warning: listening on {host}: anyone who can reach this port can play (and end) the episode")
    log(f"serving episode {service.run.task.id} (run {service.run.run_id}, level {service.run.key.level})")
    log(f"MCP server listening on {url_of(listener)}")
    stopper = asyncio.create_task(_any(stops.stop, service.failed))
    try:
        await asyncio.wait({serving, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        web.should_exit = True
        stopper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stopper
        await serving


def _listen(host: str, port: int) -> socket.socket:
    """The bound socket the HTTP server will serve on (`port` 0: a free one)."""
    try:
        (family, kind, proto, _, address), *_ = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise ConfigError(f"--host {host!r} cannot be listened on ({e.strerror}); give an address of this "
                          "machine, such as 127.0.0.1") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        raise ConfigError(f"cannot listen on {host} port {port}: {e.strerror}; pass another --port "
                          "(or --port 0 for a free one)") from None
    return sock


def url_of(listener: socket.socket) -> str:
    host, port = listener.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}{MCP_PATH}"


# ---------------------------------------------------------------- stopping


class _Stops:
    """SIGINT, SIGTERM and SIGHUP stop serving. While the episode is then being finished, the
    first further signal is let pass (a stdio client sends SIGTERM soon after it closes stdin) and
    the next one cancels at once."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.stop = asyncio.Event()
        self.caught: list[str] = []
        self.closing = False
        self._late = 0
        self._main = asyncio.current_task()

    def _on_signal(self, sig: signal.Signals) -> None:
        self.caught.append(sig.name)
        if not self.closing:
            self.stop.set()
            return
        self._late += 1
        if self._late == 1:
            self.log(f"{sig.name}: finishing the episode first; signal again to stop at once")
        elif self._main is not None:
            self._main.cancel()

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # only the main thread receives signals: a caller elsewhere stops serving by cancelling
            return
        loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            loop.add_signal_handler(sig, self._on_signal, sig)
        try:
            yield
        finally:
            for sig in SIGNALS:
                loop.remove_signal_handler(sig)


async def _any(*events: asyncio.Event) -> None:
    waits = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
