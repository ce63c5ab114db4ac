"""The public scripted chat-completions server (arena.testing) behaves like a strict real endpoint."""

from __future__ import annotations

import json
import time

import httpx
import pytest

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


def test_context_window_answers_each_servers_overflow_400() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x" * 2000}], "max_tokens": 10}
    for style, marker in (("openai", "context_length_exceeded"), ("llamacpp", "exceed_context_size_error"),
                          ("vllm", "maximum context length is 100 tokens")):
        with ScriptedChatServer(context_window=100, overflow_style=style) as server:  # type: ignore[arg-type]
            r = post(server.base_url, body)
        assert r.status_code == 400 and marker in r.text, (style, r.text)
    with ScriptedChatServer(ReplayPolicy([CALL]), faults=[Fault("context_overflow", style="llamacpp")]) as server:
        r = post(server.base_url, {"model": "m", "messages": [{"role": "user", "content": "go"}]})
    assert r.status_code == 400 and r.json()["error"]["n_ctx"] >= 1


def test_a_cut_off_reply_has_finish_reason_length_and_open_json() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "go"}], "tools": [{}]}
    with ScriptedChatServer(ReplayPolicy([CALL]), faults=[Fault("length")]) as server:
        choice = post(server.base_url, body).json()["choices"][0]
    assert choice["finish_reason"] == "length"
    assert choice["message"]["tool_calls"][0]["function"]["arguments"] == '{"path":'  # half, JSON left open


def test_template_losses_show_in_the_prompt_tokens() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "read_file", "arguments": "{}"}}
    tool = {"type": "function", "function": {"name": "read_file", "description": "d" * 800, "parameters": {}}}
    turn = [{"role": "user", "content": "go"}, {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": "r" * 4000}]
    with ScriptedChatServer(ReplayPolicy([CALL]), drop_tool_messages=True, tools_need_tool_choice=True) as server:
        without_choice = post(server.base_url, {"model": "m", "messages": turn, "tools": [tool]})
        with_choice = post(server.base_url, {"model": "m", "messages": turn, "tools": [tool], "tool_choice": "auto"})
    with ScriptedChatServer(ReplayPolicy([CALL])) as server:
        faithful = post(server.base_url, {"model": "m", "messages": turn, "tools": [tool], "tool_choice": "auto"})
    tokens = [r.json()["usage"]["prompt_tokens"] for r in (without_choice, with_choice, faithful)]
    assert tokens[0] < 100 and tokens[1] < 100 < 1000 < tokens[2], tokens  # no tool output, no descriptions
    assert "tool_calls" not in without_choice.json()["choices"][0]["message"]  # tools ignored: a text reply
    assert with_choice.json()["choices"][0]["message"]["tool_calls"]


def test_streams_chunks_with_usage_last_when_asked() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "go"}], "tools": [{}], "stream": True,
            "stream_options": {"include_usage": True}}
    with ScriptedChatServer(ReplayPolicy([CALL])) as server:
        r = post(server.base_url, body)
    assert r.headers["content-type"] == "text/event-stream"
    chunks = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: {")]
    arguments = "".join(tc["function"].get("arguments", "") for c in chunks for ch in c["choices"]
                        for tc in ch["delta"].get("tool_calls", []))
    assert arguments == '{"path": "a.txt"}' and chunks[-1]["usage"]["prompt_tokens"] > 0
    assert r.text.rstrip().endswith("data: [DONE]")


def test_a_client_that_leaves_mid_reply_is_noticed() -> None:
    with ScriptedChatServer(ReplayPolicy([CALL]), delay=5.0) as server:
        with pytest.raises(httpx.TimeoutException):
            httpx.post(f"{server.base_url}/chat/completions", timeout=0.3,
                       json={"model": "m", "messages": [{"role": "user", "content": "go"}]})
        deadline = time.monotonic() + 3
        while not server.requests[0].abandoned and time.monotonic() < deadline:
            time.sleep(0.05)
        (request,) = server.requests
    assert request.abandoned and request.finished - request.at < 2.0
