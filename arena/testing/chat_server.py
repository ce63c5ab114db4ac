"""Public test doubles for plugging in agents: a scripted OpenAI-compatible chat-completions server.

`ScriptedChatServer` is a real HTTP server on 127.0.0.1 (an ephemeral port, a background thread)
that answers `POST /v1/chat/completions` (non-streaming) from a scripted policy instead of a model,
so the real `openai:` agent, the real episode loop and the real store can be tested end to end:

    with ScriptedChatServer(oracle_policy("files", seeds=[0, 1])) as server:
        factory = agent_factory("openai:scripted", {"base_url": server.base_url})
        ...

A policy is a callable `(request_json) -> assistant message dict`. `ReplayPolicy` replays a list of
tool calls (for example the oracle's solution), one per reply, rendered as native `tool_calls` when
the request offers `tools` and as a JSON action in the text otherwise. The server can be told to
misbehave, by request number or through a queue of `Fault`s: 429 with Retry-After, 5xx, 401 (with
the key echoed in the error, as some endpoints do), a reply slower than the client's timeout,
invalid JSON in tool-call arguments, a reply without a tool call, a body that is not JSON, a
context overflow (400, worded as OpenAI, llama.cpp or vLLM word it: `OverflowStyle`), and a reply
cut off at the output limit (`finish_reason: "length"`, its tool-call arguments cut mid-JSON).
A request with `"stream": true` is answered with server-sent chunks (usage last, when
`stream_options.include_usage` asks for it).

Options of the server itself, for behaviours real servers have:
- `delay`: every reply takes this long ("generation"; a benchmark's model that answers slowly);
- `context_window`: prompts estimated over it (plus `max_tokens` for the OpenAI and vLLM styles)
  get the overflow 400 in `overflow_style`, as a server with that context size would;
- `drop_tool_messages`: like chat templates without a place for them (llama-cpp-python's), `tool`
  messages and tool descriptions never reach the "model": they are left out of the prompt tokens
  and of what the policy sees;
- `tools_need_tool_choice`: like llama-cpp-python's `chatml-function-calling`, `tools` are ignored
  unless `tool_choice` is sent: the reply is then text, and the tools are not counted.
A client that closes its connection while a reply is being "generated" (a delay) is noticed: the
request is marked `abandoned` and its generation stops, as a server that watches for disconnects.

Prompt and completion tokens are estimated at four characters to a token. Every request is
recorded (`server.requests`) so tests can check what the client sent; the Authorization header
is never recorded, only whether it was present.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from arena.types import ToolCall, new_call_id

# Fault replies carry this mark so `ReplayPolicy` does not count them as plan steps: after a fault
# the replay goes on with the call that the fault replaced, the way a model would try again.
FAULT_MARK = "[scripted fault]"

FaultKind = Literal[
    "rate_limit", "server_error", "unauthorized", "slow", "bad_arguments", "no_tool_call", "malformed",
    "context_overflow", "length",
]
OverflowStyle = Literal["openai", "llamacpp", "vllm"]

CHAT_PATH = "/v1/chat/completions"

Message = dict[str, Any]
Policy = Callable[[dict[str, Any]], Message]


@dataclass
class Fault:
    """One misbehaviour. `times` consecutive requests get it (each counts as one request)."""

    kind: FaultKind
    times: int = 1
    retry_after: str | None = "1"  # rate_limit: the Retry-After header (seconds or an HTTP date)
    status: int = 500  # server_error: the status code sent
    delay: float = 5.0  # slow: seconds before the (otherwise normal) reply
    style: OverflowStyle = "openai"  # context_overflow: whose wording


@dataclass
class RecordedRequest:
    number: int  # 1-based, in arrival order, retries included
    path: str
    body: dict[str, Any] | None
    authorized: bool  # an Authorization header was sent (its value is never kept)
    fault: FaultKind | None = None
    status: int = 200
    at: float = 0.0  # time.monotonic() on arrival
    prompt_tokens: int = 0  # as the server counted them (what reached the "model")
    client_port: int = 0  # the client's side of the TCP connection (shows connection reuse)
    abandoned: bool = False  # the client closed the connection before the reply was sent
    finished: float = 0.0  # time.monotonic() when the reply was sent or generation stopped


# ---------------------------------------------------------------- policies and rendering


def render_tool_calls(calls: list[ToolCall], content: str | None = None) -> Message:
    """An assistant message with native tool calls."""
    return {
        "role": "assistant",
        "content": content,
        "tool_calls": [
            {
                "id": call.id,
                "type": "function",
                "function": {
                    "name": call.name,
                    "arguments": call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments),
                },
            }
            for call in calls
        ],
    }


def render_text_action(calls: list[ToolCall]) -> Message:
    """An assistant message holding the calls as a JSON action in a fenced block (text mode)."""
    actions = [{"tool": c.name, "arguments": c.arguments} for c in calls]
    payload = json.dumps(actions[0] if len(actions) == 1 else actions, indent=2)
    return {"role": "assistant", "content": f"Next step.\n```json\n{payload}\n```"}


def wants_tools(request: Mapping[str, Any]) -> bool:
    return bool(request.get("tools"))


def plan_position(request: Mapping[str, Any]) -> int:
    """How many plan steps the transcript already holds: assistant turns that are not faults."""
    count = 0
    for message in request.get("messages", []):
        if message.get("role") == "assistant" and FAULT_MARK not in str(message.get("content") or ""):
            count += 1
    return count


@dataclass
class ReplayPolicy:
    """Replays `calls` one per reply, then submits. Stateless: the position comes from the
    transcript in the request, so retried requests get the same reply and concurrent episodes
    against one server do not interfere."""

    calls: list[ToolCall]
    submit_answer: str | None = None

    def __call__(self, request: dict[str, Any]) -> Message:
        position = plan_position(request)
        if position < len(self.calls):
            call = self.calls[position].model_copy(update={"id": new_call_id()})
        else:
            args = {} if self.submit_answer is None else {"answer": self.submit_answer}
            call = ToolCall(name="submit", arguments=args)
        return render_tool_calls([call]) if wants_tools(request) else render_text_action([call])


def oracle_policy(family: str, seeds: int | Iterable[int], split: Literal["dev", "test"] = "dev") -> Policy:
    """Replays the family's reference solution of each task `(family, seed, split)`. With several
    seeds, the task of a request is recognised by its instruction appearing in the transcript."""
    from arena.registry import load_family

    fam = load_family(family)
    by_instruction: dict[str, ReplayPolicy] = {}
    policies = []
    for seed in [seeds] if isinstance(seeds, int) else list(seeds):
        task = fam.generate(seed, split)
        calls = list(fam.solution(task))
        answer = None
        if calls and calls[-1].name == "submit":
            last = calls.pop()
            answer = last.arguments.get("answer") if isinstance(last.arguments, dict) else None
        policy = ReplayPolicy(calls, submit_answer=answer)
        policies.append(policy)
        by_instruction.update({text: policy for text in task.instructions})
    if len(policies) == 1:
        return policies[0]

    def choose(request: dict[str, Any]) -> Message:
        text = "\n".join(str(m.get("content") or "") for m in request.get("messages", []) if m.get("role") != "tool")
        # Longest first, so that an instruction that contains another one wins.
        for instruction in sorted(by_instruction, key=len, reverse=True):
            if instruction in text:
                return by_instruction[instruction](request)
        raise LookupError("the transcript holds none of the instructions of the seeds given to oracle_policy")

    return choose


def corrupt(message: Message, kind: FaultKind, tools_mode: bool) -> Message:
    """The reply a fault puts in place of the policy's reply."""
    calls = message.get("tool_calls") or []
    name = calls[0]["function"]["name"] if calls else "read_file"
    if kind == "no_tool_call":
        return {"role": "assistant", "content": f"{FAULT_MARK} I looked around; I believe the task is done."}
    if kind == "length":  # cut off at the output limit: half the reply, JSON left open
        if calls:
            fn = calls[0]["function"]
            cut = {"id": calls[0]["id"], "type": "function",
                   "function": {"name": fn["name"], "arguments": fn["arguments"][: max(1, len(fn["arguments"]) // 2)]}}
            return {"role": "assistant", "content": FAULT_MARK, "tool_calls": [cut]}
        content = str(message.get("content") or "")
        return {"role": "assistant", "content": f"{FAULT_MARK} {content[: len(content) // 2]}"}
    if tools_mode:  # bad_arguments: a real tool with arguments that are not JSON
        call = {"id": "call_fault", "type": "function", "function": {"name": name, "arguments": '{"path": "unter'}}
        return {"role": "assistant", "content": FAULT_MARK, "tool_calls": [call]}
    return {"role": "assistant", "content": f'{FAULT_MARK} {{"tool": "{name}", "arguments": {{"path": '}


def validate_transcript(request: Mapping[str, Any]) -> str | None:
    """The checks a real endpoint makes on a transcript; returns what is wrong, or None."""
    if not isinstance(request.get("model"), str) or not request["model"]:
        return "you must provide a model parameter"
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages must be a non-empty list"
    open_ids: set[str] = set()
    for i, m in enumerate(messages):
        role = m.get("role") if isinstance(m, dict) else None
        if role not in ("system", "user", "assistant", "tool"):
            return f"messages[{i}]: invalid role {role!r}"
        if role == "tool":
            if m.get("tool_call_id") not in open_ids:
                return f"messages[{i}]: tool message does not answer a tool call of the preceding assistant message"
            open_ids.discard(m["tool_call_id"])
            continue
        if open_ids:
            return f"messages[{i}]: tool calls {sorted(open_ids)} were not answered by tool messages"
        if role == "assistant":
            open_ids = {c.get("id") for c in m.get("tool_calls") or []}
    if open_ids:
        return f"tool calls {sorted(open_ids)} were not answered by tool messages"
    return None


def estimate_tokens(value: Any) -> int:
    return max(1, len(json.dumps(value, default=str)) // 4)


def overflow_error(style: OverflowStyle, window: int, prompt: int, completion: int | None) -> tuple[int, bytes]:
    """The 400 a server with a `window`-token context answers for a prompt that does not fit."""
    if style == "llamacpp":
        error: dict[str, Any] = {
            "code": 400, "type": "exceed_context_size_error", "n_prompt_tokens": prompt, "n_ctx": window,
            "message": f"request ({prompt} tokens) exceeds the available context size ({window} tokens), "
                       "try increasing it",
        }
        return 400, json.dumps({"error": error}).encode()
    if style == "vllm":
        message = (f"This model's maximum context length is {window} tokens. However, you requested "
                   f"{prompt + (completion or 0)} tokens ({prompt} in the messages, {completion or 0} in the "
                   "completion). Please reduce the length of the messages or completion.")
        return 400, json.dumps({"object": "error", "message": message, "type": "BadRequestError", "param": None,
                                "code": 400}).encode()
    message = (f"This model's maximum context length is {window} tokens. However, your messages resulted in "
               f"{prompt} tokens. Please reduce the length of the messages.")
    error = {"message": message, "type": "invalid_request_error", "param": "messages",
             "code": "context_length_exceeded"}
    return 400, json.dumps({"error": error}).encode()


# ---------------------------------------------------------------- the server


class ScriptedChatServer:
    """A chat-completions endpoint on 127.0.0.1 driven by a policy. Use as a context manager."""

    def __init__(
        self,
        policy: Policy | None = None,
        *,
        faults: Mapping[int, Fault] | Iterable[Fault] | None = None,
        strict: bool = True,
        include_usage: bool = True,
        delay: float = 0.0,
        context_window: int | None = None,
        overflow_style: OverflowStyle = "openai",
        drop_tool_messages: bool = False,
        tools_need_tool_choice: bool = False,
    ) -> None:
        self.policy: Policy = policy or ReplayPolicy([])
        self.strict = strict  # reject transcripts a real endpoint would reject (400)
        self.include_usage = include_usage
        self.delay = delay
        self.context_window = context_window
        self.overflow_style: OverflowStyle = overflow_style
        self.drop_tool_messages = drop_tool_messages
        self.tools_need_tool_choice = tools_need_tool_choice
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests handled at once (to check client-side concurrency bounds)
        self._lock = threading.Lock()
        self._by_number: dict[int, Fault] = {}
        self._queue: deque[list[Any]] = deque()  # [fault, requests it still hits]
        if isinstance(faults, Mapping):
            for number, fault in faults.items():
                for n in range(number, number + fault.times):
                    self._by_number[n] = fault
        elif faults is not None:
            self.inject(*faults)
        self._closing = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self) -> ScriptedChatServer:
        handler = type("Handler", (_Handler,), {"scripted": self})
        self._httpd = httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True

        def serve() -> None:  # a short poll interval: close() waits for the loop to notice
            httpd.serve_forever(poll_interval=0.02)

        self._thread = threading.Thread(target=serve, name="scripted-chat", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()  # releases handlers sleeping in a slow fault (within 0.25 s)
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> ScriptedChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ faults

    def inject(self, *faults: Fault) -> None:
        """Queue faults for the next requests, in order."""
        with self._lock:
            for fault in faults:
                self._queue.append([fault, fault.times])

    def _next_fault(self, number: int) -> Fault | None:
        if number in self._by_number:
            return self._by_number[number]
        if not self._queue:
            return None
        entry = self._queue[0]
        entry[1] -= 1
        if entry[1] <= 0:
            self._queue.popleft()
        return entry[0]

    # ------------------------------------------------------------ handling

    def handle(self, path: str, raw: bytes, authorization: str | None) -> tuple[int, dict[str, str], bytes, float]:
        """One request: returns status, headers, body and a delay to wait before answering."""
        return self._handle(path, raw, authorization)[1:]

    def _handle(
        self, path: str, raw: bytes, authorization: str | None
    ) -> tuple[RecordedRequest, int, dict[str, str], bytes, float]:
        try:
            body = json.loads(raw or b"null")
        except json.JSONDecodeError:
            body = None
        with self._lock:
            number = len(self.requests) + 1
            record = RecordedRequest(number, path, body if isinstance(body, dict) else None, bool(authorization))
            record.at = time.monotonic()
            self.requests.append(record)
            fault = self._next_fault(number) if path.rstrip("/") == CHAT_PATH else None
        record.fault = fault.kind if fault else None
        status, headers, payload, delay = self._respond(path, record, fault, authorization)
        record.status = status
        return record, status, headers, payload, delay

    def seen(self, body: dict[str, Any]) -> dict[str, Any]:
        """What of the request reaches the "model", after the template's losses."""
        seen = dict(body)
        if self.tools_need_tool_choice and body.get("tool_choice") is None:
            seen.pop("tools", None)
        if self.drop_tool_messages:
            seen["messages"] = [m for m in body.get("messages", []) if m.get("role") != "tool"]
            if seen.get("tools"):  # names and parameters only, no descriptions
                seen["tools"] = [
                    {"name": t.get("function", {}).get("name"), "parameters": t.get("function", {}).get("parameters")}
                    for t in seen["tools"]
                ]
        return seen

    def _respond(
        self, path: str, record: RecordedRequest, fault: Fault | None, authorization: str | None
    ) -> tuple[int, dict[str, str], bytes, float]:
        body = record.body
        if path.rstrip("/") != CHAT_PATH:
            return _error(404, f"no route {path}", "not_found")
        if body is None:
            return _error(400, "the body is not a JSON object", "invalid_request_error")
        if self.strict and (problem := validate_transcript(body)):
            return _error(400, problem, "invalid_request_error")
        if fault is not None and fault.kind == "rate_limit":
            status, headers, payload, _ = _error(429, "Rate limit reached; try again later.", "rate_limit_exceeded")
            if fault.retry_after is not None:
                headers["Retry-After"] = fault.retry_after
            return status, headers, payload, 0.0
        if fault is not None and fault.kind == "unauthorized":
            key = (authorization or "").removeprefix("Bearer ")
            return _error(401, f"Incorrect API key provided: {key}.", "invalid_request_error")
        if fault is not None and fault.kind == "server_error":
            return _error(fault.status, "The server had an error while processing your request.", "server_error")
        if fault is not None and fault.kind == "malformed":
            return 200, {"Content-Type": "application/json"}, b'{"id": "chatcmpl-broken", "choices": [', 0.0
        seen = self.seen(body)
        prompt = record.prompt_tokens = estimate_tokens([seen.get("messages"), seen.get("tools")])
        max_tokens = body.get("max_tokens") if isinstance(body.get("max_tokens"), int) else None
        if fault is not None and fault.kind == "context_overflow":
            return _overflow(fault.style, max(1, prompt // 2), prompt, max_tokens)
        if self.context_window is not None:
            needed = prompt + (0 if self.overflow_style == "llamacpp" else max_tokens or 0)
            if needed > self.context_window:
                return _overflow(self.overflow_style, self.context_window, prompt, max_tokens)
        try:
            message = self.policy(seen)
        except Exception as e:  # a broken script shows up in the test as a server error, with the reason
            return _error(500, f"scripted policy failed: {type(e).__name__}: {e}", "policy_error")
        if fault is not None and fault.kind in ("bad_arguments", "no_tool_call", "length"):
            message = corrupt(message, fault.kind, wants_tools(seen))
        finish = "length" if fault is not None and fault.kind == "length" else (
            "tool_calls" if message.get("tool_calls") else "stop")
        reply: dict[str, Any] = {
            "id": f"chatcmpl-scripted-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "scripted"),
            "choices": [
                {"index": 0, "message": message, "finish_reason": finish}
            ],
        }
        if self.include_usage:
            completion = estimate_tokens(message)
            reply["usage"] = {
                "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion
            }
        delay = fault.delay if fault is not None and fault.kind == "slow" else self.delay
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return 200, {"Content-Type": "text/event-stream"}, stream_events(reply, include_usage), delay
        return 200, {"Content-Type": "application/json"}, json.dumps(reply).encode(), delay


def stream_events(reply: dict[str, Any], include_usage: bool) -> bytes:
    """A reply as server-sent chunks: the content in two deltas, each tool call's arguments in two,
    the finish reason, then the usage (only when asked for, as OpenAI does), then [DONE]."""
    choice = reply["choices"][0]
    message = choice["message"]
    base = {k: reply[k] for k in ("id", "object", "created", "model")} | {"object": "chat.completion.chunk"}
    deltas: list[dict[str, Any]] = [{"role": "assistant"}]
    content = str(message.get("content") or "")
    deltas += [{"content": content[: len(content) // 2]}, {"content": content[len(content) // 2:]}]
    for i, call in enumerate(message.get("tool_calls") or []):
        args = call["function"]["arguments"]
        deltas.append({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                                       "function": {"name": call["function"]["name"], "arguments": args[:5]}}]})
        deltas.append({"tool_calls": [{"index": i, "function": {"arguments": args[5:]}}]})
    chunks = [base | {"choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
    chunks.append(base | {"choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]})
    if include_usage and "usage" in reply:
        chunks.append(base | {"choices": [], "usage": reply["usage"]})
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


def _overflow(
    style: OverflowStyle, window: int, prompt: int, completion: int | None
) -> tuple[int, dict[str, str], bytes, float]:
    status, payload = overflow_error(style, window, prompt, completion)
    return status, {"Content-Type": "application/json"}, payload, 0.0


def _error(status: int, message: str, kind: str) -> tuple[int, dict[str, str], bytes, float]:
    payload = json.dumps({"error": {"message": message, "type": kind, "code": None}}).encode()
    return status, {"Content-Type": "application/json"}, payload, 0.0


class _Handler(BaseHTTPRequestHandler):
    scripted: ScriptedChatServer
    protocol_version = "HTTP/1.1"  # keep-alive, like real endpoints, so client connection pools are exercised

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        scripted = self.scripted
        with scripted._lock:
            scripted.in_flight += 1
            scripted.max_in_flight = max(scripted.max_in_flight, scripted.in_flight)
        try:
            record, status, headers, payload, delay = scripted._handle(
                self.path, raw, self.headers.get("Authorization"))
            record.client_port = self.client_address[1]
            if delay and not self._generate(delay, record):
                return
        finally:
            with scripted._lock:
                scripted.in_flight -= 1
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            record.finished = time.monotonic()
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout): nothing to do
            pass

    def _generate(self, seconds: float, record: RecordedRequest) -> bool:
        """Wait `seconds` as a model generating would; False when the client left or the server closes."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self.scripted._closing.is_set():
                return False
            # Sleeps until the client's end is readable (it closed) or 0.25 s pass (to notice close()).
            if _peer_closed(self.connection, min(left, 0.25)):
                record.abandoned = True
                record.finished = time.monotonic()
                return False
        return True

    def do_GET(self) -> None:
        self.do_POST()

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        return


def _peer_closed(conn: socket.socket, wait: float) -> bool:
    """The client closed its end within `wait` seconds: readable, and a peek reads nothing (or the
    connection was reset). A client that sends more instead is not closed (and is left to wait)."""
    try:
        readable, _, _ = select.select([conn], [], [], wait)
        return bool(readable) and conn.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


@contextmanager
def scripted_chat_server(policy: Policy | None = None, **options: Any) -> Iterator[str]:
    """`with scripted_chat_server(policy) as base_url:` for when the recorded requests are not needed."""
    with ScriptedChatServer(policy, **options) as server:
        yield server.base_url


__all__ = [
    "FAULT_MARK",
    "Fault",
    "FaultKind",
    "OverflowStyle",
    "Policy",
    "RecordedRequest",
    "ReplayPolicy",
    "ScriptedChatServer",
    "oracle_policy",
    "overflow_error",
    "plan_position",
    "render_text_action",
    "render_tool_calls",
    "scripted_chat_server",
    "validate_transcript",
]
