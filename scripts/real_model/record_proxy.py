"""A recording HTTP proxy on 127.0.0.1 in front of a chat-completions server, so a check can compare
what the arena stored with what the server said. Every request is forwarded as it is; for each
answer one JSON line goes to the log: status, the server's `usage`, `finish_reason`, and the
characters of each message sent (by role). A client that disconnects before the answer makes the
proxy close its upstream request too (so the server sees what the client did).

    python scripts/real_model/record_proxy.py UPSTREAM_URL LOG.jsonl PORT_FILE

UPSTREAM_URL is the server's root (http://127.0.0.1:PORT); the proxy writes the port it listens
on to PORT_FILE once it accepts connections. Runs until killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "accept-encoding"}


def summary(request: bytes, status: int, answer: bytes, seconds: float) -> dict[str, Any]:
    record: dict[str, Any] = {"status": status, "seconds": round(seconds, 3)}
    try:
        body = json.loads(request or b"null")
        record["messages"] = [[m.get("role"), len(str(m.get("content") or ""))] for m in body.get("messages", [])]
        record["tools"] = len(body.get("tools") or [])
        record["tool_choice"] = body.get("tool_choice")
        record["stream"] = bool(body.get("stream"))
    except (json.JSONDecodeError, AttributeError):
        pass
    try:
        reply = json.loads(answer)
        record["usage"] = reply.get("usage")
        record["finish_reason"] = reply["choices"][0].get("finish_reason")
    except (json.JSONDecodeError, AttributeError, KeyError, IndexError, TypeError):
        record["body"] = answer[:300].decode(errors="replace")
    return record


async def read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str], bytes] | None:
    line = await reader.readline()
    if not line:
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while (h := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = h.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
    return method, target, headers, body


async def serve(upstream: str, log: Path, port_file: Path) -> None:
    client = httpx.AsyncClient(timeout=None)
    out = log.open("a", buffering=1)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (request := await read_request(reader)) is not None:
                method, target, headers, body = request
                started = time.monotonic()
                forward = {k: v for k, v in headers.items() if k not in HOP_HEADERS}
                call = asyncio.create_task(client.request(method, upstream + target, content=body, headers=forward))
                gone = asyncio.create_task(reader.read(1))  # b"": the client closed its end
                done, _ = await asyncio.wait({call, gone}, return_when=asyncio.FIRST_COMPLETED)
                if call not in done:
                    call.cancel()  # closes the upstream connection, as the client closed its own
                    with contextlib.suppress(BaseException):
                        await call
                    out.write(json.dumps({"status": None, "abandoned": True,
                                          "seconds": round(time.monotonic() - started, 3)}) + "\n")
                    return
                gone.cancel()
                await asyncio.gather(gone, return_exceptions=True)  # its read must end before the next one
                response = call.result()
                answer = response.content
                out.write(json.dumps(summary(body, response.status_code, answer, time.monotonic() - started)) + "\n")
                head = [f"HTTP/1.1 {response.status_code} {response.reason_phrase}"]
                head += [f"{k}: {v}" for k, v in response.headers.items() if k.lower() not in HOP_HEADERS]
                head += [f"Content-Length: {len(answer)}", "", ""]
                writer.write("\r\n".join(head).encode("latin-1") + answer)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port_file.write_text(str(server.sockets[0].getsockname()[1]))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    asyncio.run(serve(sys.argv[1].rstrip("/"), Path(sys.argv[2]), Path(sys.argv[3])))
