"""Scheduling library: inclusive date ranges, working days and room bookings."""

from __future__ import annotations

import random
from datetime import date, timedelta

from arena.types import Split

from ..library import LibrarySpec, Site, SpecTest

INIT = '''\
"""$pkg: inclusive date ranges, working-day arithmetic and room bookings."""

from .bookings import $is_free, $occupancy, $working_days_booked
from .ranges import DateRange, $length, $merge, $overlaps
from .workdays import $add_workdays, $count_workdays, $is_workday, $workdays_in
'''

RANGES = '''\
"""Inclusive date ranges: length, overlap and merging."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True, order=True)
class DateRange:
    """A span of days; both `start` and `end` belong to it."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"range ends before it starts: {self.start} > {self.end}")


def $length(span: DateRange) -> int:
    """Number of days in the range, counting both ends (a one-day range has length 1)."""
    return (span.end - span.start).days + 1


def $overlaps(a: DateRange, b: DateRange) -> bool:
    """True when the ranges share at least one day; ranges that meet on one day overlap."""
    return a.start <= b.end and b.start <= a.end


def $merge(spans: list[DateRange]) -> list[DateRange]:
    """Merge overlapping or back-to-back ranges, sorted by start; an empty list gives [].

    Back to back means one range starts the day after the other ends.
    """
    if not spans:
        return []
    ordered = sorted(spans)
    merged = [ordered[0]]
    for span in ordered[1:]:
        last = merged[-1]
        if span.start <= last.end + timedelta(days=1):
            merged[-1] = DateRange(last.start, max(last.end, span.end))
        else:
            merged.append(span)
    return merged
'''

WORKDAYS = '''\
"""Working days: Monday to Friday, minus public holidays."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta

from .ranges import DateRange

WEEKEND = (5, 6)  # Saturday and Sunday, in date.weekday() numbering


def $is_workday(day: date, holidays: Collection[date] = (), weekend: tuple[int, ...] = WEEKEND) -> bool:
    """True for a working day: not a weekend day (Saturday and Sunday by default), not a holiday."""
    return day.weekday() not in weekend and day not in holidays


def $count_workdays(start: date, end: date, holidays: Collection[date] = ()) -> int:
    """Working days from `start` to `end`, both included; 0 when `end` is before `start`."""
    count = 0
    day = start
    while day <= end:
        if $is_workday(day, holidays):
            count += 1
        day += timedelta(days=1)
    return count


def $workdays_in(span: DateRange, holidays: Collection[date] = ()) -> int:
    """Working days within a date range, both ends included."""
    return $count_workdays(span.start, span.end, holidays)


def $add_workdays(start: date, days: int, holidays: Collection[date] = ()) -> date:
    """The date `days` working days after `start` (`start` itself does not count)."""
    day = start
    while days > 0:
        day += timedelta(days=1)
        if $is_workday(day, holidays):
            days -= 1
    return day
'''

BOOKINGS = '''\
"""Room bookings: availability, occupancy and booked working days."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from .ranges import DateRange, $length, $merge, $overlaps
from .workdays import $workdays_in


def $is_free(bookings: list[DateRange], wanted: DateRange) -> bool:
    """True when `wanted` shares no day with any existing booking."""
    return not any($overlaps(booking, wanted) for booking in bookings)


def $occupancy(bookings: list[DateRange], period: DateRange) -> float:
    """Percentage of the days of `period` that are booked, rounded to one decimal.

    Days booked twice count once; booked days outside the period are ignored.
    """
    booked = 0
    for span in $merge(bookings):
        start, end = max(span.start, period.start), min(span.end, period.end)
        if start <= end:
            booked += $length(DateRange(start, end))
    return round(100.0 * booked / $length(period), 1)


def $working_days_booked(bookings: list[DateRange], holidays: Collection[date] = ()) -> int:
    """Working days covered by the bookings, each day counted once."""
    return sum($workdays_in(span, holidays) for span in $merge(bookings))
'''

HEADER = '''\
"""Tests for $pkg.$area."""

from datetime import date

import pytest

'''

HEADERS = {
    "ranges": HEADER + "from $pkg.ranges import DateRange, $length, $merge, $overlaps\n",
    "workdays": HEADER + (
        "from $pkg.ranges import DateRange\nfrom $pkg.workdays import $add_workdays, $count_workdays, "
        "$is_workday, $workdays_in\n"
    ),
    "bookings": HEADER + (
        "from $pkg.bookings import $is_free, $occupancy, $working_days_booked\nfrom $pkg.ranges import DateRange\n"
    ),
}

SITES = (
    Site(
        "both_ends", "off_by_one", "ranges.py",
        "    return (span.end - span.start).days + 1\n",
        "    return (span.end - span.start).days\n",
    ),
    Site(
        "touching_overlap", "comparison", "ranges.py",
        "    return a.start <= b.end and b.start <= a.end\n",
        "    return a.start < b.end and b.start < a.end\n",
    ),
    Site(
        "merge_empty", "missed_edge_case", "ranges.py",
        "    if not spans:\n        return []\n    ordered = sorted(spans)\n",
        "    ordered = sorted(spans)\n",
    ),
    Site(
        "back_to_back", "off_by_one", "ranges.py",
        "        if span.start <= last.end + timedelta(days=1):\n",
        "        if span.start <= last.end:\n",
    ),
    Site(
        "weekend_default", "wrong_default", "workdays.py",
        "holidays: Collection[date] = (), weekend: tuple[int, ...] = WEEKEND) -> bool:\n",
        "holidays: Collection[date] = (), weekend: tuple[int, ...] = (6,)) -> bool:\n",
    ),
    Site(
        "last_day", "comparison", "workdays.py",
        "    while day <= end:\n",
        "    while day < end:\n",
    ),
    Site(
        "span_args", "swapped_args", "workdays.py",
        "    return $count_workdays(span.start, span.end, holidays)\n",
        "    return $count_workdays(span.end, span.start, holidays)\n",
    ),
)

TESTS = (
    SpecTest("ranges", '''
def test_${length}_counts_both_ends():
    assert $length(DateRange(date($d0), date($d0_plus_k))) == $k_plus_1
    assert $length(DateRange(date($d0), date($d0))) == 1
''', direct=frozenset({"both_ends"})),
    SpecTest("ranges", '''
def test_${overlaps}_when_ranges_meet_on_one_day():
    first = DateRange(date($d0), date($d0_plus_3))
    second = DateRange(date($d0_plus_3), date($d0_plus_7))
    assert $overlaps(first, second) is True
    assert $overlaps(second, first) is True
''', direct=frozenset({"touching_overlap"})),
    SpecTest("ranges", '''
def test_${overlaps}_false_for_separate_ranges():
    first = DateRange(date($d0), date($d0_plus_3))
    assert $overlaps(first, DateRange(date($d0_plus_4), date($d0_plus_7))) is False
'''),
    SpecTest("ranges", '''
def test_${merge}_joins_back_to_back_ranges():
    spans = [DateRange(date($d0_plus_4), date($d0_plus_7)), DateRange(date($d0), date($d0_plus_3))]
    assert $merge(spans) == [DateRange(date($d0), date($d0_plus_7))]
''', direct=frozenset({"back_to_back"})),
    SpecTest("ranges", '''
def test_${merge}_overlapping_and_separate():
    spans = [
        DateRange(date($d0_plus_10), date($d0_plus_12)),
        DateRange(date($d0), date($d0_plus_4)),
        DateRange(date($d0_plus_2), date($d0_plus_6)),
    ]
    assert $merge(spans) == [DateRange(date($d0), date($d0_plus_6)), DateRange(date($d0_plus_10), date($d0_plus_12))]
'''),
    SpecTest("ranges", '''
def test_${merge}_of_nothing():
    assert $merge([]) == []
''', direct=frozenset({"merge_empty"})),
    SpecTest("workdays", '''
def test_${is_workday}_weekend_and_holiday():
    assert $is_workday(date($monday)) is True
    assert $is_workday(date($saturday)) is False
    assert $is_workday(date($sunday)) is False
    assert $is_workday(date($holiday), holidays={date($holiday)}) is False
''', direct=frozenset({"weekend_default"})),
    SpecTest("workdays", '''
def test_${count_workdays}_includes_last_day():
    assert $count_workdays(date($monday), date($friday)) == 5
''', direct=frozenset({"last_day"})),
    SpecTest("workdays", '''
def test_${count_workdays}_skips_weekends_and_holidays():
    assert $count_workdays(date($monday), date($sunday_next), holidays={date($holiday)}) == 9
''', direct=frozenset({"weekend_default"})),
    SpecTest("workdays", '''
def test_${count_workdays}_empty_when_reversed():
    assert $count_workdays(date($friday), date($monday)) == 0
'''),
    SpecTest("workdays", '''
def test_${workdays_in}_range():
    assert $workdays_in(DateRange(date($monday), date($wednesday_next))) == 8
''', direct=frozenset({"span_args"}), indirect=frozenset({"last_day", "weekend_default"})),
    SpecTest("workdays", '''
def test_${add_workdays}_over_the_weekend():
    assert $add_workdays(date($friday), 1) == date($monday_next)
    assert $add_workdays(date($thursday), 3, holidays={date($monday_next)}) == date($wednesday_next)
''', direct=frozenset({"weekend_default"})),
    SpecTest("bookings", '''
def test_${is_free}_rejects_booking_that_meets_on_one_day():
    bookings = [DateRange(date($b0), date($b0_plus_4))]
    assert $is_free(bookings, DateRange(date($b0_plus_4), date($b0_plus_6))) is False
    assert $is_free(bookings, DateRange(date($b0_plus_5), date($b0_plus_8))) is True
''', indirect=frozenset({"touching_overlap"})),
    SpecTest("bookings", '''
def test_${occupancy}_counts_each_day_once():
    period = DateRange(date($p0), date($p_end))
    bookings = [
        DateRange(date($o1_start), date($o1_end)),
        DateRange(date($o2_start), date($o2_end)),
        DateRange(date($o3_start), date($o3_end)),
    ]
    assert $occupancy(bookings, period) == $occ
    assert $occupancy([], period) == 0.0
''', indirect=frozenset({"both_ends", "merge_empty"})),
    SpecTest("bookings", '''
def test_${working_days_booked}_each_day_once():
    bookings = [DateRange(date($w1_start), date($w1_end)), DateRange(date($w2_start), date($w2_end))]
    assert $working_days_booked(bookings, holidays={date($w_holiday)}) == $w_count
''', indirect=frozenset({"span_args", "last_day", "weekend_default"})),
)

PACKAGES: dict[Split, tuple[str, ...]] = {
    "dev": ("roombook", "spanner", "dayplanner", "bookkeeper_dates", "slotwise"),
    "test": ("rota", "reservations", "deskbook", "timeblock", "agenda_tools"),
}

NAMES = {
    "length": ("length", "day_count", "num_days", "span_days"),
    "overlaps": ("overlaps", "ranges_overlap", "intersects", "collides"),
    "merge": ("merge", "merge_ranges", "coalesce", "combine_ranges"),
    "is_workday": ("is_workday", "is_business_day", "is_working_day", "works_on"),
    "count_workdays": ("count_workdays", "business_days", "working_days_between", "workday_count"),
    "workdays_in": ("workdays_in", "business_days_in", "working_days_in", "workdays_of"),
    "add_workdays": ("add_workdays", "add_business_days", "shift_workdays", "workdays_after"),
    "is_free": ("is_free", "is_available", "room_free", "can_book"),
    "occupancy": ("occupancy", "occupancy_rate", "utilisation", "booked_share"),
    "working_days_booked": ("working_days_booked", "booked_workdays", "billable_days", "booked_business_days"),
}


def _iso(day: date) -> str:
    return f"{day.year}, {day.month}, {day.day}"


def _workdays(start: date, end: date, holidays: set[date]) -> int:
    days = (start + timedelta(days=i) for i in range((end - start).days + 1))
    return sum(1 for d in days if d.weekday() < 5 and d not in holidays)


def values(rng: random.Random, split: Split) -> dict[str, str]:
    year = 2024 if split == "dev" else 2025
    jan1 = date(year, 1, 1)
    d0 = jan1 + timedelta(days=rng.randint(0, 330))
    k = rng.randint(2, 20)
    monday = jan1 + timedelta(days=(7 - jan1.weekday()) % 7 + 7 * rng.randint(0, 45))
    holiday = monday + timedelta(days=rng.randint(1, 4) + 7)  # a weekday in the following week
    b0 = jan1 + timedelta(days=rng.randint(0, 330))
    p0 = date(year, rng.randint(1, 11), 1)
    p_end = p0 + timedelta(days=29)
    o1_start = p0 - timedelta(days=rng.randint(1, 5))  # starts before the period
    o1_end = p0 + timedelta(days=rng.randint(2, 6))
    o2_start = o1_end - timedelta(days=1)  # overlaps the first booking
    o2_end = o2_start + timedelta(days=rng.randint(2, 5))
    o3_start = p0 + timedelta(days=rng.randint(16, 22))
    o3_end = p_end - timedelta(days=rng.randint(0, 4))
    booked = (o2_end - p0).days + 1 + (o3_end - o3_start).days + 1
    w_monday = jan1 + timedelta(days=(7 - jan1.weekday()) % 7 + 7 * rng.randint(0, 40))
    w1_start = w_monday + timedelta(days=rng.randint(0, 3))
    w1_end = w_monday + timedelta(days=rng.randint(7, 10))  # crosses a weekend, ends on a weekday
    w2_start = w1_end - timedelta(days=1)
    w2_end = w2_start + timedelta(days=rng.randint(3, 8))
    while w2_end.weekday() >= 5:
        w2_end += timedelta(days=1)
    w_holiday = w_monday + timedelta(days=rng.randint(1, 4))
    w_count = _workdays(w1_start, w2_end, {w_holiday})
    return {
        "d0": _iso(d0), "d0_plus_k": _iso(d0 + timedelta(days=k)), "k_plus_1": str(k + 1),
        **{f"d0_plus_{n}": _iso(d0 + timedelta(days=n)) for n in (2, 3, 4, 6, 7, 10, 12)},
        "monday": _iso(monday), "thursday": _iso(monday + timedelta(days=3)),
        "friday": _iso(monday + timedelta(days=4)), "saturday": _iso(monday + timedelta(days=5)),
        "sunday": _iso(monday + timedelta(days=6)), "monday_next": _iso(monday + timedelta(days=7)),
        "wednesday_next": _iso(monday + timedelta(days=9)), "sunday_next": _iso(monday + timedelta(days=13)),
        "holiday": _iso(holiday),
        **{f"b0_plus_{n}": _iso(b0 + timedelta(days=n)) for n in (4, 5, 6, 8)}, "b0": _iso(b0),
        "p0": _iso(p0), "p_end": _iso(p_end),
        "o1_start": _iso(o1_start), "o1_end": _iso(o1_end), "o2_start": _iso(o2_start), "o2_end": _iso(o2_end),
        "o3_start": _iso(o3_start), "o3_end": _iso(o3_end), "occ": repr(round(100.0 * booked / 30, 1)),
        "w1_start": _iso(w1_start), "w1_end": _iso(w1_end), "w2_start": _iso(w2_start), "w2_end": _iso(w2_end),
        "w_holiday": _iso(w_holiday), "w_count": str(w_count),
    }


SPEC = LibrarySpec(
    template="schedule",
    summary="a small scheduling library (inclusive date ranges, working days, room bookings)",
    packages=PACKAGES,
    names=NAMES,
    modules={"__init__.py": INIT, "ranges.py": RANGES, "workdays.py": WORKDAYS, "bookings.py": BOOKINGS},
    headers={area: text.replace("$area", area) for area, text in HEADERS.items()},
    sites=SITES,
    tests=TESTS,
    values=values,
    conflicts=(("last_day", "weekend_default"),),
)
