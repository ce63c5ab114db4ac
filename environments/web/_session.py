"""Per-episode state of the intranet and its one browser: the site (which submissions change), the
current page, history, form drafts and recorded submissions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from arena.protocols import State

from ._site import Site


@dataclass
class Page:
    url: str
    title: str
    text: str
    links: list[str]  # link n of the page is links[n - 1]
    forms: list[str]  # ids of the forms on the page


class WebState(State):
    def __init__(self, site: Site) -> None:
        self.site = site
        self.page: Page | None = None
        self.history: list[str] = []  # previous pages, most recent last
        self.drafts: dict[str, dict[str, str]] = {}  # form id -> field -> value typed so far
        self.errors: dict[str, list[str]] = {}  # form id -> errors of the last failed submission
        self.submissions: list[dict[str, Any]] = []  # {"form", "fields", "ref"} of accepted submissions
        self.visited: list[str] = []  # every url opened, in order
