"""Inventory library: stock levels and reorders, FIFO batch allocation, valuation, reports."""

from __future__ import annotations

import random
from datetime import date, timedelta

from arena.types import Split

from ..library import LibrarySpec, Site, SpecTest

INIT = '''\
"""$pkg: stock levels and reorders, FIFO batch allocation, stock valuation and reports."""

from .batches import $allocate, $expired
from .models import Batch, InsufficientStock, StockItem
from .report import $reorder_lines, $shipment_summary
from .stock import $fill_rate, $needs_reorder, $reorder_qty
from .valuation import $average_cost, $stock_value
'''

MODELS = '''\
"""Records shared by the $pkg modules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class StockItem:
    """One stock-keeping unit (SKU) and its current stock level."""

    sku: str
    name: str
    on_hand: int
    reorder_point: int
    unit_cost: float


@dataclass(frozen=True)
class Batch:
    """One delivery of goods; stock is consumed oldest delivery first."""

    batch_id: str
    quantity: int
    received: date


class InsufficientStock(Exception):
    """Raised when more units are requested than the batches hold."""
'''

STOCK = '''\
"""Stock levels: when to reorder and how much."""

from __future__ import annotations

from .models import StockItem


def $needs_reorder(item: StockItem) -> bool:
    """True when the item has fallen to or below its reorder point."""
    return item.on_hand <= item.reorder_point


def $reorder_qty(item: StockItem, target_level: int, pack_size: int = $pack) -> int:
    """Units to order to bring `item` back up to `target_level`, in whole packs.

    The shortfall is rounded up to whole packs of `pack_size` units ($pack, one standard case,
    unless given). Nothing is ordered when the item is already at or above the target level.
    """
    shortfall = target_level - item.on_hand
    if shortfall <= 0:
        return 0
    packs = -(-shortfall // pack_size)  # ceiling division
    return packs * pack_size


def $fill_rate(shipped: int, ordered: int) -> float:
    """Share of the ordered units that were shipped, in percent, rounded to one decimal.

    An order for zero units counts as completely filled (100.0).
    """
    if ordered == 0:
        return 100.0
    return round(100.0 * shipped / ordered, 1)
'''

BATCHES = '''\
"""Allocating orders from delivery batches, oldest delivery first (FIFO)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from .models import Batch, InsufficientStock


def $allocate(batches: Iterable[Batch], quantity: int) -> list[tuple[str, int]]:
    """Take `quantity` units from `batches`, oldest delivery first.

    Returns (batch_id, units taken) pairs in the order taken. Raises InsufficientStock when the
    batches together hold fewer than `quantity` units; asking for exactly what is there is fine.
    """
    batches = list(batches)
    available = sum(batch.quantity for batch in batches)
    if quantity > available:
        raise InsufficientStock(f"need {quantity} units, only {available} in stock")
    picks: list[tuple[str, int]] = []
    for batch in sorted(batches, key=lambda b: b.received):
        if quantity <= 0:
            break
        take = min(batch.quantity, quantity)
        picks.append((batch.batch_id, take))
        quantity -= take
    return picks


def $expired(batches: Iterable[Batch], today: date, shelf_life_days: int) -> list[str]:
    """IDs of the batches past their shelf life on `today`, oldest first.

    A batch received on day D with a shelf life of N days expires on day D + N: on that day it
    is already expired.
    """
    out = []
    for batch in sorted(batches, key=lambda b: b.received):
        age = (today - batch.received).days
        if age >= shelf_life_days:
            out.append(batch.batch_id)
    return out
'''

VALUATION = '''\
"""What the stock on the shelves is worth."""

from __future__ import annotations

from collections.abc import Iterable

from .models import StockItem


def $stock_value(items: Iterable[StockItem]) -> float:
    """Total value of the stock on hand (units times unit cost), rounded to cents."""
    return round(sum(item.on_hand * item.unit_cost for item in items), 2)


def $average_cost(items: Iterable[StockItem]) -> float:
    """Unit cost averaged over all units on hand (weighted by units), rounded to cents.

    Returns 0.0 when nothing is on hand.
    """
    items = list(items)
    units = sum(item.on_hand for item in items)
    if units == 0:
        return 0.0
    return round(sum(item.on_hand * item.unit_cost for item in items) / units, 2)
'''

REPORT = '''\
"""Plain-text reports for the purchasing team."""

from __future__ import annotations

from collections.abc import Iterable

from .models import StockItem
from .stock import $fill_rate, $needs_reorder, $reorder_qty


def $reorder_lines(items: Iterable[StockItem], target_level: int) -> list[str]:
    """One line per item that needs reordering, "SKU: order N", sorted by SKU.

    Quantities use the standard pack size.
    """
    lines = []
    for item in sorted(items, key=lambda i: i.sku):
        if $needs_reorder(item):
            lines.append(f"{item.sku}: order {$reorder_qty(item, target_level)}")
    return lines


def $shipment_summary(order_lines: Iterable[tuple[str, int, int]]) -> dict[str, float]:
    """Fill rate (percent shipped) per SKU from (sku, ordered, shipped) order lines."""
    return {sku: $fill_rate(shipped, ordered) for sku, ordered, shipped in order_lines}
'''

HEADER = '''\
"""Tests for $pkg.$area."""

from datetime import date

import pytest

'''

HEADERS = {
    "stock": HEADER + "from $pkg.models import StockItem\nfrom $pkg.stock import $fill_rate, $needs_reorder, "
    "$reorder_qty\n",
    "batches": HEADER + "from $pkg.batches import $allocate, $expired\nfrom $pkg.models import Batch, "
    "InsufficientStock\n",
    "valuation": HEADER + "from $pkg.models import StockItem\nfrom $pkg.valuation import $average_cost, $stock_value\n",
    "report": HEADER + "from $pkg.models import StockItem\nfrom $pkg.report import $reorder_lines, $shipment_summary\n",
}

SITES = (
    Site(
        "reorder_at_point", "comparison", "stock.py",
        "    return item.on_hand <= item.reorder_point\n",
        "    return item.on_hand < item.reorder_point\n",
    ),
    Site(
        "whole_packs", "off_by_one", "stock.py",
        "    packs = -(-shortfall // pack_size)  # ceiling division\n",
        "    packs = shortfall // pack_size + 1  # ceiling division\n",
    ),
    Site(
        "pack_default", "wrong_default", "stock.py",
        "def $reorder_qty(item: StockItem, target_level: int, pack_size: int = $pack) -> int:\n",
        "def $reorder_qty(item: StockItem, target_level: int, pack_size: int = 1) -> int:\n",
    ),
    Site(
        "empty_order", "missed_edge_case", "stock.py",
        "    if ordered == 0:\n        return 100.0\n    return round(100.0 * shipped / ordered, 1)\n",
        "    return round(100.0 * shipped / ordered, 1)\n",
    ),
    Site(
        "allocate_all", "comparison", "batches.py",
        "    if quantity > available:\n",
        "    if quantity >= available:\n",
    ),
    Site(
        "expiry_day", "comparison", "batches.py",
        "        if age >= shelf_life_days:\n",
        "        if age > shelf_life_days:\n",
    ),
    Site(
        "no_stock", "missed_edge_case", "valuation.py",
        "    units = sum(item.on_hand for item in items)\n    if units == 0:\n        return 0.0\n",
        "    units = sum(item.on_hand for item in items)\n",
    ),
    Site(
        "fill_args", "swapped_args", "report.py",
        "    return {sku: $fill_rate(shipped, ordered) for",
        "    return {sku: $fill_rate(ordered, shipped) for",
    ),
)

TESTS = (
    SpecTest("stock", '''
def test_${needs_reorder}_at_reorder_point():
    item = StockItem("$sku1", "$name1", on_hand=$rp, reorder_point=$rp, unit_cost=$cost1)
    assert $needs_reorder(item) is True
''', direct=frozenset({"reorder_at_point"})),
    SpecTest("stock", '''
def test_${needs_reorder}_below_and_above():
    low = StockItem("$sku1", "$name1", on_hand=$rp_low, reorder_point=$rp, unit_cost=$cost1)
    high = StockItem("$sku1", "$name1", on_hand=$rp_high, reorder_point=$rp, unit_cost=$cost1)
    assert $needs_reorder(low) is True
    assert $needs_reorder(high) is False
'''),
    SpecTest("stock", '''
def test_${reorder_qty}_exact_number_of_packs():
    item = StockItem("$sku2", "$name2", on_hand=$q_on_hand, reorder_point=$rp, unit_cost=$cost2)
    assert $reorder_qty(item, $q_target_exact, pack_size=$p2) == $q_exact
''', direct=frozenset({"whole_packs"})),
    SpecTest("stock", '''
def test_${reorder_qty}_rounds_up_to_whole_packs():
    item = StockItem("$sku2", "$name2", on_hand=$q_on_hand, reorder_point=$rp, unit_cost=$cost2)
    assert $reorder_qty(item, $q_target_round, pack_size=$p2) == $q_round
'''),
    SpecTest("stock", '''
def test_${reorder_qty}_uses_standard_pack():
    item = StockItem("$sku2", "$name2", on_hand=$q_on_hand, reorder_point=$rp, unit_cost=$cost2)
    assert $reorder_qty(item, $q_target_default) == $q_default
''', direct=frozenset({"pack_default"})),
    SpecTest("stock", '''
def test_${reorder_qty}_nothing_when_stocked():
    item = StockItem("$sku2", "$name2", on_hand=$q_target_default, reorder_point=$rp, unit_cost=$cost2)
    assert $reorder_qty(item, $q_target_default) == 0
    assert $reorder_qty(item, $q_on_hand, pack_size=$p2) == 0
'''),
    SpecTest("stock", '''
def test_${fill_rate}_partial_shipment():
    assert $fill_rate($shipped, $ordered) == $rate
'''),
    SpecTest("stock", '''
def test_${fill_rate}_empty_order_is_filled():
    assert $fill_rate(0, 0) == 100.0
''', direct=frozenset({"empty_order"})),
    SpecTest("batches", '''
def test_${allocate}_takes_oldest_first():
    batches = [Batch("$b_new", $bq_new, date($d_new)), Batch("$b_old", $bq_old, date($d_old))]
    assert $allocate(batches, $take) == [("$b_old", $bq_old), ("$b_new", $take_rest)]
'''),
    SpecTest("batches", '''
def test_${allocate}_exactly_all_stock():
    batches = [Batch("$b_new", $bq_new, date($d_new)), Batch("$b_old", $bq_old, date($d_old))]
    assert $allocate(batches, $total) == [("$b_old", $bq_old), ("$b_new", $bq_new)]
''', direct=frozenset({"allocate_all"})),
    SpecTest("batches", '''
def test_${allocate}_refuses_more_than_stock():
    batches = [Batch("$b_new", $bq_new, date($d_new)), Batch("$b_old", $bq_old, date($d_old))]
    with pytest.raises(InsufficientStock):
        $allocate(batches, $total_plus)
'''),
    SpecTest("batches", '''
def test_${expired}_on_expiry_day():
    batches = [Batch("$b_new", 5, date($d_new)), Batch("$b_old", 5, date($d_old))]
    assert $expired(batches, date($expiry_day), $shelf) == ["$b_old"]
''', direct=frozenset({"expiry_day"})),
    SpecTest("batches", '''
def test_${expired}_nothing_before_expiry():
    batches = [Batch("$b_new", 5, date($d_new)), Batch("$b_old", 5, date($d_old))]
    assert $expired(batches, date($day_before_expiry), $shelf) == []
'''),
    SpecTest("valuation", '''
def test_${stock_value}_units_times_cost():
    items = [
        StockItem("$sku1", "$name1", on_hand=$v1, reorder_point=$rp, unit_cost=$c1),
        StockItem("$sku2", "$name2", on_hand=$v2, reorder_point=$rp, unit_cost=$c2),
    ]
    assert $stock_value(items) == $value
'''),
    SpecTest("valuation", '''
def test_${average_cost}_weighted_by_units():
    items = [
        StockItem("$sku1", "$name1", on_hand=$v1, reorder_point=$rp, unit_cost=$c1),
        StockItem("$sku2", "$name2", on_hand=$v2, reorder_point=$rp, unit_cost=$c2),
    ]
    assert $average_cost(items) == $avg
'''),
    SpecTest("valuation", '''
def test_${average_cost}_without_stock():
    items = [StockItem("$sku1", "$name1", on_hand=0, reorder_point=$rp, unit_cost=$c1)]
    assert $average_cost(items) == 0.0
    assert $average_cost([]) == 0.0
''', direct=frozenset({"no_stock"})),
    SpecTest("report", '''
def test_${reorder_lines}_lists_items_to_order():
    items = [
        StockItem("$r_sku_b", "$name1", on_hand=$ra_on, reorder_point=$ra_on, unit_cost=$cost1),
        StockItem("$r_sku_a", "$name2", on_hand=$rb_on, reorder_point=$rb_rp, unit_cost=$cost2),
        StockItem("$r_sku_c", "$name3", on_hand=$rc_on, reorder_point=$rc_rp, unit_cost=$cost1),
    ]
    assert $reorder_lines(items, $r_target) == ["$r_sku_a: order $rb_qty", "$r_sku_b: order $ra_qty"]
''', indirect=frozenset({"reorder_at_point", "whole_packs", "pack_default"})),
    SpecTest("report", '''
def test_${shipment_summary}_per_sku():
    lines = [("$s_sku1", $ordered, $shipped), ("$s_sku2", 0, 0)]
    assert $shipment_summary(lines) == {"$s_sku1": $rate, "$s_sku2": 100.0}
''', direct=frozenset({"fill_args"}), indirect=frozenset({"empty_order"})),
)

PACKAGES: dict[Split, tuple[str, ...]] = {
    "dev": ("stockroom", "warehouse_kit", "stockkeeper", "shelfwise", "inventra"),
    "test": ("depot", "storehouse", "binmaster", "stocktake", "pallet_tools"),
}

NAMES = {
    "needs_reorder": ("needs_reorder", "is_below_reorder_point", "should_reorder", "reorder_due"),
    "reorder_qty": ("reorder_quantity", "units_to_order", "order_quantity", "replenish_quantity"),
    "fill_rate": ("fill_rate", "fill_percentage", "fulfilment_rate", "shipped_share"),
    "allocate": ("allocate_fifo", "pick_from_batches", "allocate", "take_oldest_first"),
    "expired": ("expired_batches", "batches_past_shelf_life", "find_expired", "stale_batches"),
    "stock_value": ("stock_value", "inventory_value", "value_on_hand", "total_stock_value"),
    "average_cost": ("average_unit_cost", "weighted_unit_cost", "mean_unit_cost", "blended_unit_cost"),
    "reorder_lines": ("reorder_report", "purchase_suggestions", "reorder_lines", "restock_report"),
    "shipment_summary": ("fill_rates_by_sku", "shipment_summary", "fill_report", "sku_fill_rates"),
}

PRODUCTS: dict[Split, tuple[str, ...]] = {
    "dev": ("Hex bolt M8", "Cable tie 200mm", "Wood screw 4x40", "Wall plug 6mm", "Washer M10", "Hinge 75mm"),
    "test": ("Copy paper A4", "Toner cartridge", "Stapler", "Ring binder", "Sticky notes", "Ballpoint pen"),
}


def _iso(day: date) -> str:
    return f"{day.year}, {day.month}, {day.day}"


def values(rng: random.Random, split: Split) -> dict[str, str]:
    prefix = "SKU" if split == "dev" else "ITM"
    skus = [f"{prefix}-{n}" for n in rng.sample(range(1000, 9999), 7)]
    names = rng.sample(PRODUCTS[split], 3)
    pack = rng.choice((6, 10, 12) if split == "dev" else (8, 20, 24))
    p2 = rng.choice([p for p in (4, 5, 9, 15, 16) if p != pack])
    rp = rng.randint(10, 40)
    q_on_hand = rng.randint(0, rp)
    k = rng.randint(1, 4)
    q_target_round = q_on_hand + k * p2 + rng.randint(1, p2 - 1)
    q_target_default = q_on_hand + rng.randint(1, 3) * pack + rng.randint(1, pack - 1)
    ordered = rng.randint(8, 200)
    shipped = rng.randint(1, ordered - 1)
    bq_old, bq_new = rng.randint(5, 60), rng.randint(5, 60)
    d_old = date(2024 if split == "dev" else 2025, rng.randint(1, 6), rng.randint(1, 28))
    d_new = d_old + timedelta(days=rng.randint(3, 20))
    shelf = rng.randint(30, 120)
    v1, v2 = rng.randint(1, 90), rng.randint(1, 90)
    c1, c2 = rng.randint(50, 9999) / 100, rng.randint(50, 9999) / 100
    r_target = rng.randint(60, 120)
    ra_on = r_target - rng.randint(1, 2) * pack  # at its reorder point, shortfall in whole packs
    rb_rp = rng.randint(20, 40)
    rb_on = rng.choice([n for n in range(rb_rp) if (r_target - n) % pack])  # a shortfall to round up
    r_skus = sorted(skus[3:6])
    return {
        "sku1": skus[0], "sku2": skus[1], "name1": names[0], "name2": names[1], "name3": names[2],
        "cost1": repr(c1), "cost2": repr(c2), "pack": str(pack), "p2": str(p2),
        "rp": str(rp), "rp_low": str(rng.randint(0, rp - 1)), "rp_high": str(rp + rng.randint(1, 30)),
        "q_on_hand": str(q_on_hand), "q_target_exact": str(q_on_hand + k * p2), "q_exact": str(k * p2),
        "q_target_round": str(q_target_round), "q_round": str(-(-(q_target_round - q_on_hand) // p2) * p2),
        "q_target_default": str(q_target_default),
        "q_default": str(-(-(q_target_default - q_on_hand) // pack) * pack),
        "ordered": str(ordered), "shipped": str(shipped), "rate": repr(round(100.0 * shipped / ordered, 1)),
        "b_old": f"B{d_old:%y%m%d}-{rng.randint(1, 9)}", "b_new": f"B{d_new:%y%m%d}-{rng.randint(1, 9)}",
        "bq_old": str(bq_old), "bq_new": str(bq_new), "d_old": _iso(d_old), "d_new": _iso(d_new),
        "take": str(bq_old + bq_new // 2), "take_rest": str(bq_new // 2),
        "total": str(bq_old + bq_new), "total_plus": str(bq_old + bq_new + rng.randint(1, 5)),
        "shelf": str(shelf), "expiry_day": _iso(d_old + timedelta(days=shelf)),
        "day_before_expiry": _iso(d_old + timedelta(days=shelf - 1)),
        "v1": str(v1), "v2": str(v2), "c1": repr(c1), "c2": repr(c2),
        "value": repr(round(sum([v1 * c1, v2 * c2]), 2)),
        "avg": repr(round(sum([v1 * c1, v2 * c2]) / (v1 + v2), 2)),
        "r_sku_a": r_skus[0], "r_sku_b": r_skus[1], "r_sku_c": r_skus[2], "r_target": str(r_target),
        "ra_on": str(ra_on), "ra_qty": str(r_target - ra_on),
        "rb_on": str(rb_on), "rb_rp": str(rb_rp), "rb_qty": str(-(-(r_target - rb_on) // pack) * pack),
        "rc_rp": str(rng.randint(5, 30)), "rc_on": str(rng.randint(31, 80)),
        "s_sku1": skus[6], "s_sku2": skus[2],
    }


SPEC = LibrarySpec(
    template="inventory",
    summary="a small inventory library (stock levels and reorders, FIFO batch allocation, valuation, reports)",
    packages=PACKAGES,
    names=NAMES,
    modules={
        "__init__.py": INIT, "models.py": MODELS, "stock.py": STOCK, "batches.py": BATCHES,
        "valuation.py": VALUATION, "report.py": REPORT,
    },
    headers={area: text.replace("$area", area) for area, text in HEADERS.items()},
    sites=SITES,
    tests=TESTS,
    values=values,
    conflicts=(("pack_default", "whole_packs"),),
)
