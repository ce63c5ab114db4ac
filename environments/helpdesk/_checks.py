"""Grading: the database reached, writes outside the reference set, and what the reply tells the customer.

The reply is free text, read leniently for the facts it must state; so that a reply listing every
possible reason and amount cannot pass, it must also claim no outcome that did not apply (a
refusal's reason, an escalation) and quote no amount beyond the orders the ticket is about.
"""

from __future__ import annotations

import re
from typing import Any

from arena.types import Check, Task

from .._kit import goal, guard
from ._tools import HelpdeskState, apply_write, signatures
from ._world import Database, Order, canonical, differences, money, normal_text

_AMOUNT = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?(?!\d)")
# Written as money: "$1,234.5", "$ 12", "12.50" (two decimals); street numbers and zip codes are not.
_MONEY = re.compile(r"\$\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?(?!\d)"
                    r"|(?<![\w.$,])(\d{1,3}(?:,\d{3})+|\d+)\.(\d{2})(?!\d)")
# What a reply claims happened, by the outcome that would make it true. Narrower than the facts a
# reply must state ("on its way" may be a return label), wide enough to catch a list of excuses.
CLAIMS: dict[str, re.Pattern[str]] = {name: re.compile(pattern, re.IGNORECASE) for name, pattern in {
    "the return window passed": r"\b(outside|past|beyond|after|exceed\w*)\b[^.]{0,40}\b(window|return period)\b"
                                r"|\b(window|return period)\b[^.]{0,30}\b(has|had|is)\s+(passed|expired|closed|over)\b",
    "an escalation": r"\bescalat\w*|\bsupervisor",
    "no stock": r"\bout of stock\b|\bsold out\b|\bunavailable\b|\bnot (currently )?in stock\b|\bno stock\b",
    "the order already shipped": r"\balready (been )?(shipped|dispatched)\b"
                                 r"|\b(has|have|had) (already )?(been )?(shipped|dispatched)\b|\bin transit\b",
    "an unverified account": r"\b(could|can)(not|n't| not) (be )?(verif\w*|confirm\w*)"
                             r"|\b(does|do)(n't| not) belong\b|\bnot (associated|linked|registered) (with|to)\b"
                             r"|\bnot on (your|this|the) account\b|\bbelongs to (another|a different|someone)",
}.items()}
OUTCOME_CLAIMS = {("refund", "late"): "the return window passed", ("refund", "over"): "an escalation",
                  ("exchange", "no_stock"): "no stock", ("address", "shipped"): "the order already shipped",
                  ("cancel", "shipped"): "the order already shipped"}


def amounts_in(text: str) -> set[int]:
    """Every number in the text read as an amount in cents: "$1,234.5" -> 123450, "12" -> 1200."""
    found = set()
    for whole, frac in _AMOUNT.findall(text):
        found.add(int(whole.replace(",", "")) * 100 + int((frac or "0").ljust(2, "0")))
    return found


def money_in(text: str) -> set[int]:
    """Every amount written as money in the text, in cents."""
    return {int((whole or whole2).replace(",", "")) * 100 + int((frac or frac2 or "0").ljust(2, "0"))
            for whole, frac, whole2, frac2 in _MONEY.findall(text)}


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
    # With no change to make, the right database is the one the agent started with: a guard.
    make = goal if task.params["reference_writes"] else guard
    return make("database_state", not diffs, detail)


def check_collateral(task: Task, state: HelpdeskState) -> Check:
    allowed = {s for w in task.params["reference_writes"] for s in signatures(w["name"], w["arguments"])}
    allowed.add(("reply", task.params["ticket_id"]))
    extra = [s for s in dict.fromkeys(state.writes) if s not in allowed]
    detail = "no write outside what the policy allows" if not extra else "forbidden: " + "; ".join(
        " ".join(s) for s in extra
    )
    return guard("no_forbidden_action", not extra, detail)


def check_reply(task: Task, state: HelpdeskState) -> list[Check]:
    ticket = state.db.tickets[task.params["ticket_id"]]
    sent = goal(
        "reply_sent", bool(ticket.replies),
        f"{len(ticket.replies)} reply(ies) on {ticket.id}" if ticket.replies else f"no reply on {ticket.id}",
    )
    text = "\n".join(ticket.replies)
    missing = [f["label"] for f in task.params["facts"] if not fact_present(f, text)]
    facts = goal(
        "reply_mentions_facts", bool(ticket.replies) and not missing,
        "the reply mentions " + ", ".join(f["label"] for f in task.params["facts"]) if not missing
        else "the reply does not mention: " + ", ".join(missing),
    )
    return [sent, facts, check_consistent(task, text)]


def check_consistent(task: Task, text: str) -> Check:
    """The reply claims only outcomes that apply and quotes only amounts of the ticket's own orders."""
    requests = task.params["requests"]
    allowed = {OUTCOME_CLAIMS.get((r["kind"], r["outcome"])) if r.get("on_account", True)
               else "an unverified account" for r in requests}
    claims = [name for name, pattern in CLAIMS.items() if name not in allowed and pattern.search(text)]
    orders = task.params["db"]["orders"]  # only the ticket's own orders are read: no need for the whole database
    amounts = {int(task.params["threshold_cents"])}
    for r in requests:
        order = Order.model_validate(orders[r["order_id"]]) if r["order_id"] in orders else None
        if order is not None and r.get("on_account", True):
            amounts |= {order.total_cents, order.refunded_cents, *(i.amount_cents for i in order.items),
                        *(i.price_cents for i in order.items)}
    foreign = sorted(money_in(text) - amounts)
    problems = [f"claims {name}, which does not apply" for name in claims]
    if foreign:
        problems.append(f"quotes {', '.join(money(c) for c in foreign[:3])}, which no order of this ticket has")
    return guard("reply_consistent", not problems, "; ".join(problems) or "claims only what happened")
