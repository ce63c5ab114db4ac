"""The back-office tools. Reads format records as text; writes go through `world`'s operations and
are logged (by signature) so the checker can tell collateral damage from the intended changes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from arena.errors import ToolError
from arena.protocols import State
from arena.tools import Tool, ToolContext

from ._world import (
    Address,
    Database,
    Order,
    do_cancel,
    do_escalate,
    do_exchange,
    do_refund,
    do_reply,
    do_update_address,
    money,
)


class HelpdeskState(State):
    def __init__(self, db: Database) -> None:
        self.db = db
        self.writes: list[tuple[str, ...]] = []  # signatures of successful writes, in order


def signatures(name: str, args: dict[str, Any]) -> list[tuple[str, ...]]:
    """What a write touches, e.g. ("refund", order, item): the unit the collateral check compares."""
    norm = {k: v.strip().upper().lstrip("#") if isinstance(v, str) else v for k, v in args.items()}
    if name == "refund":
        return [("refund", norm["order_id"], str(i).strip().upper()) for i in args["item_ids"]]
    if name == "exchange":
        return [("exchange", norm["order_id"], norm["item_id"], norm["new_variant_id"])]
    if name in ("update_address", "cancel_order"):
        return [(name, norm["order_id"])]
    if name in ("escalate", "reply"):
        return [(name, norm["ticket_id"])]
    return []


def apply_write(db: Database, name: str, args: dict[str, Any]) -> str:
    """Run one write on a database; the tools and the checker's replay share this path."""
    if name == "refund":
        return do_refund(db, args["order_id"], list(args["item_ids"]))
    if name == "exchange":
        return do_exchange(db, args["order_id"], args["item_id"], args["new_variant_id"])
    if name == "update_address":
        address = Address(street=args["street"], city=args["city"], state=args["state"], zip=args["zip"])
        return do_update_address(db, args["order_id"], address)
    if name == "cancel_order":
        return do_cancel(db, args["order_id"])
    if name == "escalate":
        return do_escalate(db, args["ticket_id"], args["reason"])
    if name == "reply":
        return do_reply(db, args["ticket_id"], args["message"])
    raise ValueError(f"{name} is not a write")


def _state(ctx: ToolContext) -> HelpdeskState:
    assert isinstance(ctx.state, HelpdeskState)
    return ctx.state


# ---------------------------------------------------------------- argument models


class NoArgs(BaseModel):
    pass


class TicketArgs(BaseModel):
    ticket_id: str = Field(description="Ticket id, e.g. T-12345.")


class FindCustomerArgs(BaseModel):
    email: str | None = Field(None, description="Exact email address of the customer.")
    name: str | None = Field(None, description="Full or partial customer name.")


class CustomerArgs(BaseModel):
    customer_id: str = Field(description="Customer id, e.g. C-1234.")


class OrderArgs(BaseModel):
    order_id: str = Field(description="Order id, e.g. O-12345.")


class ProductArgs(BaseModel):
    product_id: str = Field(description="Product id, e.g. P-123.")


class RefundArgs(BaseModel):
    order_id: str = Field(description="Order id, e.g. O-12345.")
    item_ids: list[str] = Field(description="Ids of the order's items to refund, e.g. [\"I-12345\"].")
    reason: str = Field(description="Why the items are refunded.")


class ExchangeArgs(BaseModel):
    order_id: str = Field(description="Order id, e.g. O-12345.")
    item_id: str = Field(description="Id of the order's item to exchange, e.g. I-12345.")
    new_variant_id: str = Field(description="Id of the variant to send instead, e.g. V-1234 (see get_product).")


class UpdateAddressArgs(BaseModel):
    order_id: str = Field(description="Order id, e.g. O-12345.")
    street: str = Field(description="Street line, e.g. '42 Elm Street'.")
    city: str = Field(description="City.")
    state: str = Field(description="Two-letter state code, e.g. OR.")
    zip: str = Field(description="ZIP code.")


class CancelArgs(BaseModel):
    order_id: str = Field(description="Order id, e.g. O-12345.")
    reason: str = Field(description="Why the order is cancelled.")


class EscalateArgs(BaseModel):
    ticket_id: str = Field(description="Ticket id, e.g. T-12345.")
    reason: str = Field(description="What the supervisor needs to decide, and why.")


class ReplyArgs(BaseModel):
    ticket_id: str = Field(description="Ticket id, e.g. T-12345.")
    message: str = Field(description="The message to send to the customer.")


# ---------------------------------------------------------------- reads


def _order_text(db: Database, order: Order) -> str:
    lines = [
        f"order {order.id} (customer {order.customer_id}): {order.status}",
        f"placed {order.placed}; shipped {order.shipped or '-'}; delivered {order.delivered or '-'}",
        f"ship to: {order.address.line()}",
        f"payment: {order.payment}; total {money(order.total_cents)}; refunded so far {money(order.refunded_cents)}",
        "items:",
    ]
    for i in order.items:
        product = db.products[i.product_id]
        lines.append(
            f"  {i.id}: {i.name} ({product.attribute} {i.variant}; product {i.product_id}, variant {i.variant_id}) "
            f"x{i.quantity} at {money(i.price_cents)} = {money(i.amount_cents)} [{i.status}]"
        )
    return "\n".join(lines)


async def _read_policy(args: NoArgs, ctx: ToolContext) -> str:
    return str(ctx.task.params["policy"])


async def _get_ticket(args: TicketArgs, ctx: ToolContext) -> str:
    t = _state(ctx).db.ticket(args.ticket_id)
    replies = "".join(f"\n--- reply sent:\n{r}" for r in t.replies)
    return f"ticket {t.id} [{t.status}] from {t.customer_email}\nsubject: {t.subject}\n\n{t.body}{replies}"


async def _find_customer(args: FindCustomerArgs, ctx: ToolContext) -> str:
    if not (args.email or args.name):
        raise ToolError("give an email or a name to search for")
    db = _state(ctx).db
    found = [
        c for c in db.customers.values()
        if (not args.email or c.email.lower() == args.email.strip().lower())
        and (not args.name or args.name.strip().lower() in c.name.lower())
    ]
    if not found:
        raise ToolError("no customer matches; check the spelling, or search by email")
    return "\n".join(f"{c.id}: {c.name} <{c.email}>, orders: {', '.join(c.order_ids) or 'none'}" for c in found)


async def _get_customer(args: CustomerArgs, ctx: ToolContext) -> str:
    c = _state(ctx).db.customer(args.customer_id)
    return (
        f"customer {c.id}: {c.name}\nemail: {c.email}\nphone: {c.phone}\naddress: {c.address.line()}\n"
        f"orders: {', '.join(c.order_ids) or 'none'}"
    )


async def _list_orders(args: CustomerArgs, ctx: ToolContext) -> str:
    db = _state(ctx).db
    c = db.customer(args.customer_id)
    rows = [db.orders[o] for o in c.order_ids]
    return "\n".join(
        f"{o.id}: {o.status}, placed {o.placed}, {len(o.items)} item(s), total {money(o.total_cents)}" for o in rows
    ) or "no orders"


async def _get_order(args: OrderArgs, ctx: ToolContext) -> str:
    db = _state(ctx).db
    return _order_text(db, db.order(args.order_id))


async def _get_product(args: ProductArgs, ctx: ToolContext) -> str:
    p = _state(ctx).db.product(args.product_id)
    rows = [f"  {v.id}: {p.attribute} {v.value}, {money(v.price_cents)}, in stock: {v.stock}" for v in p.variants]
    return f"product {p.id}: {p.name}\nvariants:\n" + "\n".join(rows)


# ---------------------------------------------------------------- writes


def _writer(name: str):  # type: ignore[no-untyped-def]
    async def run(args: BaseModel, ctx: ToolContext) -> str:
        state = _state(ctx)
        data = args.model_dump()
        output = apply_write(state.db, name, data)
        state.writes.extend(signatures(name, data))
        return output

    return run


def _read(name: str, description: str, args: type[BaseModel], run: Any) -> Tool:
    return Tool(name, description, args, run, effect="read")


def _write(name: str, description: str, args: type[BaseModel]) -> Tool:
    return Tool(name, description, args, _writer(name), effect="change")


def helpdesk_tools() -> list[Tool]:
    return [
        _read("read_policy", "Show the store's customer-support policy.", NoArgs, _read_policy),
        _read("get_ticket", "Show a support ticket: sender, subject, message and replies so far.", TicketArgs,
              _get_ticket),
        _read("find_customer", "Find customers by exact email or by (part of) their name.", FindCustomerArgs,
              _find_customer),
        _read("get_customer", "Show a customer's profile and order ids.", CustomerArgs, _get_customer),
        _read("list_orders", "List a customer's orders with status and totals.", CustomerArgs, _list_orders),
        _read("get_order", "Show an order: status, dates, items (with ids and prices), address, payment.", OrderArgs,
              _get_order),
        _read("get_product", "Show a product's variants with their ids, prices and stock.", ProductArgs, _get_product),
        _write("refund", "Refund items of an order to the original payment method.", RefundArgs),
        _write("exchange", "Replace an item of an order by another variant; emails the customer a return label.",
               ExchangeArgs),
        _write("update_address", "Change the shipping address of an order.", UpdateAddressArgs),
        _write("cancel_order", "Cancel an order and refund what is left of it.", CancelArgs),
        _write("escalate", "Hand a ticket to a supervisor with a note.", EscalateArgs),
        _write("reply", "Send a message to the customer on a ticket.", ReplyArgs),
    ]
