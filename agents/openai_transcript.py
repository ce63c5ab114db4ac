"""The chat transcript of one `openai:` episode, kept under a prompt-token budget.

The budget is in tokens as the server counts them: the transcript's size is estimated from its
characters (four to a token) and scaled by what the server reported for the prompts already sent.
When the estimate nears the budget the transcript is cut, cheapest loss first: old tool outputs
are shortened (head and tail kept), then the model's own older replies, then the recent outputs
but the last, then whole old turns are dropped (a reply with its tool messages and results, so
every tool message still answers a tool call of the message before it). The system prompt, the
task and the latest turn are never dropped; when the latest turn alone is over the budget its
outputs are shortened too.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

KEEP_RECENT_OUTPUTS = 3  # the latest tool outputs are shortened last: the model is working on them
KEEP_RECENT_REPLIES = 2
TRIM_AT, TRIM_TO = 0.8, 0.6  # start cutting at 80% of the budget, stop at 60% (so it rarely repeats)
TRIM_KEEP_HEAD, TRIM_KEEP_TAIL = 300, 200
CHARS_PER_TOKEN = 4
MAX_RATIO = 4.0  # server tokens per estimated token, at most (a guard against a nonsense usage)

Kind = Literal["system", "task", "reply", "output", "note"]


@dataclass
class Entry:
    kind: Kind
    message: dict[str, Any]
    turn: int  # the model reply this entry belongs to (0: before the first reply)
    chars: int = field(default=0)

    def measure(self) -> None:
        m = self.message
        size = len(str(m.get("content") or "")) + 12
        for call in m.get("tool_calls") or []:
            fn = call.get("function", {})
            size += len(fn.get("name", "")) + len(str(fn.get("arguments", ""))) + 40
        self.chars = size


class Transcript:
    def __init__(self, system: str, task: str, tools_chars: int, dropped_note: Callable[[int], str]) -> None:
        self.task = task
        self.dropped_note = dropped_note  # what the task message says once turns were dropped
        self.tools_chars = tools_chars  # of the request's `tools`, as JSON
        self.entries: list[Entry] = []
        self.turns = 0
        self.dropped = 0
        self.ratio = 1.0
        self.add("system", {"role": "system", "content": system})
        self.add("task", {"role": "user", "content": task})

    def add(self, kind: Kind, message: dict[str, Any]) -> None:
        if kind == "reply":
            self.turns += 1
        entry = Entry(kind, message, self.turns)
        entry.measure()
        self.entries.append(entry)

    def messages(self) -> list[dict[str, Any]]:
        return [e.message for e in self.entries]

    @property
    def last(self) -> dict[str, Any]:
        return self.entries[-1].message

    def raw_estimate(self) -> int:
        """Tokens at four characters to a token, before calibration."""
        return (sum(e.chars for e in self.entries) + self.tools_chars) // CHARS_PER_TOKEN

    def estimate(self) -> int:
        return int(self.raw_estimate() * self.ratio)

    def calibrate(self, raw_estimate: int, prompt_tokens: int) -> None:
        """Learn from the server's count of a prompt whose raw estimate was `raw_estimate`. Only
        upwards: a server that counts fewer tokens (it dropped something) must not loosen the bound."""
        if raw_estimate > 0 and prompt_tokens > 0:
            self.ratio = min(max(self.ratio, prompt_tokens / raw_estimate), MAX_RATIO)

    # ------------------------------------------------------------ fitting

    def fit(self, budget: int) -> dict[str, int]:
        """Cut the transcript to fit `budget` tokens; returns what was cut ({} when nothing).
        Shortening old output aims low (60%), so it rarely has to run again; what loses more (the
        last outputs but one, whole turns) only goes as far as getting back under 80%."""
        if self.estimate() < TRIM_AT * budget:
            return {}
        low, high = TRIM_TO * budget, TRIM_AT * budget
        done: Counter[str] = Counter()
        outputs = [e for e in self.entries if e.kind == "output"]
        self._shorten(outputs[:-KEEP_RECENT_OUTPUTS], low, done, "outputs")
        replies = [e for e in self.entries if e.kind == "reply"]
        self._shorten(replies[:-KEEP_RECENT_REPLIES], low, done, "replies")
        self._shorten(outputs[-KEEP_RECENT_OUTPUTS:-1], high, done, "outputs")
        while self.estimate() > high and self._drop_oldest_turn():
            done["turns"] += 1
        # Whatever is left over the budget is the latest turn itself: shorten it too.
        latest = [e for e in self.entries if e.kind in ("output", "reply")]
        self._shorten(latest, budget, done, "latest")
        return dict(done)

    def _shorten(self, entries: list[Entry], target: float, done: Counter[str], name: str) -> None:
        for entry in entries:
            if self.estimate() <= target:
                return
            if shorten_message(entry.message):
                entry.measure()
                done[name] += 1

    def _drop_oldest_turn(self) -> bool:
        turns = sorted({e.turn for e in self.entries if e.turn > 0})
        if len(turns) < 2:  # never the latest turn
            return False
        oldest = turns[0]
        self.entries = [e for e in self.entries if e.turn != oldest]
        self.dropped += 1
        task = next(e for e in self.entries if e.kind == "task")
        task.message["content"] = f"{self.task}\n\n{self.dropped_note(self.dropped)}"
        task.measure()
        return True


def shorten(text: str, head: int = TRIM_KEEP_HEAD, tail: int = TRIM_KEEP_TAIL) -> str:
    if len(text) <= head + tail + 200:
        return text
    cut = len(text) - head - tail
    return f"{text[:head]}\n[... {cut} characters removed to fit the context budget ...]\n{text[-tail:]}"


def shorten_message(message: dict[str, Any]) -> bool:
    """Shorten the content and the tool-call arguments of a message; True when it got shorter.
    Arguments that are a JSON object stay one (some servers parse them to render the template)."""
    changed = False
    content = message.get("content")
    if isinstance(content, str) and len(short := shorten(content)) < len(content):
        message["content"] = short
        changed = True
    for call in message.get("tool_calls") or []:
        fn = call.get("function", {})
        raw = fn.get("arguments")
        if not isinstance(raw, str) or len(raw) <= TRIM_KEEP_HEAD + TRIM_KEEP_TAIL + 200:
            continue
        try:
            value = json.loads(raw, strict=False)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, dict):
            short_args = json.dumps({k: shorten(v) if isinstance(v, str) else v for k, v in value.items()})
        else:
            short_args = shorten(raw)
        if len(short_args) < len(raw):
            fn["arguments"] = short_args
            changed = True
    return changed
