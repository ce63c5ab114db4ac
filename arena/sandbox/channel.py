"""The host's side of an exec server (arena/sandbox/execserver.py): one connection per server,
requests and replies as length-prefixed frames, any number of requests in flight at once.

The transport is a byte source and a writer: the server's stdout pipe (bubblewrap), or a Docker
attach stream whose stdout frames carry the protocol (`docker_source` unpacks them).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import struct
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HEAD = struct.Struct(">II")
MAX_HEADER = 1 << 20  # headers are small JSON objects
MAX_BODY = 1 << 30  # the default bound on a reply's body; sandboxes pass their own
HELLO_TIMEOUT = 30.0
SERVER_SOURCE = (Path(__file__).parent / "execserver.py").read_text()

Source = Callable[[], Awaitable[bytes]]  # the next bytes from the server; b"" at its end


class ChannelError(Exception):
    """The exec server is gone, hung or spoke nonsense. `reason` says which."""


class ChannelClosed(ChannelError):
    pass


class ChannelTimeout(ChannelError):
    pass


# The server's source (and its config) come down its input before the first frame, so that its
# command line, which every process in the sandbox can read, stays short.
BOOTSTRAP = "import os,sys;n=int(sys.argv[1]);b=b''\nwhile len(b)<n:b+=os.read(0,n-len(b))or sys.exit(3)\nexec(b)"


# The same, for a server compiled ahead of time by the interpreter that runs it: its code object
# (marshal) follows the config line, and no start pays for compiling the source again.
BOOTSTRAP_COMPILED = (
    "import os,sys,marshal;n=int(sys.argv[1]);b=b''\nwhile len(b)<n:b+=os.read(0,n-len(b))or sys.exit(3)\n"
    "c,_,b=b.partition(b'\\n');exec(marshal.loads(b),{'__name__':'__main__','CONFIG_JSON':c.decode()})"
)


def server_command(python: str, config: dict[str, Any], *, compiled: bool = False) -> tuple[list[str], bytes]:
    """How to start the server (isolated interpreter flags: nothing in the environment or the
    current directory configures it), and what to send it first (`Channel(preamble=...)`).
    `compiled`: send the server as code compiled by `python` (a host path: the sandbox runs the
    host's interpreter), if it can compile it."""
    code = compiled_server(python) if compiled else None
    if code is None:
        payload = f"CONFIG_JSON = {json.dumps(config)!r}\n{SERVER_SOURCE}".encode()
        return [python, "-I", "-S", "-B", "-c", BOOTSTRAP, str(len(payload))], payload
    payload = json.dumps(config).encode() + b"\n" + code
    return [python, "-I", "-S", "-B", "-c", BOOTSTRAP_COMPILED, str(len(payload))], payload


@functools.cache
def compiled_server(python: str) -> bytes | None:
    """The server's code object as `python` marshals it (marshal's format is the interpreter's
    own), made once per arena process; None if that interpreter cannot run here."""
    script = (
        "import marshal,sys;"
        "sys.stdout.buffer.write(marshal.dumps(compile(sys.stdin.buffer.read(),'execserver','exec')))"
    )
    try:
        done = subprocess.run([python, "-I", "-S", "-B", "-c", script], input=SERVER_SOURCE.encode(),
                              capture_output=True, timeout=60, env={}, cwd="/")  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 and done.stdout else None


def frame(header: dict[str, Any], body: bytes = b"") -> bytes:
    data = json.dumps(header, separators=(",", ":")).encode()
    return HEAD.pack(len(data), len(body)) + data + body


def stream_source(reader: asyncio.StreamReader) -> Source:
    async def read() -> bytes:
        return await reader.read(1 << 20)

    return read


def docker_source(reader: asyncio.StreamReader, stderr: bytearray, keep: int = 8192) -> Source:
    """The stdout payloads of a multiplexed Docker stream (8-byte frame headers); stderr payloads
    (the server's own complaints) are kept, last `keep` bytes, for error messages."""

    async def read() -> bytes:
        while True:
            try:
                head = await reader.readexactly(8)
                size = int.from_bytes(head[4:], "big")
                payload = await reader.readexactly(size)
            except asyncio.IncompleteReadError:
                return b""
            if head[0] == 2:
                stderr.extend(payload)
                del stderr[:-keep]
                continue
            if payload:
                return payload

    return read


class Channel:
    """Requests to one exec server; `hello` is the server's first frame."""

    def __init__(
        self,
        source: Source,
        writer: asyncio.StreamWriter,
        *,
        preamble: bytes = b"",
        describe: Callable[[], str] = str,
        max_body: int = MAX_BODY,
    ) -> None:
        self._source = source
        # An agent can write into its own exec server's output: a frame that claims to be larger
        # than any real reply ends the channel rather than the arena's memory.
        self._max_body = max_body
        self._writer = writer
        self._describe = describe  # extra words for error messages (the server's stderr)
        self._pending: dict[int, asyncio.Future[tuple[dict[str, Any], bytes]]] = {}
        self._next_id = 0
        loop = asyncio.get_running_loop()
        self._hello: asyncio.Future[dict[str, Any]] = loop.create_future()
        self.closed: str | None = None  # why the channel ended, once it has
        self._reader = asyncio.ensure_future(self._read_loop())
        if preamble:
            writer.write(preamble)

    async def hello(self, timeout: float = HELLO_TIMEOUT) -> dict[str, Any]:
        try:
            return await asyncio.wait_for(asyncio.shield(self._hello), timeout)
        except TimeoutError:
            raise ChannelTimeout(f"the exec server did not start within {timeout:g}s{self._detail()}") from None

    async def call(self, header: dict[str, Any], body: bytes = b"", *, timeout: float) -> tuple[dict[str, Any], bytes]:
        """Send one request and wait for its reply, at most `timeout` seconds."""
        if self.closed is not None:
            raise ChannelClosed(self.closed)
        self._next_id += 1
        request_id = self._next_id
        future: asyncio.Future[tuple[dict[str, Any], bytes]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            self._writer.write(frame({**header, "id": request_id}, body))
            await self._writer.drain()
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            raise ChannelTimeout(
                f"the exec server did not answer within {timeout:g}s{self._detail()}"
            ) from None
        except (ConnectionError, RuntimeError) as e:  # the transport closed under the write
            self._close(f"the connection to the exec server broke: {e}")
            raise ChannelClosed(self.closed or str(e)) from None
        except asyncio.CancelledError:
            if header.get("op") == "exec":
                self.send_nowait({"op": "cancel", "target": request_id})
            raise
        finally:
            self._pending.pop(request_id, None)

    def send_nowait(self, header: dict[str, Any]) -> None:
        """A request that needs no reply (cancel), sent if the transport is still open."""
        if self.closed is None:
            with contextlib.suppress(Exception):
                self._writer.write(frame({**header, "id": 0}))

    async def close(self) -> None:
        self._close("the channel was closed")
        with contextlib.suppress(Exception):
            self._writer.close()
        self._reader.cancel()
        with contextlib.suppress(BaseException):
            await self._reader

    def _detail(self) -> str:
        extra = self._describe()
        return f" ({extra})" if extra else ""

    def _close(self, why: str) -> None:
        if self.closed is not None:
            return
        self.closed = why
        error = ChannelClosed(why)
        if not self._hello.done():
            self._hello.set_exception(error)
            self._hello.exception()  # retrieved here, so a channel nobody awaited stays quiet
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
                future.exception()

    async def _read_loop(self) -> None:
        buffer = bytearray()
        try:
            while True:
                data = await self._source()
                if not data:
                    self._close(f"the exec server ended{self._detail()}")
                    return
                buffer += data
                while len(buffer) >= HEAD.size:
                    head_len, body_len = HEAD.unpack_from(buffer)
                    if head_len > MAX_HEADER or body_len > self._max_body:
                        self._close("the exec server sent a malformed frame")
                        return
                    end = HEAD.size + head_len + body_len
                    if len(buffer) < end:
                        break
                    header = json.loads(bytes(buffer[HEAD.size : HEAD.size + head_len]))
                    body = bytes(buffer[HEAD.size + head_len : end])
                    del buffer[:end]
                    self._dispatch(header, body)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # garbage on the stream (an agent wrote into it): the channel is dead
            self._close(f"the exec server's stream broke: {type(e).__name__}: {e}")

    def _dispatch(self, header: dict[str, Any], body: bytes) -> None:
        if not self._hello.done():
            if header.get("hello") != 1:
                raise ValueError("no hello from the exec server")
            self._hello.set_result(header)
            return
        future = self._pending.get(header.get("id", -1))
        if future is not None and not future.done():
            future.set_result((header, body))
