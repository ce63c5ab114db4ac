"""Orders joined with customers: counts, totals per segment and month, best customer per country."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from decimal import Decimal

from arena.types import Split

from ..answers import Expected
from ..common import INTEGER_FORMAT, MONEY_FORMAT, ROWS_BY_DIFFICULTY, Level, Problem, money_answer, money_text, to_csv

COUNTRIES: dict[Split, tuple[str, ...]] = {
    "dev": ("Germany", "France", "Spain", "Portugal", "Poland"),
    "test": ("Canada", "Mexico", "Chile", "Brazil", "Peru"),
}
FIRST: dict[Split, tuple[str, ...]] = {
    "dev": ("Anna", "Ben", "Clara", "David", "Elif", "Felix", "Greta", "Hugo", "Ida", "Jan", "Karin", "Leo"),
    "test": ("Ana", "Bruno", "Camila", "Diego", "Elena", "Fabio", "Gabriela", "Hector", "Isabel", "Joao", "Lucia"),
}
LAST: dict[Split, tuple[str, ...]] = {
    "dev": ("Schmidt", "Martin", "Garcia", "Silva", "Kowalski", "Dubois", "Fischer", "Moreau"),
    "test": ("Tremblay", "Hernandez", "Rojas", "Souza", "Quispe", "Gagnon", "Lopez", "Pereira"),
}
SEGMENTS = ("retail", "wholesale", "online")
STATUSES = ("completed", "Completed", "COMPLETED", "completed", "refunded", "Cancelled")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")

READ = '''import csv
import json
from decimal import Decimal

customers = {c["customer_id"]: c for c in json.load(open("customers.json"))}
orders = []  # (customer record, order date "YYYY-MM-DD", amount) of completed orders
with open("orders.csv", newline="") as f:
    for row in csv.DictReader(f):
        if row["status"].strip().lower() == "completed":
            customer = customers[row["customer_id"].strip().upper()]
            orders.append((customer, row["order_date"], Decimal(row["amount"].replace(",", ""))))
'''

Order = tuple[dict[str, str], date, Decimal]


def _customers(rng: random.Random, split: Split, count: int) -> list[dict[str, str]]:
    names = rng.sample([f"{f} {last}" for f in FIRST[split] for last in LAST[split]], count)
    return [
        {"customer_id": f"C{100 + i:03d}", "name": name, "country": rng.choice(COUNTRIES[split]),
         "segment": rng.choice(SEGMENTS)}
        for i, name in enumerate(names)
    ]


def generate(rng: random.Random, split: Split, level: Level) -> Problem:
    kind = level.pick(rng, {"count": 1, "segment_month": 2, "best_customer": 3})
    year = 2024 if split == "dev" else 2025
    while True:
        customers = _customers(rng, split, {1: 10, 2: 18, 3: 30}[level.scale])
        rows, completed = [], []
        for n in range(ROWS_BY_DIFFICULTY[level.scale]):
            customer = rng.choice(customers)
            day = date(year, 1, 1) + timedelta(days=rng.randint(0, 364))
            amount = Decimal(rng.randint(500, 450000)) / 100
            status = rng.choice(STATUSES)
            cid = customer["customer_id"] if rng.random() < 0.85 else customer["customer_id"].lower()
            rows.append([f"O-{5001 + n}", cid, day.isoformat(), money_text(amount, rng.random() < 0.5), status])
            if status.lower() == "completed":
                completed.append((customer, day, amount))
        problem = _question(kind, rng, completed, year)
        if problem is not None:
            break
    phrasings, answer_format, expected, code = problem
    context = (
        "customers.json lists the customers (customer_id, name, country, segment); orders.csv lists orders "
        "(order_id, customer_id, order_date, amount, status). Join them on customer_id; some customer ids in "
        'orders.csv are written in lower case ("c104" is customer "C104"). Only orders whose status is '
        '"completed" count, in any letter case; refunded and cancelled orders do not. Amounts may contain a '
        "comma as thousands separator."
    )
    return Problem(
        kind=f"orders_{kind}",
        files={
            "customers.json": json.dumps(customers, indent=2) + "\n",
            "orders.csv": to_csv(["order_id", "customer_id", "order_date", "amount", "status"], rows),
        },
        context=context,
        phrasings=phrasings,
        answer_format=answer_format,
        expected=expected,
        solution=READ + code,
        difficulty=level.level,
        human_minutes=level.minutes({1: 8.0, 2: 15.0, 3: 25.0}),
    )


def _question(
    kind: str, rng: random.Random, completed: list[Order], year: int
) -> tuple[tuple[str, ...], str, Expected, str] | None:
    country = rng.choice(sorted({c["country"] for c, _, _ in completed}))
    if kind == "count":
        count = sum(1 for c, _, _ in completed if c["country"] == country)
        return (
            (f"How many completed orders were placed by customers from {country}?",
             f"Count the completed orders of customers located in {country}.",
             f"What is the number of completed orders from {country}-based customers?"),
            INTEGER_FORMAT, Expected(kind="integer", value=count),
            f'print(sum(1 for c, _, _ in orders if c["country"] == {country!r}))\n',
        )
    if kind == "segment_month":
        segment, month = rng.choice(SEGMENTS), rng.randint(1, 12)
        total = sum((a for c, d, a in completed if c["segment"] == segment and d.month == month), Decimal(0))
        if total == 0:
            return None
        prefix = f"{year}-{month:02d}"
        return (
            (f"What was the total amount of completed orders from {segment} customers in {MONTHS[month - 1]} "
             f"{year}?",
             f"Sum the amounts of completed orders placed in {MONTHS[month - 1]} {year} by customers of the "
             f"{segment} segment.",
             f"How much did {segment}-segment customers spend on completed orders during {MONTHS[month - 1]} "
             f"{year}?"),
            MONEY_FORMAT, money_answer(total),
            f'total = sum(a for c, d, a in orders if c["segment"] == {segment!r} and d.startswith({prefix!r}))\n'
            'print(f"{total:.2f}")\n',
        )
    quarter = rng.randint(1, 4)
    totals: dict[str, Decimal] = {}
    for c, d, a in completed:
        if c["country"] == country and (d.month - 1) // 3 + 1 == quarter:
            totals[c["name"]] = totals.get(c["name"], Decimal(0)) + a
    ranked = sorted(totals.items(), key=lambda kv: kv[1], reverse=True)
    if len(ranked) < 2 or ranked[0][1] == ranked[1][1]:
        return None
    months = {1: (1, 3), 2: (4, 6), 3: (7, 9), 4: (10, 12)}[quarter]
    return (
        (f"Which customer from {country} spent the most on completed orders in Q{quarter} {year} "
         f"({MONTHS[months[0] - 1]} to {MONTHS[months[1] - 1]})?",
         f"Among customers in {country}, who has the highest total of completed orders placed in Q{quarter} "
         f"{year}, i.e. {MONTHS[months[0] - 1]} through {MONTHS[months[1] - 1]}?",
         f"Find the biggest {country} customer by completed-order amount in Q{quarter} {year} "
         f"({MONTHS[months[0] - 1]}-{MONTHS[months[1] - 1]})."),
        "Answer with the customer's name only, as written in customers.json.",
        Expected(kind="text", value=ranked[0][0]),
        "totals = {}\nfor c, d, a in orders:\n"
        f'    if c["country"] == {country!r} and {months[0]} <= int(d[5:7]) <= {months[1]}:\n'
        '        totals[c["name"]] = totals.get(c["name"], 0) + a\n'
        "print(max(totals, key=totals.get))\n",
    )
