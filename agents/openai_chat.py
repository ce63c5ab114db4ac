"""`openai:MODEL[@CONFIG.toml]`: any model behind an OpenAI-compatible chat-completions endpoint.

Two modes. `tools` (default) uses native tool calling: the task's tools are sent as `tools`, the
model's `tool_calls` become the action, and each result goes back as a `tool` message. `text` is
for endpoints without tool calling: the tools are described in the system prompt and the model
answers with a JSON action (`{"tool": ..., "arguments": {...}}`, fenced or not); a reply that
cannot be read is returned as `Action(parse_error=...)`, and the next message says what was wrong.

Every action carries the reply's token usage and its cost from `agents/prices.toml` (None when the
model's price is unknown). The transcript is kept under `context_budget` by shortening old tool
outputs. Endpoint failures are retried in `openai_http` and end as `InfraError` after the bound.
The API key is read from the environment at call time; it is never stored, logged or put in errors.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import weakref
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
from arena.errors import ConfigError
from arena.types import Action, EpisodeKey, Observation, TaskView, ToolCall, ToolSpec, Usage, new_call_id

KEEP_RECENT_OUTPUTS = 3  # the latest tool outputs are never shortened: the model is working on them
TRIM_AT, TRIM_TO = 0.8, 0.6  # start shortening at 80% of the budget, stop at 60% (so it rarely repeats)
TRIM_KEEP_HEAD, TRIM_KEEP_TAIL = 300, 200


class OpenAIChatFactory:
    """Makes one `OpenAIChatAgent` per episode; they share one bound on model calls in flight."""

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
        other_system = "system_text" if self.options.mode == "tools" else "system_tools"
        o = self.options
        self.config: dict[str, Any] = {
            "kind": "openai",
            "model": self.model,
            "base_url": self.public_url,
            "api_key_env": o.api_key_env,
            "mode": o.mode,
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
            "prompts": {n: p.record() for n, p in self.prompts.items() if n != other_system},
            "config_file": str(config_path) if config_path else None,
        }
        # One semaphore per event loop: asyncio primitives cannot cross loops (tests run several).
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def slot(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if loop not in self._slots:
            self._slots[loop] = asyncio.Semaphore(self.options.max_concurrency)
        return self._slots[loop]

    def endpoint(self) -> ChatEndpoint:
        o = self.options
        return ChatEndpoint(
            self.base_url, self.public_url, api_key_env=o.api_key_env, timeout=o.timeout,
            max_retries=o.max_retries, backoff=o.backoff, max_backoff=o.max_backoff, slot=self.slot,
        )

    def __call__(self, key: EpisodeKey) -> OpenAIChatAgent:
        return OpenAIChatAgent(self)


def make_factory(rest: str, options: dict[str, Any]) -> OpenAIChatFactory:
    return OpenAIChatFactory(rest, options)


class OpenAIChatAgent:
    def __init__(self, factory: OpenAIChatFactory) -> None:
        self.factory = factory
        self.options: OpenAIOptions = factory.options
        self.prompts: dict[str, PromptTemplate] = factory.prompts
        self.messages: list[dict[str, Any]] = []
        self.tools: list[dict[str, Any]] = []
        self._outputs: list[int] = []  # indexes of messages holding tool output (what may be shortened)
        self._pending: list[str] = []  # tool call ids of the last reply, each owed a tool message
        self._parse_failed = False
        self._endpoint: ChatEndpoint | None = None

    async def reset(self, view: TaskView) -> None:
        mode = self.options.mode
        self.tools = [t.openai() for t in view.tools] if mode == "tools" else []
        values = {
            "instruction": view.instruction, "tools": describe_tools(view.tools), "max_steps": view.limits.max_steps,
            "task_id": view.task_id, "family": view.family, "level": view.level,
        }
        self.messages = [
            {"role": "system", "content": self.prompts[f"system_{mode}"].render(**values)},
            {"role": "user", "content": self.prompts["task"].render(**values)},
        ]
        self._outputs, self._pending, self._parse_failed = [], [], False
        if self._endpoint is None:
            self._endpoint = self.factory.endpoint()

    async def close(self) -> None:
        if self._endpoint is not None:
            await self._endpoint.aclose()
            self._endpoint = None

    async def act(self, obs: Observation) -> Action:
        assert self._endpoint is not None, "reset() the agent first"
        self._absorb(obs)
        info: dict[str, Any] = self._fit_context()
        body = self._request()
        reply, retries = await self._endpoint.complete(body)
        choice = reply["choices"][0]
        message = choice["message"]
        action = self._tools_action(message) if self.options.mode == "tools" else self._text_action(message)
        action.usage = self._usage(reply, body, message, info)
        if retries:
            info["retries"] = retries
        finish = choice.get("finish_reason")
        if finish not in (None, "stop", "tool_calls"):
            info["finish_reason"] = finish  # e.g. "length": the reply was cut off
        action.info = info
        return action

    # ------------------------------------------------------------ transcript

    def _absorb(self, obs: Observation) -> None:
        """Put the observation into the transcript: tool messages (tools mode) or one user message."""
        results = list(obs.results)
        if self.options.mode == "tools":
            by_id = {r.call_id: r for r in results}
            for call_id in self._pending:  # every tool call must be answered, or the endpoint rejects the transcript
                r = by_id.pop(call_id, None)
                content = r.output if r is not None else "not run: the episode skipped this call"
                self._add({"role": "tool", "tool_call_id": call_id, "content": content}, output=r is not None)
            results = list(by_id.values())
            self._pending = []
        parts = [self.prompts["result"].render(name=r.name, status="error" if r.is_error else "ok", output=r.output)
                 for r in results]
        if obs.note:
            parts.append(self.prompts["note"].render(note=obs.note))
        if self._parse_failed:
            parts.append(self.prompts["text_reminder"].render())
        if not parts and self.messages[-1]["role"] == "assistant":
            parts.append(self.prompts["note"].render(note="continue: call a tool, or call submit when you are done"))
        if parts:
            self._add({"role": "user", "content": "\n\n".join(parts)}, output=bool(results))

    def _add(self, message: dict[str, Any], output: bool = False) -> None:
        if output:
            self._outputs.append(len(self.messages))
        self.messages.append(message)

    def _request(self) -> dict[str, Any]:
        o = self.options
        body: dict[str, Any] = {"model": self.factory.model, "messages": self.messages}
        if self.tools:
            body["tools"] = self.tools
        for name in ("temperature", "top_p", "max_tokens", "seed"):
            if (value := getattr(o, name)) is not None:
                body[name] = value
        body.update(o.extra_body)
        return body

    def _estimate(self) -> int:
        return (len(json.dumps(self.messages)) + len(json.dumps(self.tools))) // 4

    def _fit_context(self) -> dict[str, Any]:
        """Shorten old tool outputs, oldest first, when the transcript nears the context budget."""
        budget = self.options.context_budget
        if budget is None:
            return {}
        estimate = self._estimate()
        if estimate < TRIM_AT * budget:
            return {}
        trimmed = 0
        for index in self._outputs[:-KEEP_RECENT_OUTPUTS]:
            if estimate <= TRIM_TO * budget:
                break
            content = self.messages[index]["content"]
            short = shorten(content)
            if len(short) < len(content):
                self.messages[index]["content"] = short
                estimate -= (len(content) - len(short)) // 4
                trimmed += 1
        return {"context_trimmed": trimmed, "estimated_tokens": estimate} if trimmed else {}

    # ------------------------------------------------------------ replies

    def _tools_action(self, message: dict[str, Any]) -> Action:
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
        self.messages.append(assistant)
        self._pending = [c.id for c in calls]
        if problem and not calls:
            return Action(message=content or None, parse_error=problem)
        return Action(tool_calls=calls, message=content or None)

    def _text_action(self, message: dict[str, Any]) -> Action:
        content = text_of(message.get("content"))
        self.messages.append({"role": "assistant", "content": content})
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
            cost_usd=cost_usd(self.factory.price, tokens_in, tokens_out),
        )


# ---------------------------------------------------------------- helpers


def describe_tools(tools: list[ToolSpec]) -> str:
    return "\n".join(
        f"- {t.name}: {t.description}\n  arguments: {json.dumps(t.parameters, separators=(',', ':'))}" for t in tools
    )


def text_of(content: Any) -> str:
    """Message content as text (some endpoints send a list of parts)."""
    if content is None:
        return ""
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


def loads_object(raw: str) -> dict[str, Any] | str:
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return raw
    return value if isinstance(value, dict) else raw


def shorten(text: str) -> str:
    if len(text) <= TRIM_KEEP_HEAD + TRIM_KEEP_TAIL + 200:
        return text
    cut = len(text) - TRIM_KEEP_HEAD - TRIM_KEEP_TAIL
    return (f"{text[:TRIM_KEEP_HEAD]}\n[... {cut} characters of old tool output removed to fit the context budget ...]"
            f"\n{text[-TRIM_KEEP_TAIL:]}")


FENCE = re.compile(r"```(?:json|JSON)?\s*\n(.*?)```", re.DOTALL)


def parse_text_action(text: str) -> list[ToolCall]:
    """Read a text-mode reply: one `{"tool": NAME, "arguments": {...}}` object (or a list of them),
    bare or in a ```json fence, possibly with prose around it. Raises ValueError saying what is wrong."""
    if not text.strip():
        raise ValueError('the reply is empty; answer with {"tool": "...", "arguments": {...}}')
    candidates = [m.group(1) for m in FENCE.finditer(text)] + [text]
    value: Any = None
    for candidate in candidates:
        value = first_json(candidate)
        if value is not None:
            break
    if value is None:
        raise ValueError('no JSON object found in the reply; answer with {"tool": "...", "arguments": {...}}')
    items = value if isinstance(value, list) else [value]
    calls = []
    for item in items:
        if not isinstance(item, dict):
            raise ValueError(f"expected a JSON object naming a tool, got {type(item).__name__}")
        name = item.get("tool", item.get("name"))
        if not isinstance(name, str) or not name:
            raise ValueError('the JSON object has no "tool" key naming the tool to call')
        arguments = item.get("arguments", item.get("args", {}))
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict | str):
            raise ValueError(f'"arguments" must be a JSON object, got {type(arguments).__name__}')
        calls.append(ToolCall(name=name, arguments=arguments))
    if not calls:
        raise ValueError("the reply holds an empty list of actions")
    return calls


def first_json(text: str) -> Any:
    """The whole text as JSON, else the first object or list that decodes from a `{` or `[`."""
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except json.JSONDecodeError:
        pass
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", stripped):
        try:
            value, _ = decoder.raw_decode(stripped, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict | list) and value:
            return value
    return None
