"""Customer requests: each makes the records it is about, the customer's words, the writes a careful
agent would make under the policy, and the facts the reply must mention."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ._build import Builder
from ._world import NOT_SHIPPED, Customer, Order, money

Kind = Literal["refund", "exchange", "address", "cancel"]
# Outcomes a request can have under the policy; "ok" means the agent should carry it out.
REFUSALS: dict[str, list[str]] = {
    "refund": ["late"],
    "exchange": ["no_stock"],
    "address": ["shipped"],
    "cancel": ["shipped"],
}
SHIPPED_WORDS = ["shipped", "transit", "on its way", "dispatched"]
REASONS = [
    "it doesn't fit", "it arrived damaged", "I changed my mind", "it isn't what I expected",
    "the quality is not what I hoped for", "I ordered it twice by mistake",
]


@dataclass
class Request:
    kind: Kind
    outcome: str
    order_id: str
    text: str  # the customer's words
    reply: str = ""  # what a careful agent tells the customer about it
    writes: list[dict[str, Any]] = field(default_factory=list)  # reference write calls (name, arguments)
    facts: list[dict[str, Any]] = field(default_factory=list)  # what the reply must mention
    lookups: list[dict[str, Any]] = field(default_factory=list)  # extra reads a careful agent makes
    on_account: bool = True  # False: the order is not the customer's, so a careful agent does not open it


def sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def text_fact(label: str, *alternatives: str) -> dict[str, Any]:
    return {"label": label, "any": list(alternatives)}


def amount_fact(label: str, cents: int) -> dict[str, Any]:
    return {"label": label, "amount_cents": cents}


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def _fill_order(b: Builder, extra: int) -> list:
    return [b.item(b.product()) for _ in range(extra)]


def refund_request(b: Builder, customer: Customer, outcome: str, policy: dict[str, int], extra_items: int) -> Request:
    """outcome: ok (in window, under the limit), late (outside the window), over (above the limit)."""
    window, limit = policy["window_days"], policy["threshold_cents"]
    bounds = {"min_price_cents": limit + 1000} if outcome == "over" else {"max_price_cents": limit - 1000}
    product = b.product(**bounds)
    item = b.item(product)
    assert (item.amount_cents > limit) if outcome == "over" else (item.amount_cents < limit)
    days = b.rng.randint(window + 3, window + 90) if outcome == "late" else b.rng.randint(1, window - 3)
    items = [item, *_fill_order(b, extra_items)]
    b.rng.shuffle(items)
    order = b.order(customer, "delivered", items, delivered_days_ago=days)
    reason = b.rng.choice(REASONS)
    what = f"the {item.name} ({item.variant})"
    text = b.rng.choice([
        f"I'd like a refund for {what} from order {order.id}; {reason}.",
        f"Please refund {what} in my order {order.id}, {reason}.",
        f"Can I get my money back for {what} (order {order.id})? {sentence_case(reason)}.",
    ])
    request = Request("refund", outcome, order.id, text)
    if outcome == "ok":
        request.writes = [call("refund", order_id=order.id, item_ids=[item.id], reason=reason)]
        request.facts = [amount_fact("refund amount", item.amount_cents)]
        request.reply = f"I have refunded {money(item.amount_cents)} for {what} to your {order.payment}."
    elif outcome == "late":
        request.facts = [text_fact("why: the return window passed", f"{window} day", "window")]
        request.reply = (
            f"Unfortunately {what} was delivered on {order.delivered}, outside our {window}-day return window, "
            "so I cannot refund it."
        )
    else:
        request.writes = [call("escalate", ticket_id="{ticket}", reason=f"refund of {money(item.amount_cents)} "
                               f"is above the {money(limit)} limit")]
        request.facts = [text_fact("that the ticket was escalated", "escalat", "supervisor")]
        request.reply = (
            f"A refund of {money(item.amount_cents)} is above what I can approve, so I have escalated your "
            "ticket to a supervisor, who will follow up shortly."
        )
    return request


def exchange_request(b: Builder, customer: Customer, outcome: str, extra_items: int) -> Request:
    """outcome: ok (the wanted variant is in stock) or no_stock."""
    product = b.product()
    have, want = b.rng.sample(product.variants, 2)
    want.stock = b.rng.randint(2, 9) if outcome == "ok" else 0
    item = b.item(product, have)
    items = [item, *_fill_order(b, extra_items)]
    b.rng.shuffle(items)
    order = b.order(customer, "delivered", items, delivered_days_ago=b.rng.randint(2, 20))
    text = b.rng.choice([
        f"The {item.name} from order {order.id} is the wrong {product.attribute}. "
        f"Could I exchange it for the {want.value} one?",
        f"I'd like to swap the {item.name} ({item.variant}) in order {order.id} for {product.attribute} {want.value}.",
        f"Order {order.id}: can you exchange my {item.name} for the same thing in {want.value}?",
    ])
    request = Request("exchange", outcome, order.id, text, lookups=[call("get_product", product_id=product.id)])
    if outcome == "ok":
        request.writes = [call("exchange", order_id=order.id, item_id=item.id, new_variant_id=want.id)]
        request.facts = [text_fact(f"the new {product.attribute}", want.value)]
        request.reply = (
            f"I have set up an exchange of your {item.name} for {product.attribute} {want.value}; "
            "a return label is on its way to your inbox."
        )
    else:
        request.facts = [text_fact("why: out of stock", "stock", "unavailable", "sold out")]
        request.reply = f"I'm sorry: the {item.name} in {want.value} is out of stock, so I cannot exchange it."
    return request


def address_request(b: Builder, customer: Customer, outcome: str, extra_items: int) -> Request:
    """outcome: ok (not shipped yet) or shipped."""
    status: Any = b.rng.choice(NOT_SHIPPED) if outcome == "ok" else "shipped"
    order = b.order(customer, status, _fill_order(b, 1 + extra_items))
    new = b.address(avoid=order.address)
    text = b.rng.choice([
        f"I'm moving: please ship order {order.id} to {new.line()} instead.",
        f"Could you change the delivery address of order {order.id} to {new.line()}?",
        f"Order {order.id} has my old address. The right one is {new.line()}.",
    ])
    request = Request("address", outcome, order.id, text)
    if outcome == "ok":
        request.writes = [call("update_address", order_id=order.id, **new.model_dump())]
        request.facts = [text_fact("the new street", new.street), text_fact("the new zip code", new.zip)]
        request.reply = f"Order {order.id} will now be delivered to {new.line()}."
    else:
        request.facts = [text_fact("why: already shipped", *SHIPPED_WORDS)]
        request.reply = f"Order {order.id} has already shipped, so I can no longer change its delivery address."
    return request


def cancel_request(b: Builder, customer: Customer, outcome: str, extra_items: int) -> Request:
    """outcome: ok (not shipped yet) or shipped."""
    status: Any = b.rng.choice(NOT_SHIPPED) if outcome == "ok" else "shipped"
    order = b.order(customer, status, _fill_order(b, 1 + extra_items))
    reason = b.rng.choice(["I found it cheaper elsewhere", "I ordered by mistake", "I no longer need it"])
    text = b.rng.choice([
        f"Please cancel order {order.id}, {reason}.",
        f"I want to cancel my order {order.id}. {sentence_case(reason)}.",
        f"Could you cancel {order.id} for me? {sentence_case(reason)}.",
    ])
    request = Request("cancel", outcome, order.id, text)
    if outcome == "ok":
        request.writes = [call("cancel_order", order_id=order.id, reason=reason)]
        request.facts = [amount_fact("refund amount of the cancelled order", order.total_cents)]
        request.reply = (
            f"Order {order.id} is cancelled, and {money(order.total_cents)} will be refunded to your {order.payment}."
        )
    else:
        request.facts = [text_fact("why: already shipped", *SHIPPED_WORDS)]
        request.reply = f"Order {order.id} has already shipped, so it can no longer be cancelled."
    return request


def make_request(
    b: Builder, customer: Customer, kind: Kind, outcome: str, policy: dict[str, int], extra_items: int
) -> Request:
    if kind == "refund":
        return refund_request(b, customer, outcome, policy, extra_items)
    if kind == "exchange":
        return exchange_request(b, customer, outcome, extra_items)
    if kind == "address":
        return address_request(b, customer, outcome, extra_items)
    return cancel_request(b, customer, outcome, extra_items)


def order_of(b: Builder, request: Request) -> Order:
    return b.db.orders[request.order_id]
