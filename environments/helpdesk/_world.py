"""The store's back-office database and the write operations on it.

The operations do what they are asked whenever the request is valid in form (the ids exist, the
item is not already refunded, the variant is in stock), even when the policy forbids it: the
policy is the agent's to follow, so a policy violation shows up as a changed database.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Literal

from pydantic import BaseModel, Field

from arena.errors import ToolError

OrderStatus = Literal["pending", "processing", "shipped", "delivered", "cancelled"]
NOT_SHIPPED: tuple[str, ...] = ("pending", "processing")


def money(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"


class Address(BaseModel):
    street: str
    city: str
    state: str
    zip: str

    def line(self) -> str:
        return f"{self.street}, {self.city}, {self.state} {self.zip}"


class Variant(BaseModel):
    id: str
    value: str
    price_cents: int
    stock: int


class Product(BaseModel):
    id: str
    name: str
    attribute: str  # what the variants differ in: "size" or "color"
    variants: list[Variant]

    def variant(self, variant_id: str) -> Variant | None:
        return next((v for v in self.variants if v.id == variant_id), None)


class Item(BaseModel):
    id: str
    product_id: str
    variant_id: str
    name: str
    variant: str
    price_cents: int
    quantity: int = 1
    status: Literal["ordered", "refunded", "exchange_requested"] = "ordered"

    @property
    def amount_cents(self) -> int:
        return self.price_cents * self.quantity


class Order(BaseModel):
    id: str
    customer_id: str
    status: OrderStatus
    placed: str
    shipped: str | None = None
    delivered: str | None = None
    items: list[Item]
    address: Address
    payment: str
    refunded_cents: int = 0

    @property
    def total_cents(self) -> int:
        return sum(i.amount_cents for i in self.items)


class Customer(BaseModel):
    id: str
    name: str
    email: str
    phone: str
    address: Address
    order_ids: list[str] = Field(default_factory=list)


class Ticket(BaseModel):
    id: str
    customer_email: str
    subject: str
    body: str
    status: Literal["open", "escalated"] = "open"
    escalation_reason: str | None = None
    replies: list[str] = Field(default_factory=list)


class Database(BaseModel):
    today: str
    customers: dict[str, Customer]
    orders: dict[str, Order]
    products: dict[str, Product]
    tickets: dict[str, Ticket]

    # ------------------------------------------------------------ look-ups (errors the agent can act on)

    def order(self, order_id: str) -> Order:
        order = self.orders.get(order_id.strip().upper().lstrip("#"))
        if order is None:
            raise ToolError(f"no order with id {order_id!r} (order ids look like O-12345)")
        return order

    def customer(self, customer_id: str) -> Customer:
        customer = self.customers.get(customer_id.strip().upper())
        if customer is None:
            raise ToolError(f"no customer with id {customer_id!r} (customer ids look like C-1234)")
        return customer

    def product(self, product_id: str) -> Product:
        product = self.products.get(product_id.strip().upper())
        if product is None:
            raise ToolError(f"no product with id {product_id!r} (product ids look like P-123)")
        return product

    def ticket(self, ticket_id: str) -> Ticket:
        ticket = self.tickets.get(ticket_id.strip().upper())
        if ticket is None:
            raise ToolError(f"no ticket with id {ticket_id!r} (ticket ids look like T-12345)")
        return ticket

    def item(self, order: Order, item_id: str) -> Item:
        item = next((i for i in order.items if i.id == item_id.strip().upper()), None)
        if item is None:
            ids = ", ".join(i.id for i in order.items)
            raise ToolError(f"order {order.id} has no item {item_id!r}; its items are {ids}")
        return item


# ---------------------------------------------------------------- write operations


def do_refund(db: Database, order_id: str, item_ids: list[str]) -> str:
    order = db.order(order_id)
    if order.status == "cancelled":
        raise ToolError(f"order {order.id} is cancelled and was already refunded in full")
    if not item_ids:
        raise ToolError("give at least one item id to refund")
    items = [db.item(order, i) for i in dict.fromkeys(item_ids)]
    for item in items:
        if item.status != "ordered":
            raise ToolError(f"item {item.id} cannot be refunded: its status is {item.status}")
    total = 0
    for item in items:
        item.status = "refunded"
        total += item.amount_cents
    order.refunded_cents += total
    names = ", ".join(f"{i.id} ({i.name})" for i in items)
    return f"refunded {money(total)} to {order.payment} for {names} of order {order.id}"


def do_exchange(db: Database, order_id: str, item_id: str, new_variant_id: str) -> str:
    order = db.order(order_id)
    if order.status == "cancelled":
        raise ToolError(f"order {order.id} is cancelled")
    item = db.item(order, item_id)
    if item.status != "ordered":
        raise ToolError(f"item {item.id} cannot be exchanged: its status is {item.status}")
    wanted = new_variant_id.strip().upper()
    product, variant = next(
        ((p, v) for p in db.products.values() for v in p.variants if v.id == wanted), (None, None)
    )
    if product is None or variant is None:
        raise ToolError(f"no variant with id {new_variant_id!r} (variant ids look like V-1234; see get_product)")
    if variant.stock <= 0:
        raise ToolError(f"variant {variant.id} ({product.name}, {variant.value}) is out of stock")
    variant.stock -= item.quantity
    item.product_id, item.variant_id = product.id, variant.id
    item.name, item.variant, item.status = product.name, variant.value, "exchange_requested"
    return (
        f"exchange requested: item {item.id} of order {order.id} will be replaced by {product.name} "
        f"({product.attribute} {variant.value}); a return label was emailed to the customer"
    )


def do_update_address(db: Database, order_id: str, address: Address) -> str:
    order = db.order(order_id)
    if order.status == "cancelled":
        raise ToolError(f"order {order.id} is cancelled")
    order.address = address
    return f"shipping address of order {order.id} is now {address.line()}"


def do_cancel(db: Database, order_id: str) -> str:
    order = db.order(order_id)
    if order.status == "cancelled":
        raise ToolError(f"order {order.id} is already cancelled")
    refund = sum(i.amount_cents for i in order.items if i.status == "ordered")
    order.status = "cancelled"
    for item in order.items:
        if item.status == "ordered":
            item.status = "refunded"
    order.refunded_cents += refund
    return f"order {order.id} cancelled; {money(refund)} refunded to {order.payment}"


def do_escalate(db: Database, ticket_id: str, reason: str) -> str:
    ticket = db.ticket(ticket_id)
    ticket.status = "escalated"
    ticket.escalation_reason = reason
    return f"ticket {ticket.id} escalated to a supervisor"


def do_reply(db: Database, ticket_id: str, message: str) -> str:
    ticket = db.ticket(ticket_id)
    if not message.strip():
        raise ToolError("the reply is empty")
    ticket.replies.append(message)
    return f"reply sent on ticket {ticket.id} to {ticket.customer_email}"


# ---------------------------------------------------------------- comparing databases

_SUFFIXES = {"street": "st", "avenue": "ave", "road": "rd", "lane": "ln", "drive": "dr", "court": "ct", "way": "wy"}


_PUNCTUATION = re.compile(r"[^\w\s]")


def normal_text(text: str) -> str:
    words = _PUNCTUATION.sub(" ", text.lower()).split()
    return " ".join(_SUFFIXES.get(w, w) for w in words)


_normal_cached = functools.lru_cache(maxsize=16384)(normal_text)


def _normal_field(text: str) -> str:
    """normal_text of an address field: a grade normalises the same addresses on both sides, and
    episodes share cities and states. Long text (the agent's own) is not kept."""
    return _normal_cached(text) if len(text) <= 200 else normal_text(text)


def canonical(db: Database) -> dict[str, Any]:
    """The database without free text the agent words itself (reasons, replies), with addresses
    normalised for case and abbreviations: two routes to the same state compare equal."""
    data = db.model_dump(mode="json")
    for ticket in data["tickets"].values():
        ticket.pop("replies")
        ticket.pop("escalation_reason")
    for order in data["orders"].values():
        order["address"] = {k: _normal_field(v) for k, v in order["address"].items()}
    return data


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Paths where two canonical dumps differ, for a readable check detail."""
    if a == b:  # one comparison in C for the common case, and for every equal branch below
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b)):
            out += differences(a.get(key), b.get(key), f"{path}.{key}" if path else str(key))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{path}[{i}]")]
    return [f"{path}: expected {b!r}, found {a!r}"]
