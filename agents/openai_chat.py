"""`openai:MODEL[@CONFIG.toml]`: any model behind an OpenAI-compatible chat-completions endpoint.

Two modes. `tools` (default) uses native tool calling: the task's tools are sent as `tools` (with
`tool_choice`), the model's `tool_calls` become the action, and each result goes back as a `tool`
message (or, with `tool_messages = "as_user"`, as a user message, for servers whose chat templates
drop tool messages). `text` is for endpoints without tool calling: the tools are described in the
system prompt and the model answers with a JSON action (`{"tool": ..., "arguments": {...}}`,
fenced or not); a reply that cannot be read is returned as `Action(parse_error=...)`, and the next
message says what was wrong.

Every action carries the reply's token usage and its cost from `agents/prices.toml` (None when the
model's price is unknown). `Action.info` (stored with the step) records what the agent did beyond
the reply: `context_trimmed` (what was cut to fit `context_budget`), `finish_reason` when the reply
was cut off (the model is told in the next message), `retries`, `usage_estimated`, and a
`diagnosis` when the server's token counts show it dropped the tools or the tool results. A prompt
the model's context cannot hold raises `ContextOverflow` (`at_start` at the episode's first call).
Endpoint failures are retried in `openai_http` and end as `InfraError` after the bound. The API
key is read from the environment at call time; it is never stored, logged or put in errors.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import urlsplit

from arena.agents.openai_http import ChatEndpoint
from arena.agents.openai_settings import (
    OpenAIOptions,
    Price,
    PromptTemplate,
    cost_usd,
    default_prices,
    load_options,
    load_prices,
    load_prompts,
    price_for,
    public_url,
    resolve_base_url,
)
from arena.agents.openai_text import loads_object, parse_text_action
from arena.agents.openai_transcript import Transcript
from arena.errors import ConfigError, ContextOverflow
from arena.types import Action, EpisodeKey, Observation, TaskView, ToolCall, ToolSpec, Usage, new_call_id

# A tool result at least this long should make the next prompt grow; if it barely does, the
# server dropped it (its chat template has no place for `tool` messages).
DIAGNOSE_RESULT_CHARS = 800
AS_USER_PLACEHOLDER = "(the result is in the next message)"

__all__ = ["OpenAIChatAgent", "OpenAIChatFactory", "make_factory", "parse_text_action"]


class OpenAIChatFactory:
    """Makes one `OpenAIChatAgent` per episode. They share one endpoint: one HTTP client and one
    bound on model calls in flight per event loop."""

    def __init__(self, rest: str, options: dict[str, Any]) -> None:
        self.model, self.options, config_path = load_options(rest, options)
        self.base_url = resolve_base_url(self.options)
        self.public_url = public_url(self.base_url)
        if urlsplit(self.base_url).hostname == "api.openai.com" and not os.environ.get(self.options.api_key_env):
            raise ConfigError(
                f"openai:{rest} calls {self.public_url} but {self.options.api_key_env} is not set: "
                f"export {self.options.api_key_env}=<your key>, or set base_url for a local endpoint"
            )
        self.prompts = load_prompts(self.options)
        self.price: Price | None = price_for(self.model, load_prices(self.options.prices))
        self.name = f"openai:{rest}"
        o = self.options
        unused = {"system_text", "tool_list"} if o.mode == "tools" else {"system_tools", "tool_list"}
        if o.mode == "tools" and o.tool_messages == "as_user":
            unused.discard("tool_list")
        self.config: dict[str, Any] = {
            "kind": "openai",
            "model": self.model,
            "base_url": self.public_url,
            "api_key_env": o.api_key_env,
            "mode": o.mode,
            "tool_choice": o.tool_choice,
            "tool_messages": o.tool_messages,
            "stream": o.stream,
            "sampling": {"temperature": o.temperature, "top_p": o.top_p, "max_tokens": o.max_tokens, "seed": o.seed},
            "extra_body": o.extra_body,
            "timeout": o.timeout,
            "max_retries": o.max_retries,
            "backoff": o.backoff,
            "max_backoff": o.max_backoff,
            "max_concurrency": o.max_concurrency,
            "context_budget": o.context_budget,
            "price_usd_per_mtok": self.price.model_dump() if self.price else None,
            "prices_as_of": default_prices()[1] if o.prices is None else "with overrides",
            "prompts": {n: p.record() for n, p in self.prompts.items() if n not in unused},
            "config_file": str(config_path) if config_path else None,
        }
        self.endpoint = ChatEndpoint(
            self.base_url, self.public_url, api_key_env=o.api_key_env, timeout=o.timeout,
            max_retries=o.max_retries, backoff=o.backoff, max_backoff=o.max_backoff,
            max_concurrency=o.max_concurrency, stream=o.stream,
        )

    def __call__(self, key: EpisodeKey) -> OpenAIChatAgent:
        return OpenAIChatAgent(self)

    async def aclose(self) -> None:
        """Close the HTTP client of the running event loop (done by itself when the loop ends)."""
        await self.endpoint.aclose()


def make_factory(rest: str, options: dict[str, Any]) -> OpenAIChatFactory:
    return OpenAIChatFactory(rest, options)


class OpenAIChatAgent:
    def __init__(self, factory: OpenAIChatFactory) -> None:
        self.factory = factory
        self.options: OpenAIOptions = factory.options
        self.prompts: dict[str, PromptTemplate] = factory.prompts
        self.tools: list[dict[str, Any]] = []
        self.transcript: Transcript | None = None
        self._pending: list[str] = []  # tool call ids of the last reply, each owed a tool message
        self._parse_failed = False
        self._cut_off = False  # the last reply ended at the output limit
        self._calls = 0  # replies received this episode
        self._last_prompt: tuple[int, int] | None = None  # prompt and completion tokens of the last reply
        self._result_chars = 0  # characters of tool results sent as tool messages since the last reply
        self._diagnosed: set[str] = set()

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.transcript.messages() if self.transcript else []

    async def reset(self, view: TaskView) -> None:
        o = self.options
        self.tools = [t.openai() for t in view.tools] if o.mode == "tools" else []
        values = {
            "instruction": view.instruction, "tools": describe_tools(view.tools), "max_steps": view.limits.max_steps,
            "task_id": view.task_id, "family": view.family, "level": view.level,
        }
        system = self.prompts[f"system_{o.mode}"].render(**values)
        if o.mode == "tools" and o.tool_messages == "as_user":  # the template may drop the tools' descriptions
            system = f"{system}\n\n{self.prompts['tool_list'].render(**values)}"

        def dropped(n: int) -> str:
            return self.prompts["note"].render(
                note=f"the first {n} step(s) of this conversation were removed to fit the context budget; "
                "what they did to the files and state remains")

        chars = tools_chars(view.tools) if o.mode == "tools" else 0
        self.transcript = Transcript(system, self.prompts["task"].render(**values), chars, dropped)
        self._pending, self._parse_failed, self._cut_off, self._calls = [], False, False, 0
        self._last_prompt, self._result_chars, self._diagnosed = None, 0, set()

    async def close(self) -> None:
        """Nothing of the episode's own to close: the HTTP client is the factory's, shared."""

    async def act(self, obs: Observation) -> Action:
        assert self.transcript is not None, "reset() the agent first"
        self._absorb(obs)
        info: dict[str, Any] = {}
        budget = self.options.context_budget
        if budget is not None:
            if trimmed := self.transcript.fit(budget):
                info["context_trimmed"] = trimmed
                info["prompt_estimate"] = self.transcript.estimate()
            if self._calls == 0 and self.transcript.estimate() > budget:
                raise ContextOverflow(
                    f"{self.factory.name}: the system prompt and the task alone take about "
                    f"{self.transcript.estimate()} tokens, more than context_budget ({budget}): raise context_budget",
                    at_start=True,
                )
        body = self._request()
        raw_estimate = self.transcript.raw_estimate()
        try:
            reply, retries = await self.factory.endpoint.complete(body)
        except ContextOverflow as e:
            raise self._overflow(e) from None
        self._calls += 1
        choice = reply["choices"][0]
        message = choice["message"]
        action = self._tools_action(message) if self.options.mode == "tools" else self._text_action(message)
        action.usage = self._usage(reply, body, message, info)
        if not info.get("usage_estimated"):
            self._diagnose(action.usage, raw_estimate, info, trimmed=bool(info.get("context_trimmed")))
            self.transcript.calibrate(raw_estimate, action.usage.input_tokens)
        if retries:
            info["retries"] = retries
        finish = choice.get("finish_reason")
        if finish not in (None, "stop", "tool_calls"):
            info["finish_reason"] = finish  # e.g. "length": the reply was cut off
        self._cut_off = finish == "length"
        action.info = info
        return action

    def _overflow(self, e: ContextOverflow) -> ContextOverflow:
        o = self.options
        if self._calls == 0:
            max_tokens = o.max_tokens if o.max_tokens is not None else "not set, so the server may reserve its default"
            return ContextOverflow(
                f"{self.factory.name}: the episode's first prompt does not fit the model's context: {e}. Raise the "
                f"server's context size (llama.cpp -c, llama-cpp-python --n_ctx, vLLM --max-model-len) or lower "
                f"max_output_tokens (now {max_tokens}); keep context_budget (now {o.context_budget}) below it too",
                at_start=True,
            )
        advice = ("set context_budget below the server's context size, so old output is trimmed instead"
                  if o.context_budget is None else
                  f"if context_budget ({o.context_budget}) plus max_output_tokens ({o.max_tokens}) is more than the "
                  "server holds, lower it so old output is trimmed instead")
        return ContextOverflow(f"the model's context overflowed after {self._calls} replies: {e}; {advice}")

    # ------------------------------------------------------------ transcript

    def _absorb(self, obs: Observation) -> None:
        """Put the observation into the transcript: tool messages (tools mode) and one user message."""
        assert self.transcript is not None
        results = list(obs.results)
        self._result_chars = 0
        as_user = self.options.tool_messages == "as_user"
        if self.options.mode == "tools":
            by_id = {r.call_id: r for r in results}
            for call_id in self._pending:  # every tool call must be answered, or the endpoint rejects the transcript
                r = by_id.pop(call_id, None)
                if r is None:
                    content = "not run: the episode skipped this call"
                elif as_user:  # answered, so the transcript stays valid; the result goes in the user message
                    content = AS_USER_PLACEHOLDER
                    by_id[call_id] = r
                else:
                    content = r.output
                    self._result_chars += len(content)
                self.transcript.add("output", {"role": "tool", "tool_call_id": call_id, "content": content})
            results = [r for r in results if r.call_id in by_id]
            self._pending = []
        parts = [self.prompts["result"].render(name=r.name, status="error" if r.is_error else "ok", output=r.output)
                 for r in results]
        if self._cut_off:
            limit = self.options.max_tokens if self.options.max_tokens is not None else "the server's"
            parts.append(self.prompts["note"].render(note=self.prompts["cut_off"].render(limit=limit)))
        if obs.note:
            parts.append(self.prompts["note"].render(note=obs.note))
        if self._parse_failed:
            parts.append(self.prompts["text_reminder"].render())
        if not parts and self.transcript.last["role"] == "assistant":
            parts.append(self.prompts["note"].render(note="continue: call a tool, or call submit when you are done"))
        if parts:
            kind = "output" if results else "note"
            self.transcript.add(kind, {"role": "user", "content": "\n\n".join(parts)})

    def _request(self) -> dict[str, Any]:
        assert self.transcript is not None
        o = self.options
        body: dict[str, Any] = {"model": self.factory.model, "messages": self.transcript.messages()}
        if self.tools:
            body["tools"] = self.tools
            if o.tool_choice not in (None, "omit"):
                body["tool_choice"] = o.tool_choice
        for name in ("temperature", "top_p", "max_tokens", "seed"):
            if (value := getattr(o, name)) is not None:
                body[name] = value
        body.update(o.extra_body)
        return body

    def _diagnose(self, usage: Usage, raw_estimate: int, info: dict[str, Any], *, trimmed: bool) -> None:
        """Say so when the server's prompt count shows it dropped the tools or the tool results."""
        assert self.transcript is not None
        found = []
        tools_tokens = self.transcript.tools_chars // 4
        if self._calls == 1 and tools_tokens >= 100 and "tools" not in self._diagnosed:
            messages_tokens = raw_estimate - tools_tokens
            if usage.input_tokens < messages_tokens + 0.2 * tools_tokens:
                self._diagnosed.add("tools")
                found.append(
                    f"the first prompt counted {usage.input_tokens} tokens, about what the messages alone take "
                    f"(~{messages_tokens}) without the ~{tools_tokens} of the tool definitions: the server seems "
                    "to ignore `tools`; set tool_choice = \"auto\" if it was unset, or use mode = \"text\"")
        if self._last_prompt is not None and self._result_chars >= DIAGNOSE_RESULT_CHARS and not trimmed \
                and "tool_messages" not in self._diagnosed:
            before, completion = self._last_prompt
            grew = usage.input_tokens - before - completion
            expected = self._result_chars // 4
            if grew < 0.25 * expected:
                self._diagnosed.add("tool_messages")
                found.append(
                    f"prompt tokens grew by {grew} after {self._result_chars} characters of tool results "
                    f"(~{expected} tokens): the server's chat template seems to drop `tool` messages, so the model "
                    "never sees the results; set tool_messages = \"as_user\"")
        self._last_prompt = (usage.input_tokens, usage.output_tokens)
        if found:
            info["diagnosis"] = "; ".join(found)

    # ------------------------------------------------------------ replies

    def _tools_action(self, message: dict[str, Any]) -> Action:
        assert self.transcript is not None
        content = text_of(message.get("content"))
        raw_calls = message.get("tool_calls") or []
        calls: list[ToolCall] = []
        stored: list[dict[str, Any]] = []
        seen: set[str] = set()
        problem = None if isinstance(raw_calls, list) else "tool_calls is not a list"
        for tc in raw_calls if isinstance(raw_calls, list) else []:
            fn = tc.get("function") if isinstance(tc, dict) else None
            name = fn.get("name") if isinstance(fn, dict) else None
            if not isinstance(name, str) or not name:
                problem = "a tool call has no function name"
                continue
            call_id = tc.get("id") if isinstance(tc.get("id"), str) and tc["id"] not in seen else new_call_id()
            seen.add(call_id)
            raw = fn.get("arguments")
            arguments: dict[str, Any] | str
            if isinstance(raw, dict):
                arguments, raw = raw, json.dumps(raw)
            elif isinstance(raw, str):
                arguments = loads_object(raw)  # not a JSON object: the raw string, and the episode says why
            else:
                arguments, raw = {}, "{}"
            calls.append(ToolCall(id=call_id, name=name, arguments=arguments))
            stored.append({"id": call_id, "type": "function", "function": {"name": name, "arguments": raw}})
        assistant: dict[str, Any] = {"role": "assistant", "content": content or ""}
        if stored:
            assistant["tool_calls"] = stored
        self.transcript.add("reply", assistant)
        self._pending = [c.id for c in calls]
        if problem and not calls:
            return Action(message=content or None, parse_error=problem)
        return Action(tool_calls=calls, message=content or None)

    def _text_action(self, message: dict[str, Any]) -> Action:
        assert self.transcript is not None
        content = text_of(message.get("content"))
        self.transcript.add("reply", {"role": "assistant", "content": content})
        try:
            calls = parse_text_action(content)
        except ValueError as e:
            self._parse_failed = True
            return Action(message=content or None, parse_error=str(e))
        self._parse_failed = False
        return Action(tool_calls=calls, message=content)

    def _usage(
        self, reply: dict[str, Any], body: dict[str, Any], message: dict[str, Any], info: dict[str, Any]
    ) -> Usage:
        usage = reply.get("usage") if isinstance(reply.get("usage"), dict) else {}
        tokens_in = usage.get("prompt_tokens", usage.get("input_tokens"))
        tokens_out = usage.get("completion_tokens", usage.get("output_tokens"))
        if not isinstance(tokens_in, int) or not isinstance(tokens_out, int):
            # No usage in the reply: estimate, and say so, rather than record a free call.
            tokens_in = (len(json.dumps(body["messages"])) + len(json.dumps(self.tools))) // 4
            tokens_out = len(json.dumps(message)) // 4
            info["usage_estimated"] = True
        return Usage(
            input_tokens=tokens_in, output_tokens=tokens_out,
            cost_usd=cost_usd(self.factory.price, tokens_in, tokens_out), model=self.factory.model,
        )


# ---------------------------------------------------------------- helpers


def describe_tools(tools: list[ToolSpec]) -> str:
    return "\n".join(_described(t)[0] for t in tools)


def tools_chars(tools: list[ToolSpec]) -> int:
    """Characters of `json.dumps` of the tools in the request's format, without encoding them again."""
    return sum(_described(t)[1] for t in tools) + 2 * len(tools) if tools else 0  # "[", "]" and ", " between


_DESCRIBED: dict[int, tuple[ToolSpec, str, int]] = {}


def _described(spec: ToolSpec) -> tuple[str, int]:
    """A tool's line in the prompt and the length of its JSON in the request, made once per spec:
    the specs of a family's tools are shared by all its episodes (`arena.tools.tool_spec`), and
    encoding them again for every episode was most of an agent's reset."""
    hit = _DESCRIBED.get(id(spec))
    if hit is None or hit[0] is not spec:  # held in the entry, so its id is not reused while cached
        if len(_DESCRIBED) >= 4096:
            _DESCRIBED.clear()
        line = f"- {spec.name}: {spec.description}\n  arguments: {json.dumps(spec.parameters, separators=(',', ':'))}"
        hit = _DESCRIBED[id(spec)] = (spec, line, len(json.dumps(spec.openai())))
    return hit[1], hit[2]


def text_of(content: Any) -> str:
    """Message content as text (some endpoints send a list of parts)."""
    if content is None:
        return ""
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)
