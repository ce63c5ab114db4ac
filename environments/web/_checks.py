"""Grading: the submitted answer (lenient on format, strict on value) and the site's recorded submissions."""

from __future__ import annotations

import re
from typing import Any

from arena.types import Check

from ._session import WebState


def answer_values(kind: str, text: str) -> set[str]:
    """The values of the asked-for kind found in an answer: "ext. 4821" -> {"4821"}, "n2 214" -> {"N2-214"}."""
    if kind == "extension":
        return set(re.findall(r"(?<!\d)\d{4}(?!\d)", text))
    if kind == "office":
        found = re.findall(r"(?<![A-Z0-9])([A-Z])\s*(\d)\s*[-\u2013]?\s*(\d{3})(?!\d)", text.upper())
        return {f"{letter}{floor}-{room}" for letter, floor, room in found}
    return {e.lower().rstrip(".") for e in re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", text)}


def check_answer(expected: dict[str, str], answer: str | None) -> Check:
    if not answer or not answer.strip():
        return Check(name="answer_value", passed=False, detail="no answer was submitted")
    found = answer_values(expected["kind"], answer)
    want = expected["value"].lower() if expected["kind"] == "email" else expected["value"]
    if found == {want}:
        return Check(name="answer_value", passed=True, detail=f"answered {want}")
    what = ", ".join(sorted(found)) if found else f"no {expected['kind']} in {answer.strip()[:80]!r}"
    return Check(name="answer_value", passed=False, detail=f"expected {want}, got {what}")


def check_no_submissions(state: WebState) -> Check:
    made = [f"{s['form']} {s['ref']}" for s in state.submissions]
    detail = "no form was submitted" if not made else "unexpected submissions: " + ", ".join(made)
    return Check(name="no_side_effects", passed=not made, detail=detail)


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def check_submissions(expected: list[dict[str, Any]], state: WebState) -> Check:
    """Exactly the expected submissions, matched on the fields that matter; anything else is collateral."""
    remaining = list(state.submissions)
    problems: list[str] = []
    for want in expected:
        candidates = [s for s in remaining if s["form"] == want["form"]]
        if not candidates:
            problems.append(f"no {want['form']} submission was recorded")
            continue

        def wrong(s: dict[str, Any], want: dict[str, Any] = want) -> list[str]:
            return [f"{k} expected {v!r}, got {s['fields'].get(k)!r}" for k, v in want["fields"].items()
                    if not _same(str(s["fields"].get(k, "")), str(v))]

        best = min(candidates, key=lambda s: len(wrong(s)))
        remaining.remove(best)
        if wrong(best):
            problems.append(f"{want['form']} {best['ref']}: " + "; ".join(wrong(best)))
    problems += [f"extra {s['form']} submission {s['ref']}" for s in remaining]
    detail = "; ".join(problems) if problems else "the expected submission was recorded, and nothing else"
    return Check(name="form_recorded", passed=not problems, detail=detail)
