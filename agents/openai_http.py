"""The HTTP boundary of `openai:` agents: one chat-completions request with retries.

This is the one place where httpx errors and HTTP statuses become arena errors: 429, 5xx,
timeouts, connection errors and malformed bodies are retried with exponential backoff and
jitter (honouring Retry-After) and end as `InfraError` after the bound; other 4xx statuses
end as `InfraError` at once, with a message that says what to fix. The API key is read from
the environment for each request and scrubbed from every message this module produces.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx

from arena.errors import InfraError

RETRY_STATUSES = {408, 409, 425, 429}  # plus every 5xx
BODY_SNIPPET = 300


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class ChatEndpoint:
    """POSTs to `{base_url}/chat/completions`. `slot` bounds the requests in flight."""

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
        slot: Callable[[], AbstractAsyncContextManager[Any]],
    ) -> None:
        self.url = f"{base_url}/chat/completions"
        self.public = f"{public_url}/chat/completions"  # no credentials: safe in messages
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.slot = slot
        self.rng = random.Random()
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(timeout), follow_redirects=False)

    async def aclose(self) -> None:
        await self.client.aclose()

    def _key(self) -> str | None:
        return os.environ.get(self.api_key_env) or None

    def _scrub(self, text: str) -> str:
        text = text.replace(self.url, self.public)  # a base_url may carry user:password
        key = self._key()
        return text.replace(key, "***") if key else text

    async def complete(self, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """The parsed reply and the number of retries it took. Raises `InfraError`."""
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            try:
                async with self.slot():
                    return await self._once(body), attempt
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

    async def _once(self, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        key = self._key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        try:
            response = await self.client.post(self.url, json=body, headers=headers)
        except httpx.TimeoutException:
            raise _Retryable(f"no reply within {self.timeout:g}s (timeout)") from None
        except httpx.TransportError as e:
            raise _Retryable(f"connection failed: {type(e).__name__}: {e}") from None
        status = response.status_code
        if status in RETRY_STATUSES or status >= 500:
            raise _Retryable(f"HTTP {status}: {self._snippet(response)}", _retry_after(response.headers))
        if status >= 400:
            raise InfraError(self._client_error(response, body))
        try:
            reply = response.json()
            message = reply["choices"][0]["message"]
            if not isinstance(message, dict):
                raise TypeError("message is not an object")
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, IndexError, TypeError) as e:
            reason = f"HTTP {status} with a malformed body ({type(e).__name__}): {self._snippet(response)}"
            raise _Retryable(reason) from None
        return reply

    def _snippet(self, response: httpx.Response) -> str:
        try:
            error = response.json().get("error")
            text = error.get("message") if isinstance(error, dict) else str(error or response.text)
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            text = response.text
        text = " ".join((text or "(empty body)").split())
        return self._scrub(text[:BODY_SNIPPET] + ("..." if len(text) > BODY_SNIPPET else ""))

    def _client_error(self, response: httpx.Response, body: dict[str, Any]) -> str:
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


def _retry_after(headers: httpx.Headers) -> float | None:
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
