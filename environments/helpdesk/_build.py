"""Builds a store's database from a seeded random generator: customers, products, orders, tickets."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from arena.types import Split

from . import _pools as pools
from ._world import (
    Address,
    Customer,
    Database,
    Item,
    Order,
    OrderStatus,
    Product,
    Ticket,
    Variant,
)

CARDS = ["Visa", "Mastercard", "Amex"]


class Builder:
    """Adds realistic records to a database; every id is unique and every choice comes from `rng`."""

    def __init__(self, rng: random.Random, split: Split) -> None:
        self.rng = rng
        self.split = split
        self.today = dt.date(2024, 2, 1) + dt.timedelta(days=rng.randint(0, 300))
        self.db = Database(today=self.today.isoformat(), customers={}, orders={}, products={}, tickets={})
        self._used: set[str] = set()
        self._products_by_name: dict[str, Product] = {}  # every product is made here, once per name
        self._catalogue = list(pools.CATALOGUES[split])
        rng.shuffle(self._catalogue)

    # ------------------------------------------------------------------ ids and small values

    def new_id(self, prefix: str, digits: int) -> str:
        while True:
            candidate = f"{prefix}-{self.rng.randint(10 ** (digits - 1), 10**digits - 1)}"
            if candidate not in self._used:
                self._used.add(candidate)
                return candidate

    def day(self, days_ago: int) -> str:
        return (self.today - dt.timedelta(days=days_ago)).isoformat()

    def address(self, avoid: Address | None = None) -> Address:
        while True:
            city, state, zip_prefix = self.rng.choice(pools.CITIES[self.split])
            street = f"{self.rng.randint(12, 980)} {self.rng.choice(pools.STREETS[self.split])}"
            candidate = Address(street=street, city=city, state=state, zip=f"{zip_prefix}{self.rng.randint(10, 99)}")
            if avoid is None or (candidate.street != avoid.street and candidate.zip != avoid.zip):
                return candidate

    # ------------------------------------------------------------------ records

    def customer(self, name: str | None = None) -> Customer:
        if name is None:
            name = f"{self.rng.choice(pools.FIRST_NAMES[self.split])} {self.rng.choice(pools.LAST_NAMES[self.split])}"
        first, last = name.lower().split(" ", 1)
        taken = {c.email for c in self.db.customers.values()}
        while True:
            style = self.rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}{self.rng.randint(2, 99)}"])
            email = f"{style.replace(' ', '')}@{self.rng.choice(pools.EMAIL_DOMAINS[self.split])}"
            if email not in taken:
                break
        phone = f"555-{self.rng.randint(100, 999)}-{self.rng.randint(1000, 9999)}"
        customer = Customer(id=self.new_id("C", 4), name=name, email=email, phone=phone, address=self.address())
        self.db.customers[customer.id] = customer
        return customer

    def product(self, min_price_cents: int = 0, max_price_cents: int = 10**9) -> Product:
        """A product from the catalogue (each used once) priced within the bounds when its range allows."""
        made = self._products_by_name
        fitting = [
            spec for spec in self._catalogue
            if spec["name"] not in made
            and spec["price"][1] * 100 >= min_price_cents and spec["price"][0] * 100 <= max_price_cents
        ]
        spec = self.rng.choice(fitting or self._catalogue)
        existing = made.get(spec["name"])
        if existing is not None:
            return existing
        low = max(spec["price"][0] * 100, min_price_cents)
        high = min(spec["price"][1] * 100, max_price_cents)
        dollars = self.rng.randint(low // 100, max(low // 100, high // 100 - 1))
        price = dollars * 100 + self.rng.choice([0, 50, 95, 99])
        variants = [
            Variant(id=self.new_id("V", 4), value=value, price_cents=price, stock=self.rng.randint(0, 12))
            for value in spec["values"]
        ]
        product = Product(id=self.new_id("P", 3), name=spec["name"], attribute=spec["attribute"], variants=variants)
        self.db.products[product.id] = product
        made[product.name] = product
        return product

    def item(self, product: Product, variant: Variant | None = None, quantity: int = 1) -> Item:
        variant = variant or self.rng.choice(product.variants)
        return Item(
            id=self.new_id("I", 5), product_id=product.id, variant_id=variant.id, name=product.name,
            variant=variant.value, price_cents=variant.price_cents, quantity=quantity,
        )

    def order(
        self, customer: Customer, status: OrderStatus, items: list[Item], *, delivered_days_ago: int | None = None
    ) -> Order:
        """An order with dates consistent with its status (delivered orders: `delivered_days_ago`)."""
        rng = self.rng
        shipped = delivered = None
        if status in ("pending", "processing", "cancelled"):
            placed = self.day(rng.randint(0, 2) if status != "cancelled" else rng.randint(5, 60))
        elif status == "shipped":
            shipped_ago = rng.randint(1, 3)
            shipped, placed = self.day(shipped_ago), self.day(shipped_ago + rng.randint(1, 3))
        else:
            ago = delivered_days_ago if delivered_days_ago is not None else rng.randint(2, 120)
            delivered = self.day(ago)
            shipped = self.day(ago + rng.randint(2, 5))
            placed = self.day(ago + rng.randint(6, 9))
        payment = f"{rng.choice(CARDS)} ending {rng.randint(1000, 9999)}"
        order = Order(
            id=self.new_id("O", 5), customer_id=customer.id, status=status, placed=placed, shipped=shipped,
            delivered=delivered, items=items, address=customer.address, payment=payment,
        )
        if status == "cancelled":
            order.refunded_cents = order.total_cents
            for item in order.items:
                item.status = "refunded"
        self.db.orders[order.id] = order
        customer.order_ids.append(order.id)
        return order

    def filler_order(self, customer: Customer) -> Order:
        """An unremarkable order: history that a careless agent might act on by mistake."""
        status: Any = self.rng.choice(["delivered", "delivered", "shipped", "processing", "cancelled"])
        items = [self.item(self.product()) for _ in range(self.rng.randint(1, 2))]
        return self.order(customer, status, items)

    def ticket(self, email: str, subject: str, body: str) -> Ticket:
        ticket = Ticket(id=self.new_id("T", 5), customer_email=email, subject=subject, body=body)
        self.db.tickets[ticket.id] = ticket
        return ticket
