"""The stdio transport, with a stdin that stopping the server never waits on.

The SDK reads stdin in a worker thread that cancellation cannot interrupt, so a stdio server told
to stop (SIGTERM from a client that does not close stdin first) would hang until the next line.
When stdin is a pipe, a socket or a terminal, the event loop reads it instead; fd 0 then points
at the null device, as the SDK's own reader arranges, so nothing the episode starts reads the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from collections.abc import AsyncIterator
from typing import Any

MAX_LINE = 64 * 1024 * 1024  # one JSON-RPC message; the SDK's own reader sets no limit


class _Lines:
    """Lines of text from a stream reader, as the SDK's stdio transport iterates its stdin."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader

    def __aiter__(self) -> _Lines:
        return self

    async def __anext__(self) -> str:
        line = await self.reader.readline()
        if not line:
            raise StopAsyncIteration
        return line.decode("utf-8", "replace")


@contextlib.asynccontextmanager
async def _loop_stdin() -> AsyncIterator[_Lines | None]:
    mode = os.fstat(0).st_mode
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)):
        yield None  # a regular file: the SDK's reader (it ends at the end of the file anyway)
        return
    loop = asyncio.get_running_loop()
    wire, saved = os.dup(0), os.dup(0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    reader = asyncio.StreamReader(limit=MAX_LINE)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                                os.fdopen(wire, "rb", buffering=0))
    try:
        yield _Lines(reader)
    finally:
        transport.close()
        os.set_blocking(saved, True)  # the description is shared (with a terminal, say): leave it as found
        os.dup2(saved, 0)
        os.close(saved)


async def serve_stdio(server: Any) -> None:
    """Serve `server` over stdin and stdout until the client disconnects (or the task is cancelled)."""
    from mcp.server.stdio import stdio_server

    async with _loop_stdin() as stdin, stdio_server(stdin=stdin) as (read_stream, write_stream):  # type: ignore[arg-type]
        await server.run(read_stream, write_stream, server.create_initialization_options())
