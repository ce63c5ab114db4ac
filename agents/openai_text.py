"""Reading what a model wrote: tool-call arguments and text-mode actions, leniently.

Models write raw newlines and tabs inside JSON strings (code, file contents); a lenient reader
(`strict=False`) accepts them, so such a call is run rather than refused. In text mode the reply is
searched for the JSON value that is an action (an object naming a tool, or a list of them), not
merely the first bracket that decodes: prose such as `kwargs[0]` before the action is skipped.
"""

from __future__ import annotations

import json
import re
from typing import Any

from arena.types import ToolCall

FENCE = re.compile(r"```(?:json|JSON)?\s*\n(.*?)```", re.DOTALL)
BRACKET = re.compile(r"[\[{]")
NAME_KEYS = ("tool", "name")  # "tool" first: {"name": ...} is also how data looks
ARGUMENT_KEYS = ("arguments", "args", "parameters", "input")
_DECODER = json.JSONDecoder(strict=False)
ASK = 'answer with {"tool": "...", "arguments": {...}}'


def loads_lenient(raw: str) -> Any:
    """json.loads that accepts control characters (raw newlines, tabs) inside strings."""
    return _DECODER.decode(raw)


def loads_object(raw: str) -> dict[str, Any] | str:
    """Tool-call arguments as a dict, or the raw string when they are not a JSON object (the
    episode then answers with a tool error saying why). A JSON string holding an object (arguments
    encoded twice, as some models do) is decoded once more."""
    try:
        value = loads_lenient(raw.strip() or "{}")
        if isinstance(value, str):
            value = loads_lenient(value)
    except json.JSONDecodeError:
        return raw
    return value if isinstance(value, dict) else raw


def parse_text_action(text: str) -> list[ToolCall]:
    """Read a text-mode reply: one `{"tool": NAME, "arguments": {...}}` object (or a list of them),
    bare or in a ```json fence, possibly with prose around it. Raises ValueError saying what is wrong."""
    if not text.strip():
        raise ValueError(f"the reply is empty; {ASK}")
    values = [v for block in [*(m.group(1) for m in FENCE.finditer(text)), text] for v in json_values(block)]
    for key in NAME_KEYS:
        for value in values:
            if (calls := as_calls(value, key)) is not None:
                return calls
    if not values:
        raise ValueError(f"no JSON object found in the reply; {ASK}")
    raise ValueError(why_not_an_action(values[0]))


def json_values(text: str) -> list[Any]:
    """The whole text as JSON, else every top-level object or list that decodes, in order (a value
    nested in one already found is not listed again)."""
    stripped = text.strip()
    try:
        return [loads_lenient(stripped)]
    except json.JSONDecodeError:
        pass
    found = []
    position = 0
    while (match := BRACKET.search(stripped, position)) is not None:
        try:
            value, end = _DECODER.raw_decode(stripped, match.start())
        except json.JSONDecodeError:
            position = match.start() + 1
            continue
        if isinstance(value, dict | list) and value:
            found.append(value)
        position = end
    return found


def as_calls(value: Any, key: str) -> list[ToolCall] | None:
    """The tool calls `value` names with `key`, or None when it is not an action."""
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, dict) and isinstance(i.get(key), str) and i[key] for i in items):
        return None
    calls = []
    for item in items:
        arguments: Any = next((item[k] for k in ARGUMENT_KEYS if k in item), {})
        if isinstance(arguments, str):
            arguments = loads_object(arguments)
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict | str):
            return None
        calls.append(ToolCall(name=item[key], arguments=arguments))
    return calls


def why_not_an_action(value: Any) -> str:
    items = value if isinstance(value, list) else [value]
    if not items:
        return "the reply holds an empty list of actions"
    for item in items:
        if not isinstance(item, dict):
            return f"expected a JSON object naming a tool, got {type(item).__name__}"
        arguments = next((item[k] for k in ARGUMENT_KEYS if k in item), {})
        if not isinstance(item.get("tool", item.get("name")), str):
            return 'the JSON object has no "tool" key naming the tool to call'
        if arguments is not None and not isinstance(arguments, dict | str):
            return f'"arguments" must be a JSON object, got {type(arguments).__name__}'
    return f"the reply holds no action; {ASK}"
