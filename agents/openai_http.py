"""The HTTP boundary of `openai:` agents: one chat-completions request with retries.

This is the one place where HTTP errors and statuses become arena errors: 429, 5xx,
timeouts, connection errors and malformed bodies are retried with exponential backoff and
jitter (honouring Retry-After) and end as `InfraError` after the bound; a prompt too long for the
model's context (OpenAI's `context_length_exceeded`, llama.cpp's `exceed_context_size_error`,
vLLM's "maximum context length") is `ContextOverflow`, never retried; other 4xx statuses end as
`InfraError` at once, with a message that says what to fix. The API key is read from the
environment for each request and scrubbed from every message this module produces.

One `ChatEndpoint` serves every episode of an agent factory, with one SSL context (building one
costs ~20 ms of CPU) and, per event loop, one aiohttp session closed when that loop shuts down.
aiohttp rather than httpx: httpcore's pool does work in proportion to connections x waiting
requests on every request, its anyio layer adds more, and httpx's own request and response
models as much again; at a thousand episodes in flight that was three times the CPU per request
of aiohttp's pool and C parser, on the one core that also runs every episode. The proxy comes from
the environment (HTTPS_PROXY, NO_PROXY) as it would for httpx. A request whose caller is
cancelled (the episode's time limit) closes its connection, so a server that watches for
disconnects stops generating; llama-cpp-python watches only streamed requests (`stream`).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import re
import ssl
import time
import urllib.parse
import urllib.request
import weakref
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from arena.errors import ContextOverflow, InfraError

RETRY_STATUSES = {408, 409, 425, 429}  # plus every 5xx
BODY_SNIPPET = 300
# What servers say when the prompt does not fit: OpenAI and llama-cpp-python ("This model's maximum
# context length is N tokens", code context_length_exceeded), llama.cpp ("exceeds the available
# context size (N tokens)", type exceed_context_size_error), vLLM ("maximum context length",
# "longer than the maximum model length").
OVERFLOW = re.compile(
    r"context_length_exceeded|exceed_context_size|maximum context length|exceeds the available context size"
    r"|maximum model length|context window of \d+|prompt is too long",
    re.IGNORECASE,
)
CONTEXT_SIZE = re.compile(
    r"(?:maximum context length is|available context size \(|context window of|maximum model length of)\s*(\d+)",
    re.IGNORECASE,
)


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass
class _LoopResources:
    session: aiohttp.ClientSession
    slot: asyncio.Semaphore
    closer: AsyncIterator[None]  # an async generator the loop finalises at shutdown: it closes the session


# Each loop's closers, held until the loop shuts them down: one collected with its endpoint would be
# finalised in a task of its own, and closing an aiohttp session takes a few turns of the loop that
# a loop about to close never gives it ("Task was destroyed but it is pending").
_OPEN: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, set[AsyncIterator[None]]] = weakref.WeakKeyDictionary()


async def _close_at_shutdown(session: aiohttp.ClientSession) -> AsyncIterator[None]:
    # asyncio.run() (and every asyncio.Runner) calls aclose() on the async generators still open
    # when the loop shuts down: this one then closes the loop's session and its connections.
    try:
        yield
    finally:
        await session.close()


@dataclass
class _Reply:
    """A whole non-streamed response: what error messages and retry decisions read."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class ChatEndpoint:
    """POSTs to `{base_url}/chat/completions`. At most `max_concurrency` requests are in flight
    per event loop; the session and that bound are shared by every episode of the factory."""

    def __init__(
        self,
        base_url: str,
        public_url: str,
        *,
        api_key_env: str,
        timeout: float,
        max_retries: int,
        backoff: float,
        max_backoff: float,
        max_concurrency: int,
        stream: bool = False,
    ) -> None:
        self.url = f"{base_url}/chat/completions"
        self._proxy = _env_proxy(self.url)
        self.public = f"{public_url}/chat/completions"  # no credentials: safe in messages
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_concurrency = max_concurrency
        self.stream = stream
        self.rng = random.Random()
        self.ssl = _ssl_context()  # shared by every session: SSL contexts do not belong to a loop
        self._timeout = aiohttp.ClientTimeout(total=None, connect=timeout, sock_connect=timeout, sock_read=timeout)
        # asyncio objects cannot cross loops (tests run several), so each loop gets its own.
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopResources] = (
            weakref.WeakKeyDictionary()
        )

    async def _resources(self) -> _LoopResources:
        loop = asyncio.get_running_loop()
        res = self._loops.get(loop)
        if res is None or res.session.closed:
            n = self.max_concurrency
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=n, limit_per_host=0, ssl=self.ssl),
                timeout=self._timeout,
            )
            closer = _close_at_shutdown(session)
            await closer.__anext__()  # registers it with the loop's shutdown
            _OPEN.setdefault(loop, set()).add(closer)
            slot = res.slot if res else asyncio.Semaphore(n)
            res = self._loops[loop] = _LoopResources(session, slot, closer)
        return res

    def slot(self) -> asyncio.Semaphore:
        """The bound on requests in flight in the running loop (tests read it)."""
        loop = asyncio.get_running_loop()
        res = self._loops.get(loop)
        return res.slot if res else asyncio.Semaphore(self.max_concurrency)

    async def aclose(self) -> None:
        """Close the running loop's session (it also closes by itself when the loop shuts down)."""
        res = self._loops.pop(asyncio.get_running_loop(), None)
        if res is not None:
            _OPEN.get(asyncio.get_running_loop(), set()).discard(res.closer)
            await res.closer.aclose()

    def _key(self) -> str | None:
        return os.environ.get(self.api_key_env) or None

    def _scrub(self, text: str) -> str:
        text = text.replace(self.url, self.public)  # a base_url may carry user:password
        key = self._key()
        return text.replace(key, "***") if key else text

    async def complete(self, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """The parsed reply and the number of retries it took. Raises `InfraError` or `ContextOverflow`."""
        res = await self._resources()
        if self.stream:
            body = {**body, "stream": True, "stream_options": {"include_usage": True}}
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            try:
                async with res.slot:
                    return await self._once(res.session, body), attempt
            except _Retryable as e:
                if attempt + 1 >= attempts:
                    raise InfraError(
                        f"{self.public} failed {attempts} time(s); last: {self._scrub(e.reason)}"
                    ) from None
                await asyncio.sleep(self._delay(attempt, e.retry_after))
        raise AssertionError("unreachable")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_backoff)
        delay = min(self.backoff * 2**attempt, self.max_backoff)
        return delay * self.rng.uniform(0.5, 1.0)  # jitter, so episodes that failed together retry apart

    async def _once(self, session: aiohttp.ClientSession, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        key = self._key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        try:
            # The response in a context manager: when the caller is cancelled mid-reply the
            # connection is closed (never put back in the pool half read).
            async with session.post(self.url, data=_dumps(body), headers=headers, allow_redirects=False,
                                    proxy=self._proxy) as response:
                if self.stream and response.status == 200:
                    return await self._read_stream(response)
                reply = _Reply(response.status, response.headers, await response.read())
        except TimeoutError:
            raise _Retryable(f"no reply within {self.timeout:g}s (timeout)") from None
        except aiohttp.ClientError as e:
            raise _Retryable(f"connection failed: {type(e).__name__}: {e}") from None
        status = reply.status_code
        if status >= 400 and OVERFLOW.search(reply.text):
            raise ContextOverflow(self._overflow(reply))
        if status in RETRY_STATUSES or status >= 500:
            raise _Retryable(f"HTTP {status}: {self._snippet(reply)}", _retry_after(reply.headers))
        if status >= 400:
            raise InfraError(self._client_error(reply, body))
        try:
            parsed = reply.json()
            message = parsed["choices"][0]["message"]
            if not isinstance(message, dict):
                raise TypeError("message is not an object")
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, IndexError, TypeError) as e:
            reason = f"HTTP {status} with a malformed body ({type(e).__name__}): {self._snippet(reply)}"
            raise _Retryable(reason) from None
        return parsed  # type: ignore[no-any-return]

    async def _read_stream(self, response: aiohttp.ClientResponse) -> dict[str, Any]:
        """Assemble server-sent chunks into the reply a non-streamed request would get."""
        content: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        finish: str | None = None
        usage: Any = None
        async for line in _lines(response):
            data = line.removeprefix("data:").strip() if line.startswith("data:") else ""
            if not data or data == "[DONE]":
                continue
            try:
                chunk = json.loads(data)
            except json.JSONDecodeError:
                raise _Retryable(f"a streamed chunk is not JSON: {self._scrub(data[:BODY_SNIPPET])}") from None
            if not isinstance(chunk, dict):
                continue
            if "error" in chunk:
                text = json.dumps(chunk["error"])
                if OVERFLOW.search(text):
                    raise ContextOverflow(f"{self.public} refused the prompt: {self._scrub(text[:BODY_SNIPPET])}")
                raise _Retryable(f"the stream ended with an error: {self._scrub(text[:BODY_SNIPPET])}")
            usage = chunk.get("usage") or usage
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                finish = choice.get("finish_reason") or finish
                if isinstance(delta.get("content"), str):
                    content.append(delta["content"])
                for tc in delta.get("tool_calls") or []:
                    slot = calls.setdefault(int(tc.get("index", len(calls))), {
                        "id": None, "type": "function", "function": {"name": "", "arguments": ""}})
                    slot["id"] = tc.get("id") or slot["id"]
                    fn = tc.get("function") or {}
                    slot["function"]["name"] += fn.get("name") or ""
                    slot["function"]["arguments"] += fn.get("arguments") or ""
        message: dict[str, Any] = {"role": "assistant", "content": "".join(content)}
        if calls:
            message["tool_calls"] = [calls[i] for i in sorted(calls)]
        reply: dict[str, Any] = {"choices": [{"index": 0, "message": message, "finish_reason": finish}]}
        if isinstance(usage, dict):
            reply["usage"] = usage
        return reply

    def _snippet(self, response: _Reply) -> str:
        try:
            error = response.json().get("error")
            text = error.get("message") if isinstance(error, dict) else str(error or response.text)
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            text = response.text
        text = " ".join((text or "(empty body)").split())
        return self._scrub(text[:BODY_SNIPPET] + ("..." if len(text) > BODY_SNIPPET else ""))

    def _overflow(self, response: _Reply) -> str:
        size = CONTEXT_SIZE.search(response.text)
        try:
            n_ctx = response.json().get("error", {}).get("n_ctx")
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            n_ctx = None
        window = n_ctx if isinstance(n_ctx, int) else int(size.group(1)) if size else None
        said = f"the server's context is {window} tokens; " if window else ""
        status = response.status_code
        return f"{self.public} refused the prompt as too long ({said}HTTP {status}: {self._snippet(response)})"

    def _client_error(self, response: _Reply, body: dict[str, Any]) -> str:
        status = response.status_code
        detail = self._snippet(response)
        where = f"{self.public} answered HTTP {status}"
        if status == 401:
            if self._key() is None:
                return f"{where} (unauthorized): set {self.api_key_env} to your API key ({detail})"
            return f"{where} (unauthorized): the key in {self.api_key_env} was rejected; set a valid key ({detail})"
        if status == 403:
            model = body.get("model")
            return f"{where} (forbidden): the key in {self.api_key_env} may not use model {model!r} ({detail})"
        if status == 404:
            return f"{where} (not found): check base_url (it usually ends in /v1) and the model name ({detail})"
        if status == 413:
            return f"{where} (request too large): lower the context_budget option ({detail})"
        return f"{where}: {detail} (check the agent's options: model, sampling settings, extra_body)"


def _ssl_context() -> ssl.SSLContext:
    """Verified TLS against certifi's roots, as httpx and the OpenAI SDK do; SSL_CERT_FILE or
    SSL_CERT_DIR point at a private CA instead."""
    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    if cafile or capath:
        return ssl.create_default_context(cafile=cafile, capath=capath)
    import certifi  # installed with httpx

    return ssl.create_default_context(cafile=certifi.where())


def _env_proxy(url: str) -> str | None:
    """The proxy the environment names for `url` (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY), read
    once: aiohttp's trust_env reads the environment and ~/.netrc again on every request."""
    parts = urllib.parse.urlsplit(url)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(parts.scheme) or proxies.get("all")


def _dumps(body: Any) -> bytes:
    """Compact UTF-8 JSON. The whole transcript goes out with every call, so this is done in C: the
    standard encoder took a tenth of a model-bound episode's CPU. NaN (which JSON lacks) goes as null."""
    try:
        return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:  # an integer over 64 bits, say: the standard encoder takes it
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


async def _lines(response: aiohttp.ClientResponse) -> AsyncIterator[str]:
    """The body's lines as they arrive, however long (aiohttp's own line reader caps their length)."""
    pending = b""
    async for chunk in response.content.iter_any():
        pending += chunk
        *whole, pending = pending.split(b"\n")
        for line in whole:
            yield line.rstrip(b"\r").decode("utf-8", errors="replace")
    if pending:
        yield pending.rstrip(b"\r").decode("utf-8", errors="replace")


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Retry-After as seconds or an HTTP date (or OpenAI's retry-after-ms)."""
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
