"""Measure what an OpenAI-compatible server does with the requests `openai:` agents send (the
behaviours of issue 11), with raw HTTP so the numbers do not depend on the agent's code:

- tools offered without and with `tool_choice: "auto"`: prompt tokens (does the server render them?);
- a tool result of 5 and of ~1,100 characters as a `tool` message, and as a user message: prompt
  tokens (does the template keep tool messages?);
- a prompt over the context: status and body;
- an abandoned request (closed after 1 s while generating up to 400 tokens), non-streamed and
  streamed: how long the next small request waits (does the server stop generating?).

    python scripts/real_model/probe_server.py http://127.0.0.1:8000/v1 [MODEL]

Prints one JSON object. Sends traffic only to the given URL (meant for a server on loopback).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import httpx

TOOL = {"type": "function", "function": {
    "name": "read_file", "description": "Read a text file in the work directory and return its contents.",
    "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}}
CALL = {"id": "call_1", "type": "function", "function": {"name": "read_file", "arguments": '{"path": "a.txt"}'}}
SYSTEM = {"role": "system", "content": "You are an agent. Use the tools."}
TASK = {"role": "user", "content": "Read a.txt and tell me what it says."}
LONG = " ".join(f"line {i}: the quick brown fox jumps over the lazy dog." for i in range(22))  # ~1,100 chars


async def chat(client: httpx.AsyncClient, url: str, model: str, **body: Any) -> httpx.Response:
    return await client.post(f"{url}/chat/completions", json={"model": model, "max_tokens": 8, "temperature": 0,
                                                              **body}, timeout=120)


def prompt_tokens(response: httpx.Response) -> int | None:
    try:
        return int(response.json()["usage"]["prompt_tokens"])
    except (KeyError, TypeError, ValueError, json.JSONDecodeError):
        return None


async def abandoned(client: httpx.AsyncClient, url: str, model: str, stream: bool) -> dict[str, float]:
    body = {"model": model, "max_tokens": 400, "temperature": 1.0, "stream": stream,
            "messages": [SYSTEM, {"role": "user", "content": "Write a very long story about a fox, in detail."}]}

    async def generate() -> None:
        async with httpx.AsyncClient() as own, own.stream("POST", f"{url}/chat/completions", json=body,
                                                           timeout=120) as r:
            async for _ in r.aiter_bytes():
                pass

    task = asyncio.create_task(generate())
    await asyncio.sleep(1.0)
    task.cancel()  # what an episode's time limit does to the request in flight
    await asyncio.gather(task, return_exceptions=True)
    started = time.monotonic()
    await chat(client, url, model, messages=[TASK], max_tokens=1)
    return {"next_request_waited_s": round(time.monotonic() - started, 2)}


async def main(url: str, model: str) -> dict[str, Any]:
    out: dict[str, Any] = {"url": url}
    async with httpx.AsyncClient() as client:
        base = [SYSTEM, TASK]
        without = await chat(client, url, model, messages=base, tools=[TOOL])
        auto = await chat(client, url, model, messages=base, tools=[TOOL], tool_choice="auto")
        out["tool_choice"] = {
            "prompt_tokens_without": prompt_tokens(without), "prompt_tokens_auto": prompt_tokens(auto),
            "no_tools": prompt_tokens(await chat(client, url, model, messages=base)),
        }
        turns = {}
        for name, output in (("short", "hello"), ("long", LONG)):
            as_tool = [*base, {"role": "assistant", "content": "", "tool_calls": [CALL]},
                       {"role": "tool", "tool_call_id": "call_1", "content": output}]
            as_user = [*base, {"role": "assistant", "content": "", "tool_calls": [CALL]},
                       {"role": "tool", "tool_call_id": "call_1", "content": "(the result is in the next message)"},
                       {"role": "user", "content": f"Result of read_file (ok):\n{output}"}]
            turns[name] = {
                "tool_message": prompt_tokens(await chat(client, url, model, messages=as_tool, tools=[TOOL],
                                                         tool_choice="auto")),
                "as_user": prompt_tokens(await chat(client, url, model, messages=as_user, tools=[TOOL],
                                                    tool_choice="auto")),
            }
        out["tool_result_prompt_tokens"] = {"chars": {"short": 5, "long": len(LONG)}, **turns}
        huge = [SYSTEM, {"role": "user", "content": LONG * 40}]
        r = await chat(client, url, model, messages=huge)
        out["overflow"] = {"status": r.status_code, "body": r.text[:400]}
        out["abandoned_non_streamed"] = await abandoned(client, url, model, stream=False)
        out["abandoned_streamed"] = await abandoned(client, url, model, stream=True)
        started = time.monotonic()
        await chat(client, url, model, messages=[TASK], max_tokens=1)
        out["idle_request_s"] = round(time.monotonic() - started, 2)
    return out


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print(json.dumps(asyncio.run(main(sys.argv[1].rstrip("/"), sys.argv[2] if len(sys.argv) > 2 else "local")),
                     indent=1))
