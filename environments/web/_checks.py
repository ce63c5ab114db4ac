"""Grading: the submitted answer (lenient on format, strict on value) and the site's recorded submissions."""

from __future__ import annotations

import copy
import re
from typing import Any

from arena.types import Check

from .._kit import goal, guard
from ._forms import FORMS, VALIDATORS, Invalid
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
        return goal("answer_value", False, "no answer was submitted")
    found = answer_values(expected["kind"], answer)  # an answer naming several candidates is wrong
    want = expected["value"].lower() if expected["kind"] == "email" else expected["value"]
    if found == {want}:
        return goal("answer_value", True, f"answered {want}")
    what = ", ".join(sorted(found)) if found else f"no {expected['kind']} in {answer.strip()[:80]!r}"
    return goal("answer_value", False, f"expected {want}, got {what}")


def check_no_submissions(state: WebState) -> Check:
    made = [f"{s['form']} {s['ref']}" for s in state.submissions]
    detail = "no form was submitted" if not made else "unexpected submissions: " + ", ".join(made)
    return guard("no_side_effects", not made, detail)


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _wrong(fields: dict[str, str], want: dict[str, Any]) -> list[str]:
    return [f"{k} expected {v!r}, got {fields.get(k)!r}" for k, v in want["fields"].items()
            if not _same(str(fields.get(k, "")), str(v))]


def check_submissions(expected: list[dict[str, Any]], state: WebState) -> list[Check]:
    """The expected submissions, matched on the fields that matter (a goal); any other submission is
    collateral (a guard)."""
    remaining = list(state.submissions)
    problems: list[str] = []
    for want in expected:
        candidates = [s for s in remaining if s["form"] == want["form"]]
        if not candidates:
            problems.append(f"no {want['form']} submission was recorded")
            continue
        best = min(candidates, key=lambda s: len(_wrong(s["fields"], want)))
        remaining.remove(best)
        if _wrong(best["fields"], want):
            problems.append(f"{want['form']} {best['ref']}: " + "; ".join(_wrong(best["fields"], want)))
    extra = [f"{s['form']} submission {s['ref']}" for s in remaining]
    return [
        goal("form_recorded", not problems, "; ".join(problems) or "the expected submission was recorded"),
        guard("no_other_submissions", not extra, "extra: " + ", ".join(extra) if extra else "nothing else"),
    ]


def check_filled(expected: list[dict[str, Any]], state: WebState) -> Check:
    """Each expected form holds the right values, typed into it (read as the site would read them, on
    a copy of the site) or already submitted."""
    problems: list[str] = []
    for want in expected:
        submitted = [s for s in state.submissions if s["form"] == want["form"] and not _wrong(s["fields"], want)]
        if submitted:
            continue
        draft = state.drafts.get(want["form"], {})
        values = {f.name: draft.get(f.name, "") for f in FORMS[want["form"]].fields}
        missing = [name for name, value in values.items() if not value.strip()]
        if missing:
            problems.append(f"{want['form']}: nothing typed into {', '.join(missing)}")
            continue
        try:
            fields = VALIDATORS[want["form"]](copy.deepcopy(state.site), values)
        except Invalid as e:
            problems.append(f"{want['form']}: the site would refuse it: {e}")
            continue
        problems += [f"{want['form']}: {w}" for w in _wrong(fields, want)]
    return goal("form_filled", not problems, "; ".join(problems) or "the form holds the right values")
