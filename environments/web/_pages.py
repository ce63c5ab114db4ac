"""Renders intranet pages as text: a navigation bar, numbered links `[3] Facilities` and forms
with named fields. Link numbers depend only on the site, so a reference route can name them."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from urllib.parse import parse_qs, quote_plus, urlsplit

from arena.errors import ToolError

from ._forms import FORMS
from ._session import Page, WebState
from ._site import BASE, HOST, money

NAV = [("Home", "/"), ("Directory", "/directory"), ("Teams", "/teams"), ("Wiki", "/wiki"),
       ("Meeting rooms", "/rooms"), ("Supplies shop", "/shop")]


def normalise_url(url: str, current: str | None = None) -> str:
    """An intranet URL as `http://intranet.local/path[?query]`; anything off-site is refused."""
    text = url.strip()
    if text.startswith("/"):
        text = BASE + text
    elif not re.match(r"^[a-z]+://", text, re.I):
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or (parts.hostname or "").lower() != HOST:
        raise ToolError(f"no network access beyond the intranet: {url.strip()!r} is not on {HOST}")
    path = parts.path.rstrip("/") or "/"
    return BASE + path + (f"?{parts.query}" if parts.query else "")


class Writer:
    def __init__(self, url: str, title: str) -> None:
        self.url, self.title = url, title
        self.links: list[str] = []
        self.forms: list[str] = []
        nav = " | ".join(self.link(label, path) for label, path in NAV)
        self.lines = [f"URL: {url}", nav, "-" * 60, f"# {title}", ""]

    def link(self, label: str, path: str) -> str:
        self.links.append(BASE + path)
        return f"[{len(self.links)}] {label}"

    def add(self, text: str = "") -> None:
        self.lines.append(text)

    def page(self) -> Page:
        return Page(self.url, self.title, "\n".join(self.lines).rstrip() + "\n", self.links, self.forms)


# ---------------------------------------------------------------- pages


def home(s: WebState, w: Writer, _: dict[str, str]) -> None:
    today = dt.date.fromisoformat(s.site.today)
    w.add(f"Welcome to the {s.site.company} intranet. Today is {today.strftime('%A')} {today.isoformat()}.")
    w.add()
    for label, path in [("Staff directory", "/directory"), ("Teams", "/teams"), ("Wiki", "/wiki"),
                        ("Holiday calendar", "/wiki/holidays"), ("Meeting rooms", "/rooms"),
                        ("Book a meeting room", "/forms/book-room"), ("Office supplies shop", "/shop"),
                        ("Register a visitor", "/forms/visitor")]:
        w.add(w.link(label, path))
    w.add()
    w.add("Use the search tool to search all pages.")


def directory(s: WebState, w: Writer, _: dict[str, str]) -> None:
    teams = {t.slug: t.name for t in s.site.teams}
    for p in sorted(s.site.people, key=lambda p: (p.name.split()[-1], p.name, p.username)):
        w.add(f"{w.link(p.name, '/people/' + p.username)}, {p.title} ({teams[p.team]})")


def person(s: WebState, w: Writer, q: dict[str, str], username: str) -> None:
    site = s.site
    p = site.person(username)
    assert p is not None
    team = site.team(p.team)
    building = site.building(p.building)
    assert team is not None and building is not None
    w.add(f"Title: {p.title}")
    w.add(f"Team: {w.link(team.name, '/teams/' + team.slug)}")
    manager = site.person(p.manager) if p.manager else None
    w.add(f"Manager: {w.link(manager.name, '/people/' + manager.username) if manager else '-'}")
    w.add(f"Office: {building.name}, floor {p.office.split('-')[1][0]}, room {p.office}")
    w.add(f"Phone extension: {p.ext}")
    w.add(f"Email: {p.email}")
    w.add(f"Username: {p.username}")
    reports = [r for r in site.people if r.manager == p.username]
    if reports:
        w.add("Direct reports: " + ", ".join(w.link(r.name, "/people/" + r.username) for r in reports))


def teams(s: WebState, w: Writer, _: dict[str, str]) -> None:
    for t in s.site.teams:
        w.add(w.link(t.name, "/teams/" + t.slug))


def team(s: WebState, w: Writer, _: dict[str, str], slug: str) -> None:
    site = s.site
    t = site.team(slug)
    assert t is not None
    lead = site.person(t.lead)
    assert lead is not None
    w.add(f"Team lead: {w.link(lead.name, '/people/' + lead.username)}")
    w.add(f"Cost center: {t.cost_center}")
    w.add("Members:")
    for p in site.members(slug):
        if p.username != t.lead:
            w.add(f"  {w.link(p.name, '/people/' + p.username)}, {p.title}")
    w.add()
    w.add(w.link(f"{t.name} handbook (on-call rota)", f"/wiki/team-{slug}"))


def wiki_index(s: WebState, w: Writer, _: dict[str, str]) -> None:
    w.add("How-to guides:")
    for page in sorted(s.site.wiki, key=lambda p: p.title):
        w.add("  " + w.link(page.title, "/wiki/" + page.slug))
    w.add("Team handbooks:")
    for t in s.site.teams:
        w.add("  " + w.link(f"{t.name} handbook", f"/wiki/team-{t.slug}"))
    w.add("Company:")
    w.add("  " + w.link("Holiday calendar", "/wiki/holidays"))
    w.add("  " + w.link("Supplies budgets and approval rules", "/wiki/supplies-budgets"))


def wiki_page(s: WebState, w: Writer, _: dict[str, str], slug: str) -> None:
    page = s.site.page(slug)
    assert page is not None
    owner = s.site.person(page.owner)
    assert owner is not None
    w.add(f"Owner: {w.link(owner.name, '/people/' + owner.username)}   Last updated: {page.updated}")
    w.add()
    w.add(page.body)


def handbook(s: WebState, w: Writer, _: dict[str, str], slug: str) -> None:
    site = s.site
    t = site.team(slug)
    assert t is not None
    w.add(f"Team page: {w.link(t.name, '/teams/' + slug)}")
    w.add()
    w.add("On-call rota (each shift runs Monday to Sunday):")
    for start, username in t.oncall:
        p = site.person(username)
        assert p is not None
        w.add(f"  week starting {start}: {w.link(p.name, '/people/' + username)}")
    w.add()
    w.add("The on-call engineer answers pages within 15 minutes, from their own desk during office hours.")


def holidays(s: WebState, w: Writer, _: dict[str, str]) -> None:
    w.add("The offices are closed on weekends and on these company holidays:")
    for h in s.site.holidays:
        day = dt.date.fromisoformat(h.date)
        w.add(f"  {h.date} ({day.strftime('%A')}): {h.name}")


def budgets(s: WebState, w: Writer, _: dict[str, str]) -> None:
    limit = money(s.site.approval_limit_cents)
    w.add("Remaining office-supplies budget per team (updated with every order):")
    for t in s.site.teams:
        w.add(f"  {w.link(t.name, '/teams/' + t.slug)}: cost center {t.cost_center}, remaining {money(t.budget_cents)}")
    w.add()
    w.add(f"Approval rules: orders with a total up to {limit} are approved by the lead of the team that pays. "
          f"Orders above {limit} are approved by that team lead's manager (see the directory).")
    w.add(f"Order through the {w.link('order form', '/forms/order-supplies')}.")


def rooms(s: WebState, w: Writer, _: dict[str, str]) -> None:
    for b in s.site.buildings:
        w.add(f"{b.name} (building {b.code}):")
        for r in [r for r in s.site.rooms if r.building == b.code]:
            w.add(f"  {w.link(f'{r.name} ({r.id})', '/rooms/' + r.id)}, floor {r.floor}, seats {r.capacity}")
    w.add()
    w.add(w.link("Book a meeting room", "/forms/book-room"))


def room(s: WebState, w: Writer, _: dict[str, str], room_id: str) -> None:
    r = s.site.room(room_id)
    b = s.site.building(r.building) if r else None
    assert r is not None and b is not None
    w.add(f"Building: {b.name} (building {b.code}), floor {r.floor}")
    w.add(f"Seats: {r.capacity}")
    w.add(f"Equipment: {', '.join(r.equipment) or 'none'}")
    w.add("Booked slots in the coming days (all other times between 07:00 and 20:00 are free):")
    for date, start, end in r.bookings:
        w.add(f"  {date} {start}-{end}")
    w.add()
    w.add(w.link("Book this room", f"/forms/book-room?room={r.id}"))


def shop(s: WebState, w: Writer, _: dict[str, str]) -> None:
    w.add("Item code | item | pack | price per pack")
    for item in sorted(s.site.supplies, key=lambda i: (i.kind, i.code)):
        w.add(f"  {item.code} | {item.name} | {item.pack} | {money(item.price_cents)}")
    w.add()
    w.add(w.link("Order form", "/forms/order-supplies"))
    w.add(w.link("Budgets and approval rules", "/wiki/supplies-budgets"))


def form(s: WebState, w: Writer, query: dict[str, str], form_id: str) -> None:
    spec = FORMS[form_id]
    draft = s.drafts.setdefault(form_id, {})
    for name, value in query.items():  # links may prefill fields, e.g. ?room=N-201
        if any(f.name == name for f in spec.fields) and name not in draft:
            draft[name] = value
    w.forms.append(form_id)
    w.add(f'Form "{form_id}" (fill fields with fill_field, then submit_form). All fields are required.')
    for f in spec.fields:
        w.add(f"  {f.name} = {draft.get(f.name, '')!r}   ({f.hint})")
    for error in s.errors.get(form_id, []):
        w.add(f"  ERROR {error}")


def confirmation(s: WebState, w: Writer, _: dict[str, str], ref: str) -> None:
    record = next((r for r in s.submissions if r["ref"] == ref), None)
    assert record is not None
    w.add(f"Thank you: your \"{FORMS[record['form']].title}\" submission was recorded. Reference number {ref}.")
    for name, value in record["fields"].items():
        w.add(f"  {name}: {value}")


def search_results(s: WebState, w: Writer, query: dict[str, str]) -> None:
    terms = [t for t in re.split(r"\W+", query.get("q", "").lower()) if t]
    w.add(f"Search results for {query.get('q', '')!r}:")
    hits = []
    for path, title in site_index(s):
        words = set(re.split(r"\W+", title.lower()))
        score = sum(2 if t in words else 1 for t in terms if t in title.lower())
        if score:
            hits.append((-score, title, path))
    for _, title, path in sorted(hits)[:10]:
        w.add(f"  {w.link(title, path)} ({BASE}{path})")
    if not hits:
        w.add("  no pages match")


def site_index(s: WebState) -> list[tuple[str, str]]:
    """Every searchable page as (path, what the search matches on)."""
    site = s.site
    teams_by_slug = {t.slug: t.name for t in site.teams}
    out = [(f"/people/{p.username}", f"{p.name}, {p.title}, {teams_by_slug[p.team]}") for p in site.people]
    out += [(f"/teams/{t.slug}", f"{t.name} team") for t in site.teams]
    out += [(f"/wiki/team-{t.slug}", f"{t.name} handbook, on-call rota") for t in site.teams]
    out += [(f"/wiki/{p.slug}", p.title) for p in site.wiki]
    out += [(f"/rooms/{r.id}", f"{r.name} meeting room {r.id}") for r in site.rooms]
    out += [("/wiki/holidays", "Holiday calendar"), ("/wiki/supplies-budgets", "Supplies budgets and approval rules"),
            ("/shop", "Office supplies shop"), ("/forms/book-room", "Book a meeting room form"),
            ("/forms/order-supplies", "Order office supplies form"), ("/forms/visitor", "Register a visitor form")]
    return out


# ---------------------------------------------------------------- routing

Handler = Callable[..., None]


def _route(s: WebState, path: str) -> tuple[str, Handler, tuple[str, ...]] | None:
    site = s.site
    static: dict[str, tuple[str, Handler]] = {
        "/": ("Home", home), "/directory": ("Staff directory", directory), "/teams": ("Teams", teams),
        "/wiki": ("Wiki", wiki_index), "/wiki/holidays": ("Holiday calendar", holidays),
        "/wiki/supplies-budgets": ("Supplies budgets and approval rules", budgets),
        "/rooms": ("Meeting rooms", rooms), "/shop": ("Office supplies shop", shop),
        "/search": ("Search", search_results),
    }
    if path in static:
        return static[path][0], static[path][1], ()
    kind, _, key = path.strip("/").partition("/")
    if kind == "people" and (p := site.person(key)):
        return p.name, person, (key,)
    if kind == "teams" and (t := site.team(key)):
        return f"{t.name} team", team, (key,)
    if kind == "wiki" and key.startswith("team-") and (t := site.team(key[5:])):
        return f"{t.name} handbook", handbook, (key[5:],)
    if kind == "wiki" and (page := site.page(key)):
        return page.title, wiki_page, (key,)
    if kind == "rooms" and (r := site.room(key)):
        return f"{r.name} ({r.id})", room, (r.id,)
    if kind == "forms" and key in FORMS:
        return FORMS[key].title, form, (key,)
    if kind == "confirmation" and any(r["ref"] == key for r in s.submissions):
        return "Submission received", confirmation, (key,)
    return None


def render(s: WebState, url: str) -> Page:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    found = _route(s, parts.path or "/")
    if found is None:
        raise ToolError(f"404 not found: {url} (start from {BASE}/ or use search)")
    title, handler, args = found
    w = Writer(url, title)
    handler(s, w, query, *args)
    return w.page()


def search_url(query: str) -> str:
    return f"{BASE}/search?q={quote_plus(query)}"

