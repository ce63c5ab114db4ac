"""`arena serve-mcp` started the way a user starts it, and the `mcp` SDK's own clients talking to it."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
from mcp import Client, ClientSession, types
from mcp.client.streamable_http import streamable_http_client

from arena.store import Store, StoredEpisode

REPO = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"MCP server listening on (http://\S+)")
START_SECONDS = 120.0  # generous: the test machines are shared and often loaded


class ServeMcp:
    """`python -m arena.cli serve-mcp FAMILY ... --transport http --port 0` in a subprocess; `url` is
    read from the line it prints on stderr once it listens."""

    def __init__(self, db: Path, family: str, *args: str) -> None:
        self.db = db
        self.argv = [sys.executable, "-m", "arena.cli", "serve-mcp", family, "--db", str(db),
                     "--transport", "http", "--port", "0", *args]
        self.log = db.parent / f"serve-mcp-{time.monotonic_ns()}.log"
        self.proc: asyncio.subprocess.Process | None = None
        self.url = ""

    @property
    def stderr(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    async def start(self, *, expect_url: bool = True) -> ServeMcp:
        with self.log.open("w") as err:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, cwd=REPO, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=err,
            )
        if not expect_url:
            return self
        deadline = time.monotonic() + START_SECONDS
        while not (match := LISTENING.search(self.stderr)):
            if self.proc.returncode is not None or time.monotonic() > deadline:
                raise AssertionError(f"serve-mcp did not start listening (exit {self.proc.returncode}):\n{self.stderr}")
            await asyncio.sleep(0.05)
        self.url = match.group(1)
        return self

    async def wait(self, timeout: float = 60.0) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def stop(self, sig: signal.Signals = signal.SIGINT, timeout: float = 60.0) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        return await self.wait(timeout)

    async def __aenter__(self) -> ServeMcp:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


@asynccontextmanager
async def new_session(url: str, sessions: list[str] | None = None) -> AsyncIterator[ClientSession]:
    """A new HTTP connection and a new MCP session (the initialize handshake); the session id the
    server gave is added to `sessions`. The session is ended (DELETE) on exit."""

    async def seen(response: httpx2.Response) -> None:
        sid = response.headers.get("mcp-session-id")
        if sessions is not None and sid and sid not in sessions:
            sessions.append(sid)

    timeout = httpx2.Timeout(60.0, read=300.0)
    async with (
        httpx2.AsyncClient(timeout=timeout, event_hooks={"response": [seen]}) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def call_once(url: str, name: str, arguments: dict[str, Any], sessions: list[str] | None = None,
                    *, modern: bool = False) -> types.CallToolResult:
    """One tool call on a connection of its own, as the MCP Inspector's CLI makes it: a new session
    per call, or (`modern`) the SDK's `Client`, which negotiates the sessionless protocol era."""
    if modern:
        async with Client(url) as client:
            return await client.call_tool(name, arguments)
    async with new_session(url, sessions) as session:
        return await session.call_tool(name, arguments)


def text(result: types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


def stored(db: Path, run_id: str) -> StoredEpisode | None:
    """The run's one episode as stored now (None while the run does not exist)."""
    store = Store(db, read_only=True)
    try:
        if store.get_run(run_id) is None:
            return None
        (episode,) = store.episodes(run_id)
        return episode
    finally:
        store.close()


async def until(check: Callable[[], Any], timeout: float = 60.0, every: float = 0.1) -> Any:
    """Poll `check` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout:g}s")
        await asyncio.sleep(every)
    return value
