"""The intranet's content: people, teams, buildings, rooms, wiki pages, holidays and supplies."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

HOST = "intranet.local"
BASE = f"http://{HOST}"


class Person(BaseModel):
    username: str
    name: str
    title: str
    team: str  # team slug
    building: str  # building code
    office: str  # e.g. N2-214
    ext: str
    email: str
    manager: str | None = None  # username


class Team(BaseModel):
    slug: str
    name: str
    lead: str  # username
    cost_center: str
    budget_cents: int  # remaining office-supplies budget
    oncall: list[tuple[str, str]] = Field(default_factory=list)  # (week starting Monday, username)


class Building(BaseModel):
    code: str
    name: str


class Room(BaseModel):
    id: str
    name: str
    building: str
    floor: int
    capacity: int
    equipment: list[str]
    bookings: list[tuple[str, str, str]] = Field(default_factory=list)  # (date, start, end)


class WikiPage(BaseModel):
    slug: str
    title: str
    owner: str  # username
    updated: str
    body: str


class Holiday(BaseModel):
    date: str
    name: str


class Supply(BaseModel):
    code: str
    name: str
    kind: str
    pack: str
    price_cents: int


class Site(BaseModel):
    company: str
    today: str
    approval_limit_cents: int  # supplies orders above this need the team lead's manager as approver
    people: list[Person]
    teams: list[Team]
    buildings: list[Building]
    rooms: list[Room]
    wiki: list[WikiPage]
    holidays: list[Holiday]
    supplies: list[Supply]

    def person(self, username: str) -> Person | None:
        return next((p for p in self.people if p.username == username), None)

    def team(self, slug: str) -> Team | None:
        return next((t for t in self.teams if t.slug == slug), None)

    def room(self, room_id: str) -> Room | None:
        return next((r for r in self.rooms if r.id.lower() == room_id.strip().lower()), None)

    def building(self, code_or_name: str) -> Building | None:
        key = code_or_name.strip().lower()
        return next((b for b in self.buildings if key in (b.code.lower(), b.name.lower())), None)

    def page(self, slug: str) -> WikiPage | None:
        return next((w for w in self.wiki if w.slug == slug), None)

    def members(self, slug: str) -> list[Person]:
        return [p for p in self.people if p.team == slug]

    def holiday_on(self, day: dt.date) -> Holiday | None:
        return next((h for h in self.holidays if h.date == day.isoformat()), None)

    def is_working_day(self, day: dt.date) -> bool:
        return day.weekday() < 5 and self.holiday_on(day) is None


def money(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())
