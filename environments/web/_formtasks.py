"""Form templates: gather data across pages, then fill and submit a form the site validates."""

from __future__ import annotations

import datetime as dt

from . import _pools as pools
from ._generate import SiteBuilder
from ._scenario import INTRANET, Router, Scenario, plain_members, regular_teams, when
from ._site import Room, money


def _overlaps(booking: tuple[str, str, str], day: str, start: str, end: str) -> bool:
    date, busy_start, busy_end = booking
    return date == day and busy_start < end and start < busy_end


def book_room(b: SiteBuilder) -> Scenario:
    """Book the one room in the requester's building with enough seats and the equipment, free then."""
    site, rng = b.site, b.rng
    requester = rng.choice([p for p in site.people if p.team != "leadership"])
    team = site.team(requester.team)
    assert team is not None
    day = rng.choice(b.working_days(8)[1:]).isoformat()
    hour, minute = rng.randint(9, 16), (rng.choice([0, 30]) if b.difficulty >= 2 else 0)
    start, end = f"{hour:02d}:{minute:02d}", f"{hour + rng.choice([1, 2]):02d}:{minute:02d}"
    people, need = rng.choice([4, 5, 6, 8, 10, 12]), rng.choice(pools.EQUIPMENT)
    others = [x for x in pools.EQUIPMENT if x != need]

    def kit(with_need: bool) -> list[str]:
        return sorted({*rng.sample(others, rng.randint(0, 2)), *([need] if with_need else [])})

    home = requester.building
    away = rng.choice([x.code for x in site.buildings if x.code != home])
    target = b.room(home, capacity=people + rng.randint(0, 4), equipment=kit(True))
    b.room(away, capacity=people + rng.randint(0, 6), equipment=kit(True))  # wrong building
    b.room(home, capacity=max(2, people - rng.randint(1, 3)), equipment=kit(True))  # too small
    b.room(home, capacity=people + rng.randint(0, 6), equipment=kit(False))  # lacks the equipment
    if b.difficulty >= 2:
        b.room(home, capacity=people + rng.randint(0, 6), equipment=kit(True))  # taken (made busy below)
    target.bookings = [k for k in target.bookings if not _overlaps(k, day, start, end)]

    def fits(room: Room) -> bool:
        free = not any(_overlaps(k, day, start, end) for k in room.bookings)
        return room.building == home and room.capacity >= people and need in room.equipment and free

    for room in site.rooms:  # exactly one room may fit: the others get a meeting in that slot
        if room is not target and fits(room):
            room.bookings = sorted([*room.bookings, (day, start, end)])
    title = rng.choice(pools.MEETINGS)
    route = Router(site).go("/").go("/directory").go(f"/people/{requester.username}").go("/rooms")
    route.go(f"/rooms/{target.id}").go(f"/forms/book-room?room={target.id}")
    fields = {"date": day, "start": start, "end": end, "attendees": str(people), "organizer": requester.username}
    solution = route.fill("book-room", {**fields, "title": title}).submit_form("book-room").done()
    first = requester.name.split()[0]
    instructions = [
        f"Book a meeting room on the intranet ({INTRANET}) for {requester.name} ({team.name} team): \"{title}\" on "
        f"{when(day)} from {start} to {end} for {people} people. The room needs a {need} and must be in the building "
        f"where {first} sits. Book it with {first} as the organizer and that title, then submit.",
        f"{requester.name} from {team.name} asked you to reserve a room: {people} attendees, {day} {start}-{end}, "
        f"with a {need}, in their own building. Title: \"{title}\". Find a room that fits on {INTRANET} and book it "
        "for them (they are the organizer). Call submit once it is booked.",
        f"Please find and book a free meeting room for \"{title}\". Date {day}, {start} to {end}; {people} people; "
        f"{need} required; in the same building as the organizer, {requester.name} of the {team.name} team. Use the "
        f"booking form on {INTRANET}, then submit.",
    ]
    expected = [{"form": "book-room", "fields": {"room": target.id, **fields}}]
    return Scenario(b.difficulty, instructions, solution, 6.0 + 2 * b.difficulty, expected=expected,
                    secrets=[target.id, requester.username])


def order_supplies(b: SiteBuilder) -> Scenario:
    """Order the cheapest item of a kind, as many packs as the budget allows, with the right approver."""
    site, rng = b.site, b.rng
    team = rng.choice(regular_teams(site))
    requester = rng.choice(plain_members(site, team))
    lead = site.person(team.lead)
    director = site.person(lead.manager or "") if lead else None
    assert lead is not None and director is not None
    kind, pack = rng.choice(pools.SUPPLY_KINDS[b.split])
    items = [s for s in site.supplies if s.kind == kind]
    brands = [x for x in pools.BRANDS[b.split] if all(not s.name.startswith(x) for s in items)]
    if b.difficulty >= 2 and brands:
        items.append(b.supply(kind, pack, brands[0], min(s.price_cents for s in items) + rng.randint(10, 90)))
    cheapest = min(items, key=lambda s: s.price_cents)
    for s in items:  # the cheapest must be unique
        if s is not cheapest and s.price_cents == cheapest.price_cents:
            s.price_cents += 50
    quantity = rng.randint(3, 12)
    team.budget_cents = cheapest.price_cents * quantity + rng.randint(0, cheapest.price_cents - 1)
    total = cheapest.price_cents * quantity
    needs_director = rng.random() < 0.5 and total > 5000
    # a round limit just below the total (the lead's manager approves) or just above it (the lead does)
    site.approval_limit_cents = ((total - 1) // 5000) * 5000 if needs_director else (total // 5000 + 1) * 5000
    approver = director if needs_director else lead
    route = Router(site).go("/").go("/shop").go("/wiki/supplies-budgets").go(f"/teams/{team.slug}")
    route.go(f"/people/{requester.username}").back().go(f"/people/{lead.username}")
    if needs_director:
        route.go(f"/people/{director.username}")
    fields = {"item": cheapest.code, "quantity": str(quantity), "cost_center": team.cost_center,
              "requester": requester.username, "approver": approver.username}
    solution = route.go("/forms/order-supplies").fill("order-supplies", fields).submit_form("order-supplies").done()
    first = requester.name.split()[0]
    instructions = [
        f"The {team.name} team has run out of {kind}. On the intranet ({INTRANET}), order the cheapest {kind} in the "
        "office supplies shop, as many packs as the team's remaining supplies budget allows. Charge the team's cost "
        f"center, with {requester.name} as the requester and the approver the budget rules call for. Then submit.",
        f"{requester.name} ({team.name}) asks you to restock {kind}: buy the lowest-priced {kind} from the shop on "
        f"{INTRANET}, the largest number of packs that fits in the {team.name} team's remaining budget, billed to "
        f"the {team.name} team's cost center. {first} is the requester; choose the approver by the supplies "
        "approval rules. Submit when the order is placed.",
        f"Place an office-supplies order on {INTRANET}: item = the cheapest {kind} on offer; quantity = as many "
        f"packs as the {team.name} team's remaining supplies budget covers; cost center = the {team.name} team's; "
        f"requester = {requester.name}; approver = whoever the supplies approval rules require. Submit when done.",
    ]
    expected = [{"form": "order-supplies", "fields": fields}]
    secrets = [cheapest.code, team.cost_center, requester.username, approver.username, money(total)]
    return Scenario(b.difficulty, instructions, solution, 6.0 + 2 * b.difficulty, expected=expected, secrets=secrets)


def visitor_registration(b: SiteBuilder) -> Scenario:
    """Register a visitor for team Y's lead, in the lead's building, on the first working day after holiday H."""
    site, rng = b.site, b.rng
    team = rng.choice(regular_teams(site))
    host = site.person(team.lead)
    assert host is not None
    today = dt.date.fromisoformat(site.today)
    # difficulty 1: a Monday-Thursday holiday; 2: a Friday; from 3: a Thursday with a bridge day on Friday
    weekday = {1: rng.randint(0, 3), 2: 4}.get(b.difficulty, 3)
    while True:
        day = today + dt.timedelta(days=rng.randint(10, 70))
        day += dt.timedelta(days=(weekday - day.weekday()) % 7)
        if b.clear_of_holidays(day, 8):
            break
    holiday = b.holiday(day)
    if b.difficulty >= 3:
        b.holiday(day + dt.timedelta(days=1), name=f"{holiday.name} bridge day")
    visit = day + dt.timedelta(days=1)
    while not site.is_working_day(visit):
        visit += dt.timedelta(days=1)
    visitor, company = rng.choice(pools.VISITORS[b.split]), rng.choice(pools.COMPANIES[b.split])
    route = Router(site).go("/").go("/wiki/holidays").go("/teams").go(f"/teams/{team.slug}")
    route.go(f"/people/{host.username}").go("/forms/visitor")
    fields = {"visitor_name": visitor, "company": company, "host": host.username, "building": host.building,
              "date": visit.isoformat()}
    solution = route.fill("visitor", fields).submit_form("visitor").done()
    instructions = [
        f"{visitor} from {company} is coming to meet the lead of the {team.name} team on the first working day "
        f"after {holiday.name}. Register the visit with the visitor form on the intranet ({INTRANET}): the host is "
        f"the {team.name} team lead and the building is the one where the host sits. Then submit.",
        f"Register a visitor on {INTRANET}: {visitor} ({company}), visiting the lead of the {team.name} team, in "
        f"the host's own building, on the first day the offices are open after {holiday.name} (see the holiday "
        "calendar). Submit when the registration is accepted.",
        f"Please sign in a guest for the {team.name} team lead: {visitor} of {company}. The visit is on the first "
        f"working day after {holiday.name}; the building is wherever the team lead sits. Use the visitor "
        f"registration form on the intranet ({INTRANET}) and submit when you are done.",
    ]
    expected = [{"form": "visitor", "fields": fields}]
    return Scenario(b.difficulty, instructions, solution, 5.0 + 2 * b.difficulty, expected=expected,
                    secrets=[host.username, visit.isoformat(), host.name])
