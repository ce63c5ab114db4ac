"""Billing library: money rounding, volume discounts, invoices and payment terms."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from arena.types import Split

from ..library import LibrarySpec, Site, SpecTest

INIT = '''\
"""$pkg: invoices with volume discounts, tax and payment terms."""

from .discounts import $apply_discount, $discount_percent
from .invoice import Line, $due_date, $invoice_total, $is_overdue, $line_total, $render_lines
from .money import $format_amount, $to_cents
'''

MONEY = '''\
"""Money helpers: amounts are Decimals, rounded half up to whole cents."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def $to_cents(value: Decimal | int | str) -> Decimal:
    """Round an amount to whole cents; halves are rounded up (away from zero)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def $format_amount(value: Decimal, currency: str = "$currency") -> str:
    """Format an amount with thousands separators and two decimals: "1,234.50 $currency".

    The currency code defaults to $currency, the currency all our invoices use.
    """
    return f"{$to_cents(value):,.2f} {currency}"
'''

DISCOUNTS = '''\
"""Volume discounts: the more units on a line, the larger the discount."""

from __future__ import annotations

from decimal import Decimal

from .money import $to_cents

# (minimum quantity, discount percent): a line gets the best tier whose minimum it reaches
VOLUME_TIERS: tuple[tuple[int, Decimal], ...] = (
    ($t1, Decimal("$t1p")),
    ($t2, Decimal("$t2p")),
    ($t3, Decimal("$t3p")),
)


def $discount_percent(quantity: int, tiers: tuple[tuple[int, Decimal], ...] = VOLUME_TIERS) -> Decimal:
    """Discount percent for a line of `quantity` units: the best tier whose minimum is reached.

    A line of exactly a tier's minimum quantity gets that tier; below every tier there is no
    discount (0).
    """
    reached = [percent for minimum, percent in tiers if quantity >= minimum]
    return max(reached, default=Decimal(0))


def $apply_discount(amount: Decimal, percent: Decimal) -> Decimal:
    """`amount` reduced by `percent` percent, rounded to cents."""
    return $to_cents(amount * (100 - percent) / 100)
'''

INVOICE = '''\
"""Invoices: line totals, tax, printable lines and payment terms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from .discounts import $apply_discount, $discount_percent
from .money import $format_amount, $to_cents


@dataclass(frozen=True)
class Line:
    """One invoice line."""

    description: str
    quantity: int
    unit_price: Decimal


def $line_total(line: Line) -> Decimal:
    """Net amount of one line: quantity times unit price, less its volume discount."""
    gross = line.unit_price * line.quantity
    return $apply_discount(gross, $discount_percent(line.quantity))


def $invoice_total(lines: list[Line], tax_percent: Decimal) -> Decimal:
    """Amount due: the sum of the line totals plus `tax_percent` tax on it, rounded to cents."""
    net = sum(($line_total(line) for line in lines), Decimal(0))
    return $to_cents(net * (100 + tax_percent) / 100)


def $render_lines(lines: list[Line]) -> list[str]:
    """Printable invoice lines, numbered from 1: "1. Widget x 3 = 29.97 $currency"."""
    return [
        f"{number}. {line.description} x {line.quantity} = {$format_amount($line_total(line))}"
        for number, line in enumerate(lines, start=1)
    ]


def $due_date(issued: date, terms_days: int = $terms) -> date:
    """The day payment is due: `terms_days` days after the issue date ($terms unless agreed otherwise)."""
    return issued + timedelta(days=terms_days)


def $is_overdue(issued: date, today: date) -> bool:
    """True once the standard due date has passed; on the due date itself it is not yet overdue."""
    return today > $due_date(issued)
'''

HEADER = '''\
"""Tests for $pkg.$area."""

from datetime import date
from decimal import Decimal

import pytest

'''

HEADERS = {
    "money": HEADER + "from $pkg.money import $format_amount, $to_cents\n",
    "discounts": HEADER + "from $pkg.discounts import $apply_discount, $discount_percent\n",
    "invoice": HEADER + (
        "from $pkg.invoice import Line, $due_date, $invoice_total, $is_overdue, $line_total, $render_lines\n"
    ),
}

SITES = (
    Site(
        "currency_default", "wrong_default", "money.py",
        'def $format_amount(value: Decimal, currency: str = "$currency") -> str:\n',
        'def $format_amount(value: Decimal, currency: str = "$wrong_currency") -> str:\n',
    ),
    Site(
        "tier_minimum", "comparison", "discounts.py",
        "    reached = [percent for minimum, percent in tiers if quantity >= minimum]\n",
        "    reached = [percent for minimum, percent in tiers if quantity > minimum]\n",
    ),
    Site(
        "below_tiers", "missed_edge_case", "discounts.py",
        "    return max(reached, default=Decimal(0))\n",
        "    return max(reached)\n",
    ),
    Site(
        "discount_args", "swapped_args", "invoice.py",
        "    return $apply_discount(gross, $discount_percent(line.quantity))\n",
        "    return $apply_discount($discount_percent(line.quantity), gross)\n",
    ),
    Site(
        "line_numbers", "off_by_one", "invoice.py",
        "        for number, line in enumerate(lines, start=1)\n",
        "        for number, line in enumerate(lines)\n",
    ),
    Site(
        "terms_default", "wrong_default", "invoice.py",
        "def $due_date(issued: date, terms_days: int = $terms) -> date:\n",
        "def $due_date(issued: date, terms_days: int = $wrong_terms) -> date:\n",
    ),
    Site(
        "overdue_day", "comparison", "invoice.py",
        "    return today > $due_date(issued)\n",
        "    return today >= $due_date(issued)\n",
    ),
)

TESTS = (
    SpecTest("money", '''
def test_${to_cents}_rounds_half_up():
    assert $to_cents(Decimal("$half")) == Decimal("$half_up")
    assert $to_cents(Decimal("$below_half")) == Decimal("$below_half_down")
'''),
    SpecTest("money", '''
def test_${format_amount}_default_currency():
    assert $format_amount(Decimal("$big")) == "$big_text $currency"
''', direct=frozenset({"currency_default"})),
    SpecTest("money", '''
def test_${format_amount}_other_currency():
    assert $format_amount(Decimal("$small_amount"), "$other_currency") == "$small_text $other_currency"
'''),
    SpecTest("discounts", '''
def test_${discount_percent}_at_tier_minimum():
    assert $discount_percent($t2) == Decimal("$t2p")
    assert $discount_percent($t3) == Decimal("$t3p")
''', direct=frozenset({"tier_minimum"})),
    SpecTest("discounts", '''
def test_${discount_percent}_between_tiers():
    assert $discount_percent($q_mid) == Decimal("$t2p")
'''),
    SpecTest("discounts", '''
def test_${discount_percent}_below_first_tier():
    assert $discount_percent($q_small) == 0
''', direct=frozenset({"below_tiers"})),
    SpecTest("discounts", '''
def test_${apply_discount}_reduces_amount():
    assert $apply_discount(Decimal("$amount"), Decimal("$t1p")) == Decimal("$amount_after")
'''),
    SpecTest("invoice", '''
def test_${line_total}_applies_volume_discount():
    line = Line("$item1", $q_mid, Decimal("$price1"))
    assert $line_total(line) == Decimal("$mid_total")
''', direct=frozenset({"discount_args"})),
    SpecTest("invoice", '''
def test_${invoice_total}_adds_tax():
    lines = [Line("$item1", $t1, Decimal("$price1")), Line("$item2", $q_small, Decimal("$price2"))]
    assert $invoice_total(lines, Decimal("$tax")) == Decimal("$invoice")
''', indirect=frozenset({"tier_minimum", "below_tiers", "discount_args"})),
    SpecTest("invoice", '''
def test_${render_lines}_numbered_from_one():
    lines = [Line("$item1", 1, Decimal("$price1")), Line("$item2", 2, Decimal("$price2"))]
    assert $render_lines(lines) == [
        "1. $item1 x 1 = $line1_text $currency",
        "2. $item2 x 2 = $line2_text $currency",
    ]
''', direct=frozenset({"line_numbers"}), indirect=frozenset({"currency_default", "below_tiers", "discount_args"})),
    SpecTest("invoice", '''
def test_${due_date}_standard_terms():
    assert $due_date(date($issued)) == date($due)
''', direct=frozenset({"terms_default"})),
    SpecTest("invoice", '''
def test_${due_date}_agreed_terms():
    assert $due_date(date($issued), $agreed) == date($agreed_due)
'''),
    SpecTest("invoice", '''
def test_${is_overdue}_only_after_due_date():
    assert $is_overdue(date($issued), date($due)) is False
    assert $is_overdue(date($issued), date($after_due)) is True
''', direct=frozenset({"overdue_day"}), indirect=frozenset({"terms_default"})),
)

PACKAGES: dict[Split, tuple[str, ...]] = {
    "dev": ("invoicer", "billing_core", "ledgerline", "paydesk", "tallyup"),
    "test": ("billwise", "invoice_kit", "chargebook", "duebook", "accountant_tools"),
}

NAMES = {
    "to_cents": ("to_cents", "round_money", "quantize_cents", "round_to_cents"),
    "format_amount": ("format_amount", "money_text", "format_money", "display_amount"),
    "discount_percent": ("discount_percent", "volume_discount", "tier_discount", "discount_for_quantity"),
    "apply_discount": ("apply_discount", "discounted", "reduce_by_percent", "less_discount"),
    "line_total": ("line_total", "net_line_amount", "line_amount", "line_net"),
    "invoice_total": ("invoice_total", "amount_due", "total_due", "grand_total"),
    "render_lines": ("render_lines", "printable_lines", "format_lines", "invoice_lines"),
    "due_date": ("due_date", "payment_due", "due_on", "payment_deadline"),
    "is_overdue": ("is_overdue", "past_due", "overdue", "payment_late"),
}

ITEMS: dict[Split, tuple[str, ...]] = {
    "dev": ("Consulting hour", "Server rack", "Network switch", "Support plan", "Training day"),
    "test": ("Espresso beans 1kg", "Milk frother", "Paper cups", "Grinder burr set", "Descaler"),
}

CURRENCIES: dict[Split, tuple[str, ...]] = {"dev": ("EUR", "GBP", "DKK"), "test": ("USD", "CHF", "SEK")}
TERMS: dict[Split, tuple[int, ...]] = {"dev": (14, 30), "test": (21, 45, 60)}


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low, high)) / 100


def _iso(day: date) -> str:
    return f"{day.year}, {day.month}, {day.day}"


def values(rng: random.Random, split: Split) -> dict[str, str]:
    t1 = rng.randint(5, 10)
    t2 = t1 + rng.randint(10, 20)
    t3 = t2 + rng.randint(20, 50)
    if split == "dev":
        t1p, t2p, t3p = rng.choice(("2", "2.5", "3")), rng.choice(("5", "7.5")), rng.choice(("10", "12"))
    else:
        t1p, t2p, t3p = rng.choice(("1.5", "4")), rng.choice(("6", "8")), rng.choice(("11", "15"))
    tiers = ((t1, Decimal(t1p)), (t2, Decimal(t2p)), (t3, Decimal(t3p)))
    currency, other, wrong = rng.sample(CURRENCIES[split], 3)
    terms = rng.choice(TERMS[split])
    item1, item2 = rng.sample(ITEMS[split], 2)
    price1, price2 = _money(rng, 150, 49999), _money(rng, 150, 49999)
    q_mid = rng.randint(t2 + 1, t3 - 1)
    q_small = rng.randint(1, t1 - 1)

    def line_total(quantity: int, price: Decimal) -> Decimal:
        percent = max([p for m, p in tiers if quantity >= m], default=Decimal(0))
        return cents(price * quantity * (100 - percent) / 100)

    tax = rng.choice(("19", "20", "21") if split == "dev" else ("7.7", "8.1", "25"))
    net = sum((line_total(t1, price1), line_total(q_small, price2)), Decimal(0))
    half = Decimal(rng.randint(100, 99999)) / 100 + Decimal("0.005")
    big = _money(rng, 100000, 99999999)
    small_amount = _money(rng, 1, 99999)
    amount = _money(rng, 1000, 99999)
    issued = date(2024 if split == "dev" else 2025, rng.randint(1, 12), rng.randint(1, 28))
    agreed = rng.choice([d for d in (7, 10, 15, 28, 90) if d != terms])
    due = issued + timedelta(days=terms)
    return {
        "t1": str(t1), "t2": str(t2), "t3": str(t3), "t1p": t1p, "t2p": t2p, "t3p": t3p,
        "currency": currency, "other_currency": other, "wrong_currency": wrong,
        "terms": str(terms), "wrong_terms": str(rng.choice([d for d in (7, 10, 15, 28, 90) if d != terms])),
        "item1": item1, "item2": item2, "price1": str(price1), "price2": str(price2),
        "q_mid": str(q_mid), "q_small": str(q_small), "tax": tax,
        "mid_total": str(line_total(q_mid, price1)), "invoice": str(cents(net * (100 + Decimal(tax)) / 100)),
        "half": str(half), "half_up": str(cents(half)),
        "below_half": str(half - Decimal("0.001")), "below_half_down": str(cents(half - Decimal("0.001"))),
        "big": str(big), "big_text": f"{cents(big):,.2f}",
        "small_amount": str(small_amount), "small_text": f"{cents(small_amount):,.2f}",
        "amount": str(amount), "amount_after": str(cents(amount * (100 - Decimal(t1p)) / 100)),
        "line1_text": f"{line_total(1, price1):,.2f}", "line2_text": f"{line_total(2, price2):,.2f}",
        "issued": _iso(issued), "due": _iso(due), "after_due": _iso(due + timedelta(days=1)),
        "agreed": str(agreed), "agreed_due": _iso(issued + timedelta(days=agreed)),
    }


SPEC = LibrarySpec(
    template="billing",
    summary="a small billing library (money rounding, volume discounts, invoice totals, payment terms)",
    packages=PACKAGES,
    names=NAMES,
    modules={"__init__.py": INIT, "money.py": MONEY, "discounts.py": DISCOUNTS, "invoice.py": INVOICE},
    headers={area: text.replace("$area", area) for area, text in HEADERS.items()},
    sites=SITES,
    tests=TESTS,
    values=values,
    conflicts=(("terms_default", "overdue_day"),),
)
