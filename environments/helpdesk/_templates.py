"""Task templates: which requests a ticket carries, the distractors around it, and the instruction."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from arena.types import Split

from . import _pools as pools
from ._build import Builder
from ._policy import policy_text
from ._requests import (
    REFUSALS,
    Kind,
    Request,
    call,
    make_request,
    text_fact,
)

TEMPLATES: tuple[str, ...] = (
    "refund_in_window",
    "refund_outside_window",
    "refund_over_threshold",
    "address_change",
    "exchange",
    "cancellation",
    "multi_request",
    "identity_mismatch",
)
KINDS: tuple[Kind, ...] = ("refund", "exchange", "address", "cancel")
SUBJECTS = {
    "refund": "Refund request", "exchange": "Exchange request", "address": "Change of delivery address",
    "cancel": "Cancel my order",
}
# A person's time to look a request up, decide it under the policy and carry it out.
MINUTES = {"refund": 3.0, "exchange": 4.0, "address": 3.0, "cancel": 2.5}
IDENTITY_MINUTES = 4.0  # working out that the order is someone else's
# Reading ticket and policy, and writing the reply; then each level of distractors (other orders,
# namesakes, other tickets) to rule out.
BASE_MINUTES, REPLY_MINUTES, DISTRACTOR_MINUTES = 2.0, 2.0, 1.5


@dataclass
class Scenario:
    template: str
    difficulty: int
    instructions: list[str]
    params: dict[str, Any]
    human_minutes: float


def _requests_for(template: str, b: Builder, customer: Any, policy: dict[str, int], extra: int) -> list[Request]:
    rng = b.rng
    single: dict[str, tuple[Kind, str]] = {
        "refund_in_window": ("refund", "ok"),
        "refund_outside_window": ("refund", "late"),
        "refund_over_threshold": ("refund", "over"),
        "address_change": ("address", rng.choice(["ok", "shipped"])),
        "exchange": ("exchange", rng.choice(["ok", "ok", "no_stock"])),
        "cancellation": ("cancel", rng.choice(["ok", "shipped"])),
    }
    if template in single:
        kind, outcome = single[template]
        return [make_request(b, customer, kind, outcome, policy, extra)]
    if template == "multi_request":  # one request to carry out, one to refuse, from level 4 a third
        kinds = rng.sample(KINDS, 3 if extra >= 3 else 2)
        outcomes = ["ok", rng.choice(REFUSALS[kinds[1]])]
        if len(kinds) == 3:
            outcomes.append(rng.choice(["ok", *REFUSALS[kinds[2]]]))
        several = [make_request(b, customer, k, o, policy, extra) for k, o in zip(kinds, outcomes, strict=True)]
        rng.shuffle(several)
        return several
    # identity_mismatch: the order asked about belongs to someone else (at higher difficulty a namesake)
    owner = b.customer(customer.name if extra else None)
    kind = rng.choice(KINDS)
    request = make_request(b, owner, kind, "ok", policy, extra)
    request.writes, request.lookups, request.on_account = [], [], False
    request.facts = [text_fact("why: the order is not on their account", "verif", "belong", "associated", "linked",
                               "match")]
    request.reply = (
        f"I could not verify that order {request.order_id} belongs to the account of this email address, "
        "so I have not made any change. Please write to us from the email address you used for that order."
    )
    return [request]


def build_scenario(template: str, difficulty: int, split: Split, rng: random.Random) -> Scenario:
    b = Builder(rng, split)
    extra = difficulty - 1  # distractors grow with difficulty
    store = rng.choice(pools.STORES[split])
    policy = {"window_days": rng.choice([14, 30, 45, 60]), "threshold_cents": rng.choice([150, 200, 250, 300]) * 100}
    customer = b.customer()
    requests = _requests_for(template, b, customer, policy, extra)
    # Distractors: other orders of the customer, other customers (a namesake from difficulty 2), other tickets.
    for _ in range(rng.randint(extra, extra + 1)):
        b.filler_order(customer)
    if difficulty >= 2:
        namesake = b.customer(customer.name)
        b.filler_order(namesake)
    for _ in range(2 + 2 * difficulty):
        b.filler_order(b.customer())
    others = [c for c in b.db.customers.values() if c.id != customer.id]
    for other in rng.sample(others, min(difficulty, len(others))):
        b.ticket(other.email, "Where is my order?", f"Hi, could you tell me when order {other.order_ids[0]} "
                 f"will arrive? Thanks, {other.name.split()[0]}")
    first = customer.name.split()[0]
    lines = " ".join(r.text for r in requests)
    body = f"Hello,\n{lines}\nThanks,\n{first}"
    subject = "A few things about my orders" if len(requests) > 1 else SUBJECTS[requests[0].kind]
    ticket = b.ticket(customer.email, subject, body)
    for request in requests:
        for write in request.writes:
            if write["arguments"].get("ticket_id") == "{ticket}":
                write["arguments"]["ticket_id"] = ticket.id
    policy_str = policy_text(store, policy["window_days"], policy["threshold_cents"])
    reply = "Hello " + first + ",\n" + " ".join(r.reply for r in requests) + "\nKind regards,\nCustomer Support"
    writes = [w for r in requests for w in r.writes]
    act = "act" if writes else "reply"  # with nothing to change, looking up serves the reply
    solution = [
        {**c, "subgoal": act} for c in (
            call("read_policy"),
            call("get_ticket", ticket_id=ticket.id),
            call("find_customer", email=customer.email),
            *[c for r in requests if r.on_account for c in (call("get_order", order_id=r.order_id), *r.lookups)],
            *writes,
        )
    ] + [{**call("reply", ticket_id=ticket.id, message=reply), "subgoal": "reply"}]
    params = {
        "store": store,
        "policy": policy_str,
        "threshold_cents": policy["threshold_cents"],
        "ticket_id": ticket.id,
        "customer_id": customer.id,
        "requests": [{"kind": r.kind, "outcome": r.outcome, "order_id": r.order_id, "on_account": r.on_account}
                     for r in requests],
        "reference_writes": writes,
        "facts": [f for r in requests for f in r.facts],
        "solution": solution,
        "db": b.db.model_dump(),
    }
    instructions = [p.format(store=store, today=b.db.today, tid=ticket.id, email=customer.email, subject=subject,
                             body=body, policy=policy_str) for p in PARAPHRASES]
    work = sum(MINUTES[r.kind] if r.on_account else IDENTITY_MINUTES for r in requests)
    minutes = BASE_MINUTES + work + REPLY_MINUTES + DISTRACTOR_MINUTES * extra
    return Scenario(template, difficulty, instructions, params, round(minutes, 1))


PARAPHRASES = [
    "You work in customer support at {store}. Today is {today}. Ticket {tid} came in from {email}:\n\n{body}\n\n"
    "Handle it: verify the customer, make only the changes the policy below allows with the back-office tools, "
    "and reply on the ticket saying what you did or why you could not. Call submit when you are done.\n\n{policy}",
    "Support queue of {store}, date {today}.\nOpen ticket: {tid} (from {email}, subject \"{subject}\").\n"
    "Customer message:\n{body}\n\nResolve this ticket the way the written policy below says (read_policy shows it "
    "too). Check the customer and the order(s) first, carry out whatever the policy permits, refuse or escalate "
    "what it does not, and answer the customer on the ticket with the outcome, including amounts, addresses or "
    "reasons. Finish with submit.\n\n{policy}",
    "{policy}\n\nWith that policy in mind, take care of ticket {tid}. It is {today}; the sender is {email}, who "
    "wrote:\n\"\"\"\n{body}\n\"\"\"\nLook the customer and the orders up with the tools, do exactly what the "
    "policy allows and nothing more, reply to the customer on ticket {tid}, then submit.",
    "A customer of {store} needs help (ticket {tid}, sent by {email}; today's date is {today}).\n\n{body}\n\n"
    "Act as a careful back-office agent: confirm who they are, apply the policy below to each thing they ask, "
    "change records only where the policy permits, and send one clear reply on the ticket. Submit when "
    "finished.\n\n{policy}",
]
