"""Leave requests and public holidays: calendar days, working days, busiest month, top employee."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import date, timedelta

from arena.types import Split

from ..answers import Expected
from ..common import INTEGER_FORMAT, Level, Problem, to_csv

EMPLOYEES: dict[Split, tuple[str, ...]] = {
    "dev": ("Alice Brandt", "Bora Yilmaz", "Chen Wei", "Dana Petrova", "Emil Sorensen", "Fatima Zahra",
            "Gustav Lund", "Hanna Virtanen", "Ivo Marin", "Julia Horvat"),
    "test": ("Kofi Mensah", "Laila Rahimi", "Mateo Cruz", "Nadia Popescu", "Oskar Nilsson", "Priya Nair",
             "Quentin Roux", "Rosa Medina", "Sven Aalto", "Tara Quinn"),
}
HOLIDAYS: dict[Split, tuple[tuple[str, str], ...]] = {
    "dev": (("01-01", "New Year's Day"), ("05-01", "Labour Day"), ("05-09", "Ascension Day"),
            ("10-03", "Day of German Unity"), ("12-25", "Christmas Day"), ("12-26", "Boxing Day")),
    "test": (("01-01", "New Year's Day"), ("04-25", "Freedom Day"), ("06-10", "National Day"),
             ("08-15", "Assumption Day"), ("11-01", "All Saints' Day"), ("12-25", "Christmas Day")),
}
TYPES = ("vacation", "vacation", "sick", "training")
STATUSES = ("approved", "Approved", "APPROVED", "approved", "rejected", "pending")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")

READ = '''import csv
import json
from datetime import date, datetime, timedelta

holidays = {date.fromisoformat(h["date"]) for h in json.load(open("public_holidays.json"))["holidays"]}

def parse(text):
    text = text.strip()
    return datetime.strptime(text, "%d.%m.%Y").date() if "." in text else date.fromisoformat(text)

def days(start, end):
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]

def working(day):
    return day.weekday() < 5 and day not in holidays

leave = []  # (employee, type, start, end) of approved requests
with open("leave_requests.csv", newline="") as f:
    for row in csv.DictReader(f):
        if row["status"].strip().lower() == "approved":
            leave.append((row["employee"], row["type"], parse(row["start_date"]), parse(row["end_date"])))
'''

Request = tuple[str, str, date, date, bool]  # employee, type, start, end, approved


def _requests(rng: random.Random, year: int, employees: list[str], count: int) -> list[Request]:
    taken: dict[str, set[date]] = {e: set() for e in employees}
    out: list[Request] = []
    while len(out) < count:
        employee = rng.choice(employees)
        start = date(year, 1, 1) + timedelta(days=rng.randint(0, 350))
        end = start + timedelta(days=rng.randint(0, 11))
        span = {start + timedelta(days=i) for i in range((end - start).days + 1)}
        if span & taken[employee] or end.year != year:
            continue  # one employee's requests never overlap
        taken[employee] |= span
        out.append((employee, rng.choice(TYPES), start, end, rng.random() < 0.7))
    return sorted(out, key=lambda r: r[2])


def generate(rng: random.Random, split: Split, level: Level) -> Problem:
    kind = level.pick(rng, {"calendar_days": 1, "working_days": 2, "busiest_month": 2, "top_vacation": 3})
    year = rng.choice((2023, 2024) if split == "dev" else (2025, 2026))
    holidays = {date.fromisoformat(f"{year}-{md}"): name for md, name in HOLIDAYS[split]}
    employees = rng.sample(EMPLOYEES[split], {1: 4, 2: 6, 3: 10}[level.scale])
    while True:
        requests = _requests(rng, year, employees, {1: 12, 2: 25, 3: 50}[level.scale])
        problem = _question(kind, rng, requests, set(holidays))
        if problem is not None:
            break
    phrasings, answer_format, expected, code = problem
    mixed = level.question >= 3
    rows = [
        [f"LR-{300 + n}", e, t, _date_text(rng, s, mixed), _date_text(rng, f, mixed),
         rng.choice(STATUSES[:4]) if ok else rng.choice(STATUSES[4:])]
        for n, (e, t, s, f, ok) in enumerate(requests)
    ]
    formats = "YYYY-MM-DD, a few rows as DD.MM.YYYY" if mixed else "YYYY-MM-DD"
    context = (
        "leave_requests.csv lists leave requests (request_id, employee, type, start_date, end_date, status); "
        f"dates are written {formats}, and both the start and the end day belong to the leave. Only requests "
        'whose status is "approved" (in any letter case) count. public_holidays.json lists the public '
        "holidays. A working day is a Monday to Friday that is not a public holiday. One employee's requests "
        "never overlap."
    )
    listed = [{"date": d.isoformat(), "name": n} for d, n in sorted(holidays.items())]
    return Problem(
        kind=f"leave_{kind}",
        files={
            "leave_requests.csv": to_csv(
                ["request_id", "employee", "type", "start_date", "end_date", "status"], rows),
            "public_holidays.json": json.dumps({"year": year, "holidays": listed}, indent=2) + "\n",
        },
        context=context, phrasings=phrasings, answer_format=answer_format, expected=expected,
        solution=READ + code, difficulty=level.level, human_minutes=level.minutes({1: 8.0, 2: 15.0, 3: 25.0}),
    )


def _date_text(rng: random.Random, day: date, mixed: bool) -> str:
    return f"{day:%d.%m.%Y}" if mixed and rng.random() < 0.25 else day.isoformat()


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _question(
    kind: str, rng: random.Random, requests: list[Request], holidays: set[date]
) -> tuple[tuple[str, ...], str, Expected, str] | None:
    approved = [r for r in requests if r[4]]
    if not approved:
        return None
    employee = rng.choice(sorted({r[0] for r in approved}))

    def working(day: date) -> bool:
        return day.weekday() < 5 and day not in holidays

    if kind == "calendar_days":
        total = sum((f - s).days + 1 for e, t, s, f, _ in approved if e == employee and t == "vacation")
        if total == 0:
            return None
        return (
            (f"How many calendar days of approved vacation does {employee} have in total?",
             f"Add up the calendar days (weekends included) covered by {employee}'s approved vacation requests.",
             f"In total, how many days of approved vacation, counting every calendar day, did {employee} get?"),
            INTEGER_FORMAT, Expected(kind="integer", value=total),
            f"print(sum((f - s).days + 1 for e, t, s, f in leave if e == {employee!r} and t == 'vacation'))\n",
        )
    if kind == "working_days":
        total = sum(1 for e, _, s, f, _ in approved if e == employee for d in _days(s, f) if working(d))
        return (
            (f"How many working days of approved leave (of any type) does {employee} have?",
             f"Count the working days covered by all of {employee}'s approved leave requests, whatever the type.",
             f"Across all approved requests of any type, how many working days is {employee} away?"),
            INTEGER_FORMAT, Expected(kind="integer", value=total),
            f"print(sum(1 for e, _, s, f in leave if e == {employee!r} for d in days(s, f) if working(d)))\n",
        )
    if kind == "busiest_month":
        per_month = Counter(d.month for *_, s, f, _ in approved for d in _days(s, f) if working(d)).most_common()
        if len(per_month) < 2 or per_month[0][1] == per_month[1][1]:
            return None
        month = per_month[0][0]
        year = approved[0][2].year
        name = MONTHS[month - 1]
        aliases = [f"{name} {year}", f"{name[:3]} {year}", name, f"{year}/{month:02d}", f"{month:02d}/{year}"]
        return (
            ("In which month were the most working days of approved leave taken, across all employees?",
             "Which calendar month has the largest number of approved leave working days for the whole team?",
             "Count approved leave working days per month over all employees: which month is the busiest?"),
            "Answer with the month as YYYY-MM (for example 2024-07).",
            Expected(kind="text", value=f"{year}-{month:02d}", accepted=aliases),
            "from collections import Counter\n"
            "months = Counter(f'{d:%Y-%m}' for _, _, s, f in leave for d in days(s, f) if working(d))\n"
            "print(months.most_common(1)[0][0])\n",
        )
    totals: Counter[str] = Counter()
    for e, t, s, f, _ in approved:
        if t == "vacation":
            totals[e] += sum(1 for d in _days(s, f) if working(d))
    ranked = totals.most_common()
    if len(ranked) < 2 or ranked[0][1] == ranked[1][1]:
        return None
    return (
        ("Which employee took the most working days of approved vacation?",
         "Find the employee with the highest number of approved vacation working days.",
         "Who has the largest count of working days on approved vacation?"),
        "Answer with the employee's name only, as written in the file.",
        Expected(kind="text", value=ranked[0][0]),
        "from collections import Counter\ntotals = Counter()\n"
        "for e, t, s, f in leave:\n    if t == 'vacation':\n"
        "        totals[e] += sum(1 for d in days(s, f) if working(d))\n"
        "print(totals.most_common(1)[0][0])\n",
    )
