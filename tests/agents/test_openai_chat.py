"""`openai:` agents against the scripted chat-completions server on 127.0.0.1: real HTTP, the real
Runner and Store, the `files` family in a process sandbox."""

from __future__ import annotations

import asyncio
import email.utils
import gc
import json
import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from arena.agents.openai_chat import parse_text_action
from arena.agents.openai_http import ChatEndpoint, _dumps, _retry_after
from arena.agents.openai_settings import Price, price_for, split_spec
from arena.errors import ConfigError, ContextOverflow, InfraError
from arena.registry import agent_factory
from arena.store import Store
from arena.testing import Fault, OverflowStyle, ReplayPolicy, ScriptedChatServer, oracle_policy, validate_transcript
from arena.types import (
    EpisodeKey,
    EpisodeResult,
    Limits,
    Observation,
    StepRecord,
    TaskView,
    ToolCall,
    ToolSpec,
    Usage,
)

RunAgents = Callable[..., Awaitable[tuple[Store, str]]]  # the `run_agents` fixture

FAST = {"backoff": 0.01, "max_backoff": 0.05, "timeout": 2.0, "max_retries": 2}  # retries cost milliseconds
MODEL = "gpt-4o-mini"  # priced in agents/prices.toml
SPEC = f"openai:{MODEL}"
KEY = EpisodeKey(agent=SPEC, family="files", split="dev", seed=0, level="agent", trial=0)


def opts(server: ScriptedChatServer, **extra: Any) -> dict[str, dict[str, Any]]:
    return {SPEC: {"base_url": server.base_url, **FAST, **extra}}


def results(store: Store, run_id: str) -> list[EpisodeResult]:
    out = []
    for e in store.episodes(run_id):
        assert e.result is not None
        out.append(e.result)
    return out


def only(store: Store, run_id: str) -> EpisodeResult:
    (result,) = results(store, run_id)
    return result


# ---------------------------------------------------------------- completing episodes


@pytest.mark.parametrize("mode", ["tools", "text"])
async def test_completes_files_episodes_with_usage_and_cost(run_agents: RunAgents, mode: str) -> None:
    with ScriptedChatServer(oracle_policy("files", [0, 1])) as server:
        store, run_id = await run_agents(
            [SPEC], seeds=[0, 1], options=opts(server, mode=mode, temperature=0.2, seed=7)
        )
    for stored in store.episodes(run_id):
        assert stored.result is not None and stored.result.outcome == "success", stored.result
        steps = store.steps(run_id, stored.key)
        usages = [s.action.usage for s in steps]
        assert all(u is not None and u.input_tokens > 0 and u.output_tokens > 0 for u in usages)
        assert all(u is not None and u.cost_usd is not None and u.cost_usd > 0 for u in usages)
        total = sum((u for u in usages if u is not None), Usage())
        assert stored.result.usage.input_tokens == total.input_tokens
        assert stored.result.usage.cost_usd == pytest.approx(total.cost_usd)
    bodies = [r.body for r in server.requests if r.body]
    assert all(b["temperature"] == 0.2 and b["seed"] == 7 and b["model"] == MODEL for b in bodies)
    if mode == "tools":
        assert all("tools" in b for b in bodies)
        tool_messages = [m for b in bodies for m in b["messages"] if m["role"] == "tool"]
        assert tool_messages and all(m["tool_call_id"] for m in tool_messages)
    else:
        assert not any("tools" in b for b in bodies)
        assert '"tool": "submit"' in bodies[0]["messages"][0]["content"]  # tools described in the prompt
    config = store.get_run(run_id).config["agent_configs"][SPEC]  # type: ignore[union-attr]
    assert config["mode"] == mode and config["price_usd_per_mtok"] == {"input": 0.15, "output": 0.6}
    assert config["prompts"][f"system_{mode}"]["sha256"]


async def test_model_without_a_price_has_cost_none(run_agents: RunAgents) -> None:
    spec = "openai:my-local-model"
    with ScriptedChatServer(oracle_policy("files", 0)) as server:
        store, run_id = await run_agents([spec], options={spec: {"base_url": server.base_url, **FAST}})
    (stored,) = store.episodes(run_id)
    assert stored.result is not None and stored.result.outcome == "success"
    assert stored.result.usage.input_tokens > 0 and stored.result.usage.cost_usd is None
    assert all(s.action.usage and s.action.usage.cost_usd is None for s in store.steps(run_id, stored.key))


async def test_max_concurrency_bounds_calls_across_episodes(run_agents: RunAgents) -> None:
    slow = [Fault("slow", delay=0.15, times=4)]
    with ScriptedChatServer(oracle_policy("files", [0, 1, 2]), faults=slow) as server:
        await run_agents([SPEC], seeds=[0, 1, 2], concurrency=3, options=opts(server, max_concurrency=1))
    assert server.max_in_flight == 1


# ---------------------------------------------------------------- misbehaving endpoints


def endpoint(base_url: str, **extra: Any) -> ChatEndpoint:
    settings: dict[str, Any] = {**FAST, "api_key_env": "ARENA_TEST_NO_KEY", "max_retries": 1, "max_concurrency": 4,
                                **extra}
    return ChatEndpoint(base_url, base_url, **settings)


def closing_server(answer: bytes, heard: list[bytes] | None = None) -> socket.socket:
    """A server on 127.0.0.1 that reads each request's first bytes (into `heard`), sends `answer`
    and hangs up."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                request = conn.recv(65536)
                if heard is not None:
                    heard.append(request)
                conn.sendall(answer)

    threading.Thread(target=serve, daemon=True).start()
    return server


async def test_the_proxy_named_by_the_environment_carries_the_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    reply = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}]}).encode()
    heard: list[bytes] = []
    proxy = closing_server(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                              b"Content-Length: %d\r\n\r\n%s" % (len(reply), reply), heard)
    try:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.getsockname()[1]}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        parsed, _ = await endpoint("http://model.example/v1").complete({"model": "m", "messages": []})
        assert parsed["choices"][0]["message"]["content"] == "hi"
        assert heard and heard[0].startswith(b"POST http://model.example/v1/chat/completions HTTP/1.1")
        monkeypatch.setenv("NO_PROXY", "model.example")  # read when the endpoint is made, as httpx does
        assert endpoint("http://model.example/v1")._proxy is None
    finally:
        proxy.close()


@pytest.mark.parametrize("answer", [b"", b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{\"choi"])
async def test_a_server_that_hangs_up_is_retried_and_named(answer: bytes) -> None:
    server = closing_server(answer)
    url = f"http://127.0.0.1:{server.getsockname()[1]}/v1"
    try:
        with pytest.raises(InfraError, match=r"failed 2 time\(s\); last: connection failed: \w+") as e:
            await endpoint(url).complete({"model": "m", "messages": []})
        assert "timeout" not in str(e.value)
    finally:
        server.close()


async def test_a_refused_connection_and_a_slow_server_say_what_happened() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        free = probe.getsockname()[1]  # closed again below: nobody listens there
    with pytest.raises(InfraError, match="connection failed"):
        await endpoint(f"http://127.0.0.1:{free}/v1").complete({"model": "m", "messages": []})
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    with (ScriptedChatServer(oracle_policy("files", 0), delay=3.0) as slow,
          pytest.raises(InfraError, match=r"no reply within 0.5s \(timeout\)")):
        await endpoint(slow.base_url, timeout=0.5, max_retries=0).complete(body)


async def test_rate_limit_is_retried_after_retry_after(run_agents: RunAgents) -> None:
    faults = [Fault("rate_limit", retry_after="0.3")]
    with ScriptedChatServer(oracle_policy("files", 0), faults=faults) as server:
        store, run_id = await run_agents([SPEC], options=opts(server, max_backoff=1.0))
    assert only(store, run_id).outcome == "success"
    first, second = server.requests[:2]
    assert first.status == 429 and second.status == 200
    assert second.at - first.at >= 0.28  # waited as told, not the (shorter) backoff
    (stored,) = store.episodes(run_id)
    assert store.steps(run_id, stored.key)[0].action.info["retries"] == 1


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert _retry_after(httpx.Headers({"retry-after": "2"})) == 2.0
    assert _retry_after(httpx.Headers({"retry-after-ms": "250"})) == 0.25
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (_retry_after(httpx.Headers({"retry-after": when})) or 0) <= 31
    assert _retry_after(httpx.Headers({"retry-after": "soon"})) is None


async def test_server_errors_beyond_the_bound_end_as_infra_error_and_the_run_completes(
    run_agents: RunAgents,
) -> None:
    with ScriptedChatServer(faults=[Fault("server_error", times=100)]) as server:
        store, run_id = await run_agents([SPEC, "oracle"], options=opts(server, max_retries=1), max_attempts=2)
    by_agent = {e.key.agent: e for e in store.episodes(run_id)}
    failed = by_agent[SPEC]
    assert failed.result is not None and failed.result.outcome == "error"
    assert failed.result.termination == "infra_error" and failed.attempts == 2
    assert "HTTP 500" in (failed.result.error or "") and "/chat/completions" in (failed.result.error or "")
    assert by_agent["oracle"].result is not None and by_agent["oracle"].result.outcome == "success"
    assert store.get_run(run_id).status == "finished"  # type: ignore[union-attr]
    assert len(server.requests) == 4  # (1 + 1 retry) x 2 attempts


async def test_slow_reply_is_retried_then_succeeds(run_agents: RunAgents) -> None:
    with ScriptedChatServer(oracle_policy("files", 0), faults=[Fault("slow", delay=2.0)]) as server:
        store, run_id = await run_agents([SPEC], options=opts(server, timeout=0.3))
    assert only(store, run_id).outcome == "success"
    assert server.requests[0].fault == "slow"


async def test_slow_replies_beyond_the_bound_end_as_infra_error(run_agents: RunAgents) -> None:
    with ScriptedChatServer(faults=[Fault("slow", delay=2.0, times=10)]) as server:
        store, run_id = await run_agents([SPEC], options=opts(server, timeout=0.2, max_retries=1))
    result = only(store, run_id)
    assert result.outcome == "error" and "timeout" in (result.error or "")


async def test_malformed_body_is_retried(run_agents: RunAgents) -> None:
    with ScriptedChatServer(oracle_policy("files", 0), faults=[Fault("malformed", times=2)]) as server:
        store, run_id = await run_agents([SPEC], options=opts(server))
    assert only(store, run_id).outcome == "success"
    with ScriptedChatServer(faults=[Fault("malformed", times=10)]) as server:
        store, run_id = await run_agents([SPEC], options=opts(server, max_retries=1))
    result = only(store, run_id)
    assert result.outcome == "error" and "malformed body" in (result.error or "")


@pytest.mark.parametrize("mode", ["tools", "text"])
async def test_invalid_json_arguments_become_a_tool_error_the_model_recovers_from(
    run_agents: RunAgents, mode: str
) -> None:
    with ScriptedChatServer(oracle_policy("files", 0), faults={1: Fault("bad_arguments")}) as server:
        store, run_id = await run_agents([SPEC], options=opts(server, mode=mode))
    assert only(store, run_id).outcome == "success"
    (stored,) = store.episodes(run_id)
    first = store.steps(run_id, stored.key)[0]
    seen = json.dumps(server.requests[1].body["messages"])  # type: ignore[index]
    if mode == "tools":  # the raw string went to the tool, which answered with an error
        assert isinstance(first.action.tool_calls[0].arguments, str)
        assert first.results[0].is_error and "not valid JSON" in first.results[0].output
        assert "not valid JSON" in seen
    else:  # the reply itself could not be read
        assert first.action.parse_error and not first.action.tool_calls
        assert "could not be read as an action" in seen and "Reply with exactly one JSON object" in seen


async def test_no_tool_call_gets_the_note(run_agents: RunAgents) -> None:
    with ScriptedChatServer(oracle_policy("files", 0), faults={1: Fault("no_tool_call")}) as server:
        store, run_id = await run_agents([SPEC], options=opts(server))
    assert only(store, run_id).outcome == "success"
    (stored,) = store.episodes(run_id)
    assert "no tool call" in (store.steps(run_id, stored.key)[0].note or "")
    last = server.requests[1].body["messages"][-1]  # type: ignore[index]
    assert last["role"] == "user" and "no tool call" in last["content"]


async def test_client_errors_fail_at_once_with_what_to_fix(
    run_agents: RunAgents, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with ScriptedChatServer(faults=[Fault("unauthorized", times=10)]) as server:
        store, run_id = await run_agents([SPEC], options=opts(server))
    result = only(store, run_id)
    assert result.outcome == "error" and "set OPENAI_API_KEY" in (result.error or "")
    assert len(server.requests) == 1  # no retries on 401
    with ScriptedChatServer() as server:
        wrong = {SPEC: {"base_url": server.base_url.replace("/v1", "/nope"), **FAST}}
        store, run_id = await run_agents([SPEC], options=wrong)
    assert "HTTP 404" in (only(store, run_id).error or "") and "check base_url" in (only(store, run_id).error or "")


# ---------------------------------------------------------------- budgets, context, secrets


@pytest.mark.parametrize("limit", [{"max_tokens": 2500}, {"max_cost_usd": 0.0004}])
async def test_token_and_cost_limits_truncate_the_episode(run_agents: RunAgents, limit: dict[str, Any]) -> None:
    looping = ReplayPolicy([ToolCall(name="list_dir", arguments={"path": "."})] * 20)
    with ScriptedChatServer(looping) as server:
        store, run_id = await run_agents([SPEC], options=opts(server), limits=limit)
    result = only(store, run_id)
    assert result.outcome == "fail" and result.termination == "budget"
    assert 1 < result.steps < 20


async def test_context_budget_shortens_old_tool_output(run_agents: RunAgents) -> None:
    noisy = ToolCall(name="bash", arguments={"command": "head -c 6000 /dev/zero | tr '\\0' x"})
    with ScriptedChatServer(ReplayPolicy([noisy] * 8)) as server:
        store, run_id = await run_agents([SPEC], options=opts(server, context_budget=9000))
    (stored,) = store.episodes(run_id)
    infos = [s.action.info for s in store.steps(run_id, stored.key)]
    assert any(i.get("context_trimmed", {}).get("outputs", 0) > 0 for i in infos), infos
    last = server.requests[-1].body["messages"]  # type: ignore[index]
    outputs = [m["content"] for m in last if m["role"] == "tool"]
    assert "removed to fit the context budget" in outputs[0]
    assert all(len(o) > 6000 for o in outputs[-3:])  # the latest outputs are intact


async def test_api_key_never_reaches_the_store_or_the_output(
    run_agents: RunAgents, db_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = "sk-test-PLANTED-123"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    caplog.set_level(logging.DEBUG)
    faults = {1: Fault("unauthorized"), 2: Fault("server_error", times=20)}
    with ScriptedChatServer(oracle_policy("files", [0, 1]), faults=faults) as server:
        store, run_id = await run_agents([SPEC], seeds=[0, 1], concurrency=1, options=opts(server, max_retries=1))
        with ScriptedChatServer(oracle_policy("files", 0)) as good:
            store2, run2 = await run_agents([SPEC], options=opts(good))
    outcomes = [r.outcome for r in results(store, run_id)] + [r.outcome for r in results(store2, run2)]
    assert outcomes == ["error", "error", "success"]
    assert all(r.authorized for r in server.requests + good.requests)  # the key was really sent
    assert "rejected" in (results(store, run_id)[0].error or "")  # the echoed key was scrubbed from this
    store.close()
    store2.close()
    files = list(db_path.parent.glob(db_path.name + "*"))
    assert files
    for f in files:
        assert key.encode() not in f.read_bytes(), f
    out, err = capfd.readouterr()
    assert key not in out + err + caplog.text


# ---------------------------------------------------------------- parsing and configuration


@pytest.mark.parametrize(
    "text",
    [
        '{"tool": "read_file", "arguments": {"path": "a.txt"}}',
        'Let me look.\n```json\n{"tool": "read_file", "arguments": {"path": "a.txt"}}\n```',
        'I will read it: {"name": "read_file", "arguments": {"path": "a.txt"}} and then continue.',
        '[{"tool": "read_file", "arguments": {"path": "a.txt"}}]',
    ],
)
def test_text_actions_are_read_bare_fenced_or_in_prose(text: str) -> None:
    (call,) = parse_text_action(text)
    assert call.name == "read_file" and call.arguments == {"path": "a.txt"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [("", "empty"), ("I am done.", "no JSON object"), ('{"arguments": {}}', '"tool"'), ("[1]", "expected")],
)
def test_unreadable_text_actions_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_text_action(text)


@pytest.mark.parametrize(
    ("text", "name", "arguments"),
    [
        # the first bracket that decodes is not the action: `kwargs[0]` is skipped
        ('I pass kwargs[0] and {"k": 1} first. {"tool": "read_file", "arguments": {"path": "a.txt"}}',
         "read_file", {"path": "a.txt"}),
        # raw newlines and tabs inside a string, as models write code
        ('{"tool": "write_file", "arguments": {"path": "a.py", "content": "x = 1\n\ty = 2"}}',
         "write_file", {"path": "a.py", "content": "x = 1\n\ty = 2"}),
        # a "name" inside the arguments is not taken for the action
        ('{"tool": "update", "arguments": {"name": "Ann"}}', "update", {"name": "Ann"}),
        # {"name": ..., "parameters": ...}, and arguments encoded twice
        ('{"name": "read_file", "parameters": {"path": "b"}}', "read_file", {"path": "b"}),
        ('{"tool": "read_file", "arguments": "{\\"path\\": \\"c\\"}"}', "read_file", {"path": "c"}),
    ],
)
def test_text_actions_pick_the_object_that_is_an_action(text: str, name: str, arguments: dict[str, Any]) -> None:
    (call,) = parse_text_action(text)
    assert (call.name, call.arguments) == (name, arguments)


def test_spec_config_file_overrides_options(tmp_path: Path) -> None:
    (tmp_path / "sys.md").write_text("Custom system prompt for $max_steps steps.")
    config = tmp_path / "agent.toml"
    config.write_text('mode = "text"\ntemperature = 0.5\n[prompt_files]\nsystem_text = "sys.md"\n'
                      '[prices."my-model"]\ninput = 1.0\noutput = 2.0\n')
    factory = agent_factory(f"openai:my-model@{config}", {"base_url": "http://127.0.0.1:9/v1", "temperature": 0.1})
    assert factory.name == f"openai:my-model@{config}"
    assert factory.config["mode"] == "text" and factory.config["sampling"]["temperature"] == 0.5
    assert factory.config["prompts"]["system_text"]["source"] == str(tmp_path / "sys.md")
    assert factory.config["price_usd_per_mtok"] == {"input": 1.0, "output": 2.0}
    assert split_spec("@cf/meta/llama-3") == ("@cf/meta/llama-3", None)


def test_bad_options_and_missing_keys_fail_before_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="known options"):
        agent_factory(SPEC, {"base_url": "http://127.0.0.1:9/v1", "temprature": 0.1})
    with pytest.raises(ConfigError, match="mode"):
        agent_factory(SPEC, {"base_url": "http://127.0.0.1:9/v1", "mode": "chat"})
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY is not set"):
        agent_factory(SPEC, {})


def test_prices_match_dated_and_prefixed_names() -> None:
    table = {"gpt-4o": Price(input=2.5, output=10.0)}
    assert price_for("gpt-4o-2024-08-06", table) == table["gpt-4o"]
    assert price_for("openai/gpt-4o", table) == table["gpt-4o"]
    assert price_for("gpt-4o-mini", table) is None  # never a near miss


# ---------------------------------------------------------------- real-server behaviours (issue 11)


def view(instruction: str = "List the files, then submit.") -> TaskView:
    spec = ToolSpec(name="list_dir", description="List a directory of the work tree.",
                    parameters={"type": "object", "properties": {"path": {"type": "string"}}})
    submit = ToolSpec(name="submit", description="End the episode.", parameters={"type": "object", "properties": {}})
    return TaskView(task_id="files-0123", family="files", instruction=instruction, tools=[spec, submit],
                    level="agent", limits=Limits())


def steps_of(store: Store, run_id: str) -> list[StepRecord]:
    (stored,) = store.episodes(run_id)
    return store.steps(run_id, stored.key)


LONG_OUTPUT = ToolCall(name="bash", arguments={"command": "head -c 3000 /dev/zero | tr '\\0' y"})


async def test_tool_choice_auto_is_sent_and_a_server_that_needs_it_gets_tool_calls(run_agents: RunAgents) -> None:
    with ScriptedChatServer(oracle_policy("files", 0), tools_need_tool_choice=True) as server:
        store, run_id = await run_agents([SPEC], options=opts(server))
    assert only(store, run_id).outcome == "success"
    assert all(r.body and r.body["tool_choice"] == "auto" for r in server.requests)
    # Left out ("omit", as run.toml can say), the same server ignores the tools: no tool calls, and
    # the first step says why.
    with ScriptedChatServer(oracle_policy("files", 0), tools_need_tool_choice=True) as server:
        store, run_id = await run_agents([SPEC], options=opts(server, tool_choice="omit"), limits={"max_steps": 2})
    assert all(r.body and "tool_choice" not in r.body for r in server.requests)
    steps = steps_of(store, run_id)
    assert not any(s.action.tool_calls for s in steps)
    assert "ignore `tools`" in steps[0].action.info["diagnosis"]


async def test_dropped_tool_messages_are_diagnosed_and_as_user_results_reach_the_model(run_agents: RunAgents) -> None:
    policy = ReplayPolicy([LONG_OUTPUT, LONG_OUTPUT])
    with ScriptedChatServer(policy, drop_tool_messages=True) as server:
        store, run_id = await run_agents([SPEC], options=opts(server))
    diagnoses = [s.action.info.get("diagnosis", "") for s in steps_of(store, run_id)]
    assert any('tool_messages = "as_user"' in d for d in diagnoses), diagnoses
    flat = [r.prompt_tokens for r in server.requests]
    assert flat[1] - flat[0] < 100  # the 3,000 characters never reached the "model"

    with ScriptedChatServer(policy, drop_tool_messages=True) as server:
        store, run_id = await run_agents([SPEC], options=opts(server, tool_messages="as_user"))
    assert only(store, run_id).termination == "submitted"
    assert not any("diagnosis" in s.action.info for s in steps_of(store, run_id))
    grown = [r.prompt_tokens for r in server.requests]
    assert grown[1] - grown[0] >= 700  # ~3,000 characters of result, now in a user message
    first = server.requests[0].body
    assert first is not None and "Read a text file" in first["messages"][0]["content"]  # tools in the system prompt
    assert validate_transcript(server.requests[-1].body or {}) is None  # still valid for a strict endpoint


@pytest.mark.parametrize("style", ["openai", "llamacpp", "vllm"])
async def test_context_overflow_mid_episode_is_the_agents_fail_never_retried(
    run_agents: RunAgents, style: OverflowStyle
) -> None:
    looping = ReplayPolicy([LONG_OUTPUT] * 10)
    with ScriptedChatServer(looping, context_window=2500, overflow_style=style) as server:
        store, run_id = await run_agents([SPEC], options=opts(server, context_budget=None), max_attempts=3)
    (stored,) = store.episodes(run_id)
    result = stored.result
    assert result is not None and result.outcome == "fail" and stored.attempts == 1, result
    assert "context overflowed" in (result.error or "") and "context_budget" in (result.error or "")
    assert [r.status for r in server.requests].count(400) == 1  # refused once, not retried


async def test_overflow_at_the_first_call_names_the_settings_to_change() -> None:
    with ScriptedChatServer(context_window=20, overflow_style="llamacpp") as server:
        agent = agent_factory(SPEC, {"base_url": server.base_url, **FAST, "max_tokens": 64})(KEY)
        await agent.reset(view())
        with pytest.raises(ContextOverflow) as caught:
            await agent.act(Observation(step=0))
    assert caught.value.at_start and len(server.requests) == 1
    message = str(caught.value)
    assert all(word in message for word in ("context_budget", "max_output_tokens (now 64)", "--n_ctx"))
    assert "the server's context is 20 tokens" in message
    # A task that cannot fit the agent's own budget fails the same way, before any request.
    with ScriptedChatServer() as server:
        agent = agent_factory(SPEC, {"base_url": server.base_url, **FAST, "context_budget": 500})(KEY)
        await agent.reset(view("x" * 4000))
        with pytest.raises(ContextOverflow, match="raise context_budget") as caught:
            await agent.act(Observation(step=0))
        assert caught.value.at_start and not server.requests


async def test_context_budget_bounds_every_prompt_cutting_replies_and_turns(run_agents: RunAgents) -> None:
    big_reply = ToolCall(name="write_file", arguments={"path": "notes.txt", "content": "z" * 3000})
    policy = ReplayPolicy([big_reply, big_reply, LONG_OUTPUT] * 7)
    with ScriptedChatServer(policy, context_window=6000) as server:  # strict: every transcript is validated
        store, run_id = await run_agents([SPEC], options=opts(server, context_budget=5000), limits={"max_steps": 20})
    assert [r.status for r in server.requests] == [200] * 20  # never refused, never an invalid transcript
    assert max(r.prompt_tokens for r in server.requests) <= 5000
    trimmed = [s.action.info["context_trimmed"] for s in steps_of(store, run_id) if "context_trimmed" in s.action.info]
    assert any(t.get("replies") for t in trimmed) and any(t.get("turns") for t in trimmed), trimmed
    last = server.requests[-1].body or {}
    assert "removed to fit the context budget" in last["messages"][1]["content"]  # the task says turns were dropped


async def test_raw_newlines_in_tool_arguments_are_accepted(run_agents: RunAgents) -> None:
    raw = '{"path": "poem.txt", "content": "first line\nsecond line\tend"}'  # control characters inside a string
    with ScriptedChatServer(ReplayPolicy([ToolCall(name="write_file", arguments=raw)])) as server:
        store, run_id = await run_agents([SPEC], options=opts(server), limits={"max_steps": 2})
    first = steps_of(store, run_id)[0]
    assert first.action.tool_calls[0].arguments == {"path": "poem.txt", "content": "first line\nsecond line\tend"}
    assert not first.results[0].is_error, first.results[0].output


@pytest.mark.parametrize("stream", [False, True])
async def test_the_time_limit_closes_the_request_in_flight(run_agents: RunAgents, stream: bool) -> None:
    with ScriptedChatServer(oracle_policy("files", 0), delay=6.0) as server:
        store, run_id = await run_agents([SPEC], options=opts(server, stream=stream, timeout=30.0),
                                         limits={"max_seconds": 1.0})
        (first,) = server.requests
        assert first.abandoned and first.finished - first.at < 3.0  # the server saw the client leave at once
    assert only(store, run_id).termination == "time_limit"


async def test_a_cut_off_reply_is_recorded_and_the_model_told(run_agents: RunAgents) -> None:
    with ScriptedChatServer(oracle_policy("files", 0), faults={1: Fault("length")}) as server:
        store, run_id = await run_agents([SPEC], options=opts(server, max_tokens=50))
    steps = steps_of(store, run_id)
    assert steps[0].action.info["finish_reason"] == "length"
    assert sum(s.action.info.get("finish_reason") == "length" for s in steps) == 1
    told = json.dumps(server.requests[1].body)
    assert "cut off at the output limit (50 tokens)" in told
    assert "cut off" not in json.dumps(server.requests[2].body["messages"][-1])  # type: ignore[index]


async def test_streamed_replies_complete_episodes_with_the_servers_usage(run_agents: RunAgents) -> None:
    with ScriptedChatServer(oracle_policy("files", [0, 1])) as server:
        store, run_id = await run_agents([SPEC], seeds=[0, 1], options=opts(server, stream=True))
    assert [r.outcome for r in results(store, run_id)] == ["success", "success"]
    assert all(r.body and r.body["stream"] and r.body["stream_options"] == {"include_usage": True}
               for r in server.requests)
    for stored in store.episodes(run_id):
        assert not any(s.action.info.get("usage_estimated") for s in store.steps(run_id, stored.key))


async def test_episodes_share_one_connection_pool(run_agents: RunAgents) -> None:
    with ScriptedChatServer(oracle_policy("files", list(range(6)))) as server:
        store, run_id = await run_agents([SPEC], seeds=list(range(6)), concurrency=2,
                                         options=opts(server, max_concurrency=2))
    assert all(r.outcome == "success" for r in results(store, run_id))
    ports = {r.client_port for r in server.requests}
    assert len(server.requests) > 12 and len(ports) <= 2, ports  # kept-alive connections, across episodes


def test_an_endpoint_dropped_before_its_loop_ends_still_closes_cleanly(caplog: pytest.LogCaptureFixture) -> None:
    async def one_call(factory: Any) -> Any:
        agent = factory(KEY)
        await agent.reset(view())
        await agent.act(Observation(step=0))
        return factory.endpoint._loops[asyncio.get_running_loop()].session

    with ScriptedChatServer(oracle_policy("files", 0)) as server, caplog.at_level(logging.ERROR, logger="asyncio"):
        with asyncio.Runner() as runner:  # as a test's loop, or a library user's run, ends
            factory = agent_factory(SPEC, {"base_url": server.base_url, **FAST})
            session = runner.run(one_call(factory))
            del factory
            gc.collect()  # the endpoint is gone between the last run and the loop's close
        gc.collect()
    assert session.closed
    assert "destroyed but it is pending" not in caplog.text


def test_the_client_closes_when_its_event_loop_ends() -> None:
    with ScriptedChatServer(oracle_policy("files", 0)) as server:
        factory = agent_factory(SPEC, {"base_url": server.base_url, **FAST})

        async def one_call() -> Any:
            agent = factory(KEY)
            await agent.reset(view())
            await agent.act(Observation(step=0))
            return factory.endpoint._loops[asyncio.get_running_loop()].session  # type: ignore[attr-defined]

        session = asyncio.run(one_call())
        assert session.closed


def test_request_bodies_are_compact_utf8_json_and_odd_values_still_go_out() -> None:
    text = {"content": "caf\u00e9 \u2713", "n": [1, 2.5, None]}
    assert _dumps(text) == '{"content":"caf\u00e9 \u2713","n":[1,2.5,null]}'.encode()
    huge = {"seed": 2**70, 3: "an integer key"}  # past orjson's 64 bits, and a key JSON writes as text
    assert json.loads(_dumps(huge)) == {"seed": 2**70, "3": "an integer key"}


@pytest.mark.parametrize("family", ["helpdesk", "files"])
def test_tool_descriptions_made_once_per_spec_match_encoding_them_afresh(family: str) -> None:
    from arena.agents.openai_chat import describe_tools, tools_chars
    from arena.registry import load_family

    fam = load_family(family)
    specs = [t.spec() for t in fam.tools(fam.generate(0, "dev"))]
    fresh = "\n".join(f"- {t.name}: {t.description}\n  arguments: {json.dumps(t.parameters, separators=(',', ':'))}"
                      for t in specs)
    for _ in range(2):  # made, then from the cache
        assert describe_tools(specs) == fresh
        assert tools_chars(specs) == len(json.dumps([t.openai() for t in specs]))
        assert tools_chars(specs[:1]) == len(json.dumps([specs[0].openai()])) and tools_chars([]) == 0
    changed = specs[0].model_copy(update={"description": "another"})  # a new spec is described anew
    assert describe_tools([changed]).startswith(f"- {changed.name}: another\n")
