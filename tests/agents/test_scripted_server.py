"""The public scripted chat-completions server (arena.testing) behaves like a strict real endpoint."""

from __future__ import annotations

import httpx

from arena.testing import FAULT_MARK, Fault, ReplayPolicy, ScriptedChatServer, scripted_chat_server
from arena.types import ToolCall

CALL = ToolCall(name="read_file", arguments={"path": "a.txt"})


def post(base_url: str, body: object) -> httpx.Response:
    return httpx.post(f"{base_url}/chat/completions", json=body, timeout=5)


def test_replays_calls_as_tool_calls_or_text_and_records_requests() -> None:
    with ScriptedChatServer(ReplayPolicy([CALL])) as server:
        tools = post(server.base_url, {"model": "m", "messages": [{"role": "user", "content": "go"}], "tools": [{}]})
        text = post(server.base_url, {"model": "m", "messages": [{"role": "user", "content": "go"}]})
    message = tools.json()["choices"][0]["message"]
    assert message["tool_calls"][0]["function"] == {"name": "read_file", "arguments": '{"path": "a.txt"}'}
    assert tools.json()["usage"]["prompt_tokens"] > 0
    assert '"tool": "read_file"' in text.json()["choices"][0]["message"]["content"]
    assert [r.number for r in server.requests] == [1, 2] and not server.requests[0].authorized


def test_rejects_transcripts_a_real_endpoint_rejects() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "x", "arguments": "{}"}}
    unanswered = [{"role": "user", "content": "go"}, {"role": "assistant", "content": "", "tool_calls": [call]},
                  {"role": "user", "content": "and?"}]
    stray = [{"role": "user", "content": "go"}, {"role": "tool", "tool_call_id": "c9", "content": "x"}]
    with scripted_chat_server() as base_url:
        assert post(base_url, {"model": "m", "messages": unanswered}).status_code == 400
        assert post(base_url, {"model": "m", "messages": stray}).status_code == 400
        assert post(base_url, {"messages": [{"role": "user", "content": "go"}]}).status_code == 400
        assert httpx.post(base_url.replace("/v1", "/v2") + "/chat/completions", json={}).status_code == 404


def test_faults_by_request_number_and_in_a_queue() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "go"}], "tools": [{}]}
    with ScriptedChatServer(ReplayPolicy([CALL]), faults={2: Fault("server_error", status=503)}) as server:
        server.inject(Fault("rate_limit", retry_after="7"), Fault("no_tool_call"))
        first, second, third, fourth = (post(server.base_url, body) for _ in range(4))
    assert (first.status_code, first.headers["retry-after"]) == (429, "7")
    assert second.status_code == 503  # by number, ahead of the queue
    assert FAULT_MARK in third.json()["choices"][0]["message"]["content"]
    assert fourth.json()["choices"][0]["message"]["tool_calls"]
