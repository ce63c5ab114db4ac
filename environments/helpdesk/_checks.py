"""Grading: the database reached, writes outside the reference set, and what the reply tells the customer."""

from __future__ import annotations

import re
from typing import Any

from arena.types import Check, Task

from ._tools import HelpdeskState, apply_write, signatures
from ._world import Database, canonical, differences, normal_text

_AMOUNT = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?(?!\d)")


def amounts_in(text: str) -> set[int]:
    """Every number in the text read as an amount in cents: "$1,234.5" -> 123450, "12" -> 1200."""
    found = set()
    for whole, frac in _AMOUNT.findall(text):
        found.add(int(whole.replace(",", "")) * 100 + int((frac or "0").ljust(2, "0")))
    return found


def fact_present(fact: dict[str, Any], text: str) -> bool:
    if "amount_cents" in fact:
        return int(fact["amount_cents"]) in amounts_in(text)
    haystack = f" {normal_text(text)} "
    return any(normal_text(alt) in haystack for alt in fact["any"])


def expected_database(task: Task) -> Database:
    db = Database.model_validate(task.params["db"])
    for write in task.params["reference_writes"]:
        apply_write(db, write["name"], write["arguments"])
    return db


def check_database(task: Task, state: HelpdeskState) -> Check:
    diffs = differences(canonical(state.db), canonical(expected_database(task)))
    detail = "the database matches the expected state" if not diffs else "; ".join(diffs[:5])
    if len(diffs) > 5:
        detail += f"; and {len(diffs) - 5} more"
    return Check(name="database_state", passed=not diffs, detail=detail)


def check_collateral(task: Task, state: HelpdeskState) -> Check:
    allowed = {s for w in task.params["reference_writes"] for s in signatures(w["name"], w["arguments"])}
    allowed.add(("reply", task.params["ticket_id"]))
    extra = [s for s in dict.fromkeys(state.writes) if s not in allowed]
    detail = "no write outside what the policy allows" if not extra else "forbidden: " + "; ".join(
        " ".join(s) for s in extra
    )
    return Check(name="no_forbidden_action", passed=not extra, detail=detail)


def check_reply(task: Task, state: HelpdeskState) -> list[Check]:
    ticket = state.db.tickets[task.params["ticket_id"]]
    sent = Check(
        name="reply_sent", passed=bool(ticket.replies),
        detail=f"{len(ticket.replies)} reply(ies) on {ticket.id}" if ticket.replies else f"no reply on {ticket.id}",
    )
    text = "\n".join(ticket.replies)
    missing = [f["label"] for f in task.params["facts"] if not fact_present(f, text)]
    facts = Check(
        name="reply_mentions_facts", passed=bool(ticket.replies) and not missing,
        detail="the reply mentions " + ", ".join(f["label"] for f in task.params["facts"]) if not missing
        else "the reply does not mention: " + ", ".join(missing),
    )
    return [sent, facts]
