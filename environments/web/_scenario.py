"""What a template produces, and the reference route: browsing steps replayed against the generated
site so link numbers are the ones an agent will see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from . import _pools as pools
from ._browser import navigate
from ._pages import render, search_url
from ._session import WebState
from ._site import BASE, Person, Site, Team

INTRANET = f"{BASE}/"


@dataclass
class Scenario:
    difficulty: int
    instructions: list[str]
    solution: list[dict[str, Any]]
    minutes: float
    answer: dict[str, str] | None = None  # {"kind": extension|office|email, "value": ...}
    expected: list[dict[str, Any]] = field(default_factory=list)  # expected submissions {"form", "fields"}
    secrets: list[str] = field(default_factory=list)  # values the instructions must not reveal


class Router:
    """Builds the reference browsing route: follows a link when the current page has one to the
    target, otherwise opens the URL, exactly as a careful agent would."""

    def __init__(self, site: Site) -> None:
        self.state = WebState(site.model_copy(deep=True))
        self.calls: list[dict[str, Any]] = []

    def _call(self, name: str, **arguments: Any) -> None:
        self.calls.append({"name": name, "arguments": arguments})

    def go(self, path: str) -> Router:
        url = BASE + path
        page = self.state.page
        if page is not None and url in page.links:
            self._call("follow_link", link_id=page.links.index(url) + 1)
        else:
            self._call("open_url", url=url)
        navigate(self.state, url)
        return self

    def back(self) -> Router:
        self._call("back")
        self.state.page = render(self.state, self.state.history.pop())
        return self

    def search(self, query: str) -> Router:
        self._call("search", query=query)
        navigate(self.state, search_url(query))
        return self

    def fill(self, form_id: str, values: dict[str, str]) -> Router:
        for name, value in values.items():
            self._call("fill_field", form_id=form_id, field=name, value=value)
        return self

    def submit_form(self, form_id: str) -> Router:
        self._call("submit_form", form_id=form_id)
        return self

    def answer(self, value: str) -> list[dict[str, Any]]:
        self._call("submit", answer=value)
        return self.calls

    def done(self) -> list[dict[str, Any]]:
        self._call("submit")
        return self.calls


def regular_teams(site: Site) -> list[Team]:
    return [t for t in site.teams if t.slug != "leadership"]


def plain_members(site: Site, team: Team) -> list[Person]:
    return [p for p in site.members(team.slug) if p.username != team.lead]


def near_name(name: str) -> str:
    """A name easy to mistake for `name`: a near-identical first name, or the surname plus an s."""
    first, last = name.split(" ", 1)
    return f"{pools.NEAR_FIRST[first]} {last}" if first in pools.NEAR_FIRST else f"{first} {last}s"


def when(day: str) -> str:
    return dt.date.fromisoformat(day).strftime("%A %-d %B %Y")
