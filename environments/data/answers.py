"""Expected answers and lenient reading of the agent's answer.

Lenient on format (spaces, quotes, thousands separators, a currency sign or unit, "The answer
is ..."), strict on value: numbers must match within the task's stated tolerance, words match
case-insensitively, lists match as sets or in order as the question says.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

from .._kit import normalize_text, single_number

AnswerKind = Literal["integer", "number", "text", "list"]

class Expected(BaseModel):
    """The answer a task expects and how strictly it is compared."""

    kind: AnswerKind
    value: int | float | str | list[str]
    tolerance: float = 0.0  # numbers: largest accepted absolute difference
    ordered: bool = False  # lists: order matters
    accepted: list[str] = Field(default_factory=list)  # text: other accepted spellings

    def show(self) -> str:
        if isinstance(self.value, list):
            return ", ".join(self.value)
        return str(self.value)


def split_list(text: str) -> list[str]:
    body = normalize_text(text).strip("[]()")
    return [item for item in (normalize_text(part) for part in re.split(r"[,;\n]+", body)) if item]


def judge(expected: Expected, answer: str | None) -> tuple[bool, str]:
    """(correct, detail) for the agent's answer."""
    if answer is None or not answer.strip():
        return False, "no answer given"
    want = expected.show()
    if expected.kind in ("integer", "number"):
        got = single_number(answer)
        if got is None:
            return False, f"could not read exactly one number in {answer[:80]!r}; expected {want}"
        target = float(expected.value)  # type: ignore[arg-type]
        if expected.kind == "integer" and not got.is_integer():
            return False, f"expected the whole number {want}, got {got:g}"
        ok = abs(got - target) <= expected.tolerance + 1e-9
        return ok, f"expected {want} (tolerance {expected.tolerance:g}), got {got:g}"
    if expected.kind == "text":
        options = {normalize_text(str(expected.value)), *(normalize_text(a) for a in expected.accepted)}
        got_text = normalize_text(answer)
        return got_text in options, f"expected {want!r}, got {got_text!r}"
    items = split_list(answer)
    target_items = [normalize_text(v) for v in expected.value]  # type: ignore[union-attr]
    ok = items == target_items if expected.ordered else (sorted(set(items)) == sorted(set(target_items))
                                                         and len(items) == len(target_items))
    how = "in this order" if expected.ordered else "in any order"
    return ok, f"expected {want} ({how}), got {', '.join(items) or 'nothing'}"
