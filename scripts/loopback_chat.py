#!/usr/bin/env python3
"""A chat-completions endpoint on 127.0.0.1 that answers every request after a fixed delay, for
load benchmarks (scripts/bench_speed.py). It is plain asyncio, one coroutine per connection with
HTTP/1.1 keep-alive, so a thousand requests can wait at once on one core: the threaded
`arena.testing.ScriptedChatServer` spends a thread and more parsing on each, and at a thousand
connections it becomes the bottleneck it is meant to measure.

Each reply plays a fixed plan by the position in the transcript (assistant messages so far): CALLS
calls of TOOL with no arguments, then `submit`. It prints its port on stdout when ready, and stops
when its stdin closes or after --max-seconds, whichever comes first.

    python scripts/loopback_chat.py --delay 1.0 --tool read_policy --calls 4
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time

ids = itertools.count()
BAD_REQUEST = b'{"error": {"message": "the body is not a chat request", "type": "invalid_request_error"}}'


def reply(body: bytes, tool: str, calls: int) -> bytes:
    request = json.loads(body)
    position = sum(1 for m in request.get("messages", []) if m.get("role") == "assistant")
    name, arguments = (tool, "{}") if position < calls else ("submit", "{}")
    n = next(ids)
    message = {
        "role": "assistant", "content": None,
        "tool_calls": [{"id": f"call_{n}", "type": "function", "function": {"name": name, "arguments": arguments}}],
    }
    prompt = len(body) // 4
    return json.dumps({
        "id": f"chatcmpl-{n}", "object": "chat.completion", "created": int(time.time()),
        "model": request.get("model", "loopback"),
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": 12, "total_tokens": prompt + 12},
    }).encode()


async def serve_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float, tool: str, calls: int
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b"{}"
            await asyncio.sleep(delay)
            try:
                payload, status = reply(body, tool, calls), b"200 OK"
            except (ValueError, AttributeError):
                payload, status = BAD_REQUEST, b"400 Bad Request"
            writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(payload)).encode() + b"\r\n\r\n" + payload)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def main(args: argparse.Namespace) -> None:
    server = await asyncio.start_server(
        lambda r, w: serve_connection(r, w, args.delay, args.tool, args.calls), "127.0.0.1", args.port,
        backlog=4096, limit=2**24,
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    stdin = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    async with server:
        await asyncio.wait([asyncio.ensure_future(stdin.read())], timeout=args.max_seconds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delay", type=float, default=1.0, help="seconds before each reply")
    parser.add_argument("--tool", default="read_policy", help="the tool each reply calls, with no arguments")
    parser.add_argument("--calls", type=int, default=4, help="calls of the tool before submit")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=1800.0, help="stop after this long in any case")
    asyncio.run(main(parser.parse_args()))
