"""The intranet's forms and how the site validates them, like a real web form: required fields,
formats, capacity, availability, budgets. Accepted submissions are recorded and change the site."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from ._session import WebState
from ._site import Person, Site, money


@dataclass(frozen=True)
class FieldSpec:
    name: str
    hint: str


@dataclass(frozen=True)
class FormSpec:
    id: str
    path: str
    title: str
    fields: tuple[FieldSpec, ...]
    ref_prefix: str


FORMS: dict[str, FormSpec] = {
    f.id: f
    for f in [
        FormSpec("book-room", "/forms/book-room", "Book a meeting room", (
            FieldSpec("room", "room id as listed on the meeting rooms page"),
            FieldSpec("date", "YYYY-MM-DD"),
            FieldSpec("start", "HH:MM, 24-hour clock"),
            FieldSpec("end", "HH:MM, 24-hour clock"),
            FieldSpec("attendees", "number of people"),
            FieldSpec("organizer", "username of the person the room is for"),
            FieldSpec("title", "meeting title"),
        ), "BK"),
        FormSpec("order-supplies", "/forms/order-supplies", "Order office supplies", (
            FieldSpec("item", "item code as listed in the shop"),
            FieldSpec("quantity", "number of packs"),
            FieldSpec("cost_center", "cost center to charge, e.g. CC-1234"),
            FieldSpec("requester", "username of the person ordering"),
            FieldSpec("approver", "username of the approver (see the supplies budget rules)"),
        ), "PO"),
        FormSpec("visitor", "/forms/visitor", "Register a visitor", (
            FieldSpec("visitor_name", "visitor's full name"),
            FieldSpec("company", "visitor's company"),
            FieldSpec("host", "username of the employee they visit"),
            FieldSpec("building", "building code or name"),
            FieldSpec("date", "YYYY-MM-DD"),
        ), "VR"),
    ]
}


class Invalid(Exception):
    """One validation error, worded for the form page."""


# ---------------------------------------------------------------- field parsers


def find_person(site: Site, value: str, field: str) -> Person:
    key = value.strip().lower()
    found = [p for p in site.people if key in (p.username, p.email.lower())]
    if not found:
        found = [p for p in site.people if p.name.lower() == key]
    if len(found) > 1:
        raise Invalid(f"{field}: {len(found)} people are called {value.strip()!r}; enter the username")
    if not found:
        raise Invalid(f"{field}: nobody in the directory matches {value.strip()!r}")
    return found[0]


def parse_date(value: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise Invalid(f"{field}: {value.strip()!r} is not a date in the form YYYY-MM-DD") from None


def parse_time(value: str, field: str) -> str:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
    if not m or int(m[1]) > 23 or int(m[2]) > 59:
        raise Invalid(f"{field}: {value.strip()!r} is not a time in the form HH:MM")
    return f"{int(m[1]):02d}:{m[2]}"


def parse_count(value: str, field: str) -> int:
    if not re.fullmatch(r"\s*\d+\s*", value) or int(value) < 1:
        raise Invalid(f"{field}: {value.strip()!r} is not a whole number of at least 1")
    return int(value)


def open_day(site: Site, day: dt.date, field: str) -> None:
    if day < dt.date.fromisoformat(site.today):
        raise Invalid(f"{field}: {day.isoformat()} is in the past")
    holiday = site.holiday_on(day)
    if holiday is not None:
        raise Invalid(f"{field}: the offices are closed on {day.isoformat()} ({holiday.name})")
    if day.weekday() >= 5:
        raise Invalid(f"{field}: {day.isoformat()} is a {day.strftime('%A')}; the offices are closed")


# ---------------------------------------------------------------- validation per form


def _book_room(site: Site, v: dict[str, str]) -> dict[str, str]:
    room = site.room(v["room"])
    if room is None:
        raise Invalid(f"room: no room with id {v['room'].strip()!r} (see the meeting rooms page)")
    day = parse_date(v["date"], "date")
    open_day(site, day, "date")
    start, end = parse_time(v["start"], "start"), parse_time(v["end"], "end")
    if end <= start:
        raise Invalid("end: the meeting must end after it starts")
    if start < "07:00" or end > "20:00":
        raise Invalid("start: rooms can be booked between 07:00 and 20:00")
    attendees = parse_count(v["attendees"], "attendees")
    if attendees > room.capacity:
        raise Invalid(f"attendees: {room.name} ({room.id}) seats at most {room.capacity} people")
    organizer = find_person(site, v["organizer"], "organizer")
    for date, busy_start, busy_end in room.bookings:
        if date == day.isoformat() and busy_start < end and start < busy_end:
            raise Invalid(f"room: {room.id} is already booked {busy_start}-{busy_end} on {date}")
    room.bookings.append((day.isoformat(), start, end))
    room.bookings.sort()
    return {"room": room.id, "date": day.isoformat(), "start": start, "end": end, "attendees": str(attendees),
            "organizer": organizer.username, "title": v["title"].strip()}


def _order_supplies(site: Site, v: dict[str, str]) -> dict[str, str]:
    item = next((s for s in site.supplies if s.code.lower() == v["item"].strip().lower()), None)
    if item is None:
        raise Invalid(f"item: no item with code {v['item'].strip()!r} in the shop")
    quantity = parse_count(v["quantity"], "quantity")
    team = next((t for t in site.teams if t.cost_center.lower() == v["cost_center"].strip().lower()), None)
    if team is None:
        raise Invalid(f"cost_center: unknown cost center {v['cost_center'].strip()!r}")
    requester = find_person(site, v["requester"], "requester")
    approver = find_person(site, v["approver"], "approver")
    if approver.username == requester.username:
        raise Invalid("approver: the approver cannot be the requester")
    total = item.price_cents * quantity
    if total > team.budget_cents:
        raise Invalid(f"quantity: the total {money(total)} exceeds the remaining budget {money(team.budget_cents)} "
                      f"of {team.cost_center}")
    team.budget_cents -= total
    return {"item": item.code, "quantity": str(quantity), "cost_center": team.cost_center,
            "requester": requester.username, "approver": approver.username}


def _visitor(site: Site, v: dict[str, str]) -> dict[str, str]:
    host = find_person(site, v["host"], "host")
    building = site.building(v["building"])
    if building is None:
        raise Invalid(f"building: unknown building {v['building'].strip()!r}")
    day = parse_date(v["date"], "date")
    open_day(site, day, "date")
    return {"visitor_name": " ".join(v["visitor_name"].split()), "company": " ".join(v["company"].split()),
            "host": host.username, "building": building.code, "date": day.isoformat()}


VALIDATORS = {"book-room": _book_room, "order-supplies": _order_supplies, "visitor": _visitor}


def submit(state: WebState, form_id: str) -> dict[str, Any] | list[str]:
    """Validate and, if valid, record a submission (returned); otherwise the list of errors."""
    spec = FORMS[form_id]
    values = {f.name: state.drafts.get(form_id, {}).get(f.name, "") for f in spec.fields}
    missing = [f"{name}: required" for name, value in values.items() if not value.strip()]
    if missing:
        return missing
    try:
        fields = VALIDATORS[form_id](state.site, values)
    except Invalid as e:
        return [str(e)]
    ref = f"{spec.ref_prefix}-{10000 + (len(state.submissions) + 1) * 4817 % 89999}"
    record = {"form": form_id, "fields": fields, "ref": ref}
    state.submissions.append(record)
    state.drafts.pop(form_id, None)
    state.errors.pop(form_id, None)
    return record
