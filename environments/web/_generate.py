"""Builds an intranet from a seeded random generator. Templates then add what their task needs
(a namesake, a target room, a holiday) through the same builder, so every id stays unique."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Callable

from arena.types import Split

from . import _pools as pools
from ._site import Building, Holiday, Person, Room, Site, Supply, Team, WikiPage, week_start

HOWTO_BODY = [
    "Open the {topic} request form on the service portal, fill in your cost center and submit it.",
    "Your manager gets an approval email; most requests are handled within two working days.",
    "If anything is unclear, contact the page owner listed above.",
]


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class SiteBuilder:
    def __init__(self, rng: random.Random, split: Split, difficulty: int) -> None:
        self.rng = rng
        self.split = split
        self.difficulty = difficulty
        today = dt.date(2025, 1, 13) + dt.timedelta(days=rng.randint(0, 230))
        while today.weekday() >= 5:
            today += dt.timedelta(days=1)
        self.today = today
        company, self.domain = rng.choice(pools.COMPANY[split])
        self.site = Site(
            company=company, today=today.isoformat(), approval_limit_cents=rng.choice([100, 150, 200]) * 100,
            people=[], teams=[], buildings=[Building(code=c, name=n) for c, n in pools.BUILDINGS[split]], rooms=[],
            wiki=[], holidays=[], supplies=[],
        )
        self._used: set[str] = set()
        self._names = [f"{f} {last}" for f in pools.FIRST_NAMES[split] for last in pools.LAST_NAMES[split]]
        rng.shuffle(self._names)
        self.holiday_names = list(pools.HOLIDAYS[split])
        rng.shuffle(self.holiday_names)

    def unique(self, make: Callable[[], str]) -> str:
        while True:
            value = make()
            if value not in self._used:
                self._used.add(value)
                return value

    # ------------------------------------------------------------------ people and teams

    def fresh_name(self) -> str:
        taken = {p.name for p in self.site.people}
        last_names = {p.name.split()[-1] for p in self.site.people}
        for name in self._names:  # a fresh last name keeps accidental near-namesakes out
            if name not in taken and name.split()[-1] not in last_names:
                return name
        return next(n for n in self._names if n not in taken)

    def person(self, team: str, building: str, *, name: str | None = None, title: str | None = None,
               manager: str | None = None) -> Person:
        rng = self.rng
        name = name or self.fresh_name()
        first, last = name.lower().split(" ", 1)
        base = f"{first[0]}{last}".replace(" ", "")
        username = self.unique(lambda: base if base not in self._used else f"{base}{rng.randint(2, 9)}")
        mail = f"{first}.{last}".replace(" ", "")
        email = self.unique(
            lambda: f"{mail}@{self.domain}" if f"{mail}@{self.domain}" not in self._used
            else f"{mail}{rng.randint(2, 9)}@{self.domain}"
        )
        floor = rng.randint(1, 4)
        office = self.unique(lambda: f"{building}{floor}-{floor}{rng.randint(1, 40):02d}")
        ext = self.unique(lambda: str(rng.randint(2000, 8999)))
        person = Person(username=username, name=name, title=title or rng.choice(pools.TITLES), team=team,
                        building=building, office=office, ext=ext, email=email, manager=manager)
        self.site.people.append(person)
        return person

    def teams(self, count: int, members: int) -> None:
        rng = self.rng
        codes = [b.code for b in self.site.buildings]
        leadership = Team(slug="leadership", name="Leadership", lead="", cost_center=self.cost_center(),
                          budget_cents=rng.randint(300, 900) * 100)
        self.site.teams.append(leadership)
        directors = [self.person("leadership", rng.choice(codes), title="Director") for _ in range(2)]
        leadership.lead = directors[0].username
        directors[1].manager = directors[0].username
        for name in rng.sample(pools.TEAMS[self.split], count):
            home = rng.choice(codes)
            team = Team(slug=slugify(name), name=name, lead="", cost_center=self.cost_center(),
                        budget_cents=rng.randint(150, 900) * 100)
            self.site.teams.append(team)
            lead = self.person(team.slug, home, title="Team Lead", manager=rng.choice(directors).username)
            team.lead = lead.username
            for _ in range(members):
                where = home if rng.random() < 0.7 else rng.choice(codes)
                self.person(team.slug, where, manager=lead.username)
            self.rota(team)

    def rota(self, team: Team) -> None:
        """On-call: last week, this week and the next two, never the same person two weeks running."""
        crew = [p.username for p in self.site.members(team.slug)]
        start = week_start(self.today) - dt.timedelta(days=7)
        previous = None
        team.oncall = []
        for week in range(4):
            who = self.rng.choice([u for u in crew if u != previous])
            team.oncall.append(((start + dt.timedelta(days=7 * week)).isoformat(), who))
            previous = who

    def cost_center(self) -> str:
        return self.unique(lambda: f"CC-{self.rng.randint(1000, 9999)}")

    # ------------------------------------------------------------------ places, pages, calendar, shop

    def rooms(self, per_building: int) -> None:
        names = list(pools.ROOM_NAMES[self.split])
        self.rng.shuffle(names)
        for building in self.site.buildings:
            for _ in range(per_building):
                self.room(building.code, names.pop())

    def room(self, building: str, name: str | None = None, *, capacity: int | None = None,
             equipment: list[str] | None = None) -> Room:
        rng = self.rng
        taken = {r.name for r in self.site.rooms}
        name = name or next(n for n in pools.ROOM_NAMES[self.split] if n not in taken)
        floor = rng.randint(0, 4)
        room_id = self.unique(lambda: f"{building}-{floor}{rng.randint(1, 30):02d}")
        room = Room(
            id=room_id, name=name, building=building, floor=floor,
            capacity=capacity or rng.choice([4, 6, 8, 10, 12, 16, 20]),
            equipment=equipment if equipment is not None else sorted(rng.sample(pools.EQUIPMENT, rng.randint(0, 3))),
        )
        for day in self.working_days(10):
            taken: set[int] = set()
            for _ in range(rng.randint(0, 3)):
                start = rng.randint(8, 17)
                hours = set(range(start, start + rng.randint(1, 2)))
                if not hours & taken:  # a room's meetings never overlap
                    taken |= hours
                    room.bookings.append((day.isoformat(), f"{start:02d}:00", f"{max(hours) + 1:02d}:00"))
        room.bookings.sort()
        self.site.rooms.append(room)
        return room

    def working_days(self, count: int) -> list[dt.date]:
        days, day = [], self.today
        while len(days) < count:
            day += dt.timedelta(days=1)
            if self.site.is_working_day(day):
                days.append(day)
        return days

    def wiki(self, count: int) -> None:
        for topic in self.rng.sample(pools.HOWTOS[self.split], count):
            self.howto(f"How to {topic[0].lower()}{topic[1:]}", self.rng.choice(self.site.people).username)

    def howto(self, title: str, owner: str) -> WikiPage:
        updated = self.today - dt.timedelta(days=self.rng.randint(3, 400))
        body = "\n".join(f"{i + 1}. {line.format(topic=title.lower())}" for i, line in enumerate(HOWTO_BODY))
        page = WikiPage(slug=slugify(title), title=title, owner=owner, updated=updated.isoformat(), body=body)
        self.site.wiki.append(page)
        return page

    def holidays(self, count: int) -> None:
        year_start = dt.date(self.today.year, 1, 1)
        for _ in range(count):
            while True:
                day = year_start + dt.timedelta(days=self.rng.randint(0, 364))
                if day.weekday() < 5 and self.clear_of_holidays(day, 5):
                    break
            self.holiday(day)

    def clear_of_holidays(self, day: dt.date, days: int) -> bool:
        return all(abs((dt.date.fromisoformat(h.date) - day).days) >= days for h in self.site.holidays)

    def holiday(self, day: dt.date, name: str | None = None) -> Holiday:
        holiday = Holiday(date=day.isoformat(), name=name or self.holiday_names.pop())
        self.site.holidays.append(holiday)
        self.site.holidays.sort(key=lambda h: h.date)
        return holiday

    def supplies(self) -> None:
        rng = self.rng
        for kind, pack in pools.SUPPLY_KINDS[self.split]:
            for brand in rng.sample(pools.BRANDS[self.split], rng.randint(2, 3)):
                self.supply(kind, pack, brand, rng.randint(4, 40) * 100 + rng.choice([0, 25, 49, 75, 99]))

    def supply(self, kind: str, pack: str, brand: str, price_cents: int) -> Supply:
        code = self.unique(lambda: f"SP-{self.rng.randint(100, 999)}")
        item = Supply(code=code, name=f"{brand} {kind}", kind=kind, pack=pack, price_cents=price_cents)
        self.site.supplies.append(item)
        return item


def base_site(rng: random.Random, split: Split, difficulty: int) -> SiteBuilder:
    """The intranet every template starts from; sizes grow with difficulty."""
    b = SiteBuilder(rng, split, difficulty)
    b.holidays(6)
    b.teams(count=3 + difficulty, members=2 + difficulty)
    b.rooms(per_building=1 + min(difficulty, 4))  # the pool of room names runs out beyond
    b.wiki(min(3 + 2 * difficulty, len(pools.HOWTOS[split])))
    b.supplies()
    return b
