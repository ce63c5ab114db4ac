"""`openai:` agents against the scripted chat-completions server on 127.0.0.1: real HTTP, the real
Runner and Store, the `files` family in a process sandbox."""

from __future__ import annotations

import email.utils
import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from arena.agents.openai_chat import parse_text_action
from arena.agents.openai_http import _retry_after
from arena.agents.openai_settings import Price, price_for, split_spec
from arena.errors import ConfigError
from arena.registry import agent_factory
from arena.store import Store
from arena.testing import Fault, ReplayPolicy, ScriptedChatServer, oracle_policy
from arena.types import EpisodeResult, ToolCall, Usage

RunAgents = Callable[..., Awaitable[tuple[Store, str]]]  # the `run_agents` fixture

FAST = {"backoff": 0.01, "max_backoff": 0.05, "timeout": 2.0, "max_retries": 2}  # retries cost milliseconds
MODEL = "gpt-4o-mini"  # priced in agents/prices.toml
SPEC = f"openai:{MODEL}"


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
