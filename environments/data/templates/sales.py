"""Sales export: totals, medians and spreads by region, best sales rep per product."""

from __future__ import annotations

import random
import statistics
from datetime import date, timedelta
from decimal import Decimal

from arena.types import Split

from ..answers import Expected
from ..common import MONEY_FORMAT, ROWS_BY_DIFFICULTY, Level, Problem, money_answer, money_text, to_csv

REGIONS: dict[Split, tuple[str, ...]] = {
    "dev": ("North", "South", "East", "West", "Central"),
    "test": ("Nordic", "Benelux", "Iberia", "Alpine", "Baltic"),
}
PRODUCTS: dict[Split, tuple[tuple[str, str], ...]] = {
    "dev": (("Laptop stand", "39.90"), ("Standing desk", "1249.00"), ("Monitor arm", "89.50"),
            ("Office chair", "1099.00"), ("Desk lamp", "24.99"), ("Docking station", "219.00")),
    "test": (("Espresso machine", "1349.00"), ("Milk jug", "14.50"), ("Coffee grinder", "289.00"),
             ("Tamper", "32.90"), ("Bean hopper", "19.99"), ("Roaster", "2150.00")),
}
REPS: dict[Split, tuple[str, ...]] = {
    "dev": ("Maria Keller", "Jonas Weber", "Aisha Khan", "Tom Becker", "Lena Novak", "Omar Haddad"),
    "test": ("Sofia Rossi", "Pieter de Vries", "Ines Duarte", "Kai Lindqvist", "Zara Ahmed", "Luca Bianchi"),
}

READ = '''import csv
from decimal import Decimal

orders = []  # (region, sales_rep, product, revenue)
with open("sales.csv", newline="") as f:
    for row in csv.DictReader(f):
        if not row["units"].strip():
            continue
        revenue = int(row["units"]) * Decimal(row["unit_price"].replace(",", ""))
        orders.append((row["region"].strip().title(), row["sales_rep"], row["product"], revenue))
'''


def _messy_region(rng: random.Random, region: str) -> str:
    return rng.choice((region, region, region.lower(), region.upper(), f" {region}", f"{region} "))


def _rows(rng: random.Random, split: Split, count: int) -> tuple[list[list[str]], list[tuple[str, str, str, Decimal]]]:
    regions, products, reps = REGIONS[split], PRODUCTS[split], REPS[split]
    start = date(2024 if split == "dev" else 2025, rng.randint(1, 6), 1)
    rows, orders = [], []
    for n in range(count):
        region, rep = rng.choice(regions), rng.choice(reps)
        product, price = rng.choice(products)
        units = rng.randint(1, 12)
        missing = rng.random() < 0.06
        thousands = Decimal(price) >= 1000 and rng.random() < 0.7
        day = start + timedelta(days=rng.randint(0, 89))
        rows.append([f"SO-{10001 + n}", day.isoformat(), _messy_region(rng, region), rep, product,
                     "" if missing else str(units), money_text(Decimal(price), thousands)])
        if not missing:
            orders.append((region, rep, product, units * Decimal(price)))
    return rows, orders


def generate(rng: random.Random, split: Split, level: Level) -> Problem:
    kind = level.pick(rng, {"total": 1, "median": 2, "top_rep": 2, "spread": 3})
    while True:  # redraw the rare data set whose answer would be ambiguous (a tie)
        rows, orders = _rows(rng, split, ROWS_BY_DIFFICULTY[level.scale])
        region = rng.choice(sorted({o[0] for o in orders}))
        product = rng.choice(sorted({o[2] for o in orders}))
        problem = _question(kind, orders, region, product)
        if problem is not None:
            break
    phrasings, answer_format, expected, code = problem
    context = (
        f"sales.csv is an export of {len(rows)} orders with the columns order_id, order_date, region, sales_rep, "
        "product, units and unit_price; the revenue of an order is units times unit_price. Region names are "
        'written inconsistently (upper or lower case, stray spaces): "north", " NORTH" and "North" are the same '
        "region. Prices of 1,000 or more may contain a comma as thousands separator. Rows with an empty units "
        "value are incomplete: leave them out of every calculation."
    )
    return Problem(
        kind=f"sales_{kind}",
        files={"sales.csv": to_csv(
            ["order_id", "order_date", "region", "sales_rep", "product", "units", "unit_price"], rows)},
        context=context,
        phrasings=phrasings,
        answer_format=answer_format,
        expected=expected,
        solution=READ + code,
        difficulty=level.level,
        human_minutes=level.minutes({1: 8.0, 2: 12.0, 3: 20.0}),
    )


def _question(
    kind: str, orders: list[tuple[str, str, str, Decimal]], region: str, product: str
) -> tuple[tuple[str, ...], str, Expected, str] | None:
    in_region = [o[3] for o in orders if o[0] == region]
    if kind == "total":
        return (
            (f"What is the total revenue of region {region}?",
             f"Add up the revenue of all complete orders from region {region}.",
             f"How much revenue did region {region} bring in, in total?"),
            MONEY_FORMAT, money_answer(sum(in_region, Decimal(0))),
            f'print(f"{{sum(r for g, _, _, r in orders if g == {region!r}):.2f}}")\n',
        )
    if kind == "median":
        return (
            (f"What is the median order revenue in region {region}?",
             f"Take the revenue of each complete order from region {region} and report the median.",
             f"For region {region}, what is the median revenue per order?"),
            MONEY_FORMAT, money_answer(statistics.median(in_region)),
            f'import statistics\nprint(f"{{statistics.median(r for g, _, _, r in orders if g == {region!r}):.2f}}")\n',
        )
    if kind == "top_rep":
        totals: dict[str, Decimal] = {}
        for _, rep, prod, revenue in orders:
            if prod == product:
                totals[rep] = totals.get(rep, Decimal(0)) + revenue
        ranked = sorted(totals.items(), key=lambda kv: kv[1], reverse=True)
        if len(ranked) < 2 or ranked[0][1] == ranked[1][1]:
            return None
        return (
            (f"Which sales rep brought in the most revenue from {product} sales?",
             f"Find the sales rep with the highest total {product} revenue.",
             f"Who sold the most {product} by revenue?"),
            "Answer with the sales rep's full name only, as written in the file.",
            Expected(kind="text", value=ranked[0][0]),
            "totals = {}\nfor _, rep, prod, revenue in orders:\n"
            f"    if prod == {product!r}:\n        totals[rep] = totals.get(rep, 0) + revenue\n"
            "print(max(totals, key=totals.get))\n",
        )
    by_region: dict[str, list[Decimal]] = {}
    for reg, _, _, revenue in orders:
        by_region.setdefault(reg, []).append(revenue)
    means = [sum(v, Decimal(0)) / len(v) for v in by_region.values()]
    return (
        ("Compute the average revenue per order for each region. What is the difference between the highest "
         "and the lowest regional average?",
         "By how much does the best region's average order revenue exceed the worst region's?",
         "What is the spread (highest minus lowest) of the average revenue per order across regions?"),
        MONEY_FORMAT, money_answer(max(means) - min(means)),
        "groups = {}\nfor g, _, _, r in orders:\n    groups.setdefault(g, []).append(r)\n"
        "means = [sum(v) / len(v) for v in groups.values()]\n"
        'print(f"{max(means) - min(means):.2f}")\n',
    )
