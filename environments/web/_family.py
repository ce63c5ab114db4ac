"""The web family: a generated company intranet browsed as text pages (wiki, staff directory,
meeting rooms, supplies shop, forms). No sandbox and no internet: the site lives in the family's state."""

from __future__ import annotations

from collections.abc import Callable

from arena.protocols import Sandbox, State
from arena.tools import Tool
from arena.types import CheckResult, Limits, Split, Subgoal, Task, ToolCall

from .._kit import rng_for, steps_from, template_for
from ._browser import browser_tools
from ._checks import check_answer, check_no_submissions, check_submissions
from ._formtasks import book_room, order_supplies, visitor_registration
from ._generate import SiteBuilder, base_site
from ._lookups import manager_extension, oncall_office, similar_names
from ._scenario import Scenario
from ._session import WebState
from ._site import Site

TEMPLATES: dict[str, Callable[[SiteBuilder], Scenario]] = {
    "manager_extension": manager_extension,
    "oncall_office": oncall_office,
    "similar_names": similar_names,
    "book_room": book_room,
    "order_supplies": order_supplies,
    "visitor_registration": visitor_registration,
}
GOALS = {
    "manager_extension": "Find the manager's phone extension and submit it, changing nothing on the site.",
    "oncall_office": "Find this week's on-call person's office and submit its code, changing nothing on the site.",
    "similar_names": "Find the right person's manager and submit their email, changing nothing on the site.",
    "book_room": "Book the one room that meets every constraint, and nothing else.",
    "order_supplies": "Place the one supplies order with the right item, quantity, cost center and approver.",
    "visitor_registration": "Register the visit with the right host, building and date, and nothing else.",
}


class WebFamily:
    name = "web"
    version = "1"
    description = "Browse a generated company intranet: multi-hop look-ups, room bookings, orders and forms."
    templates = tuple(TEMPLATES)
    image = None

    def generate(self, seed: int, split: Split) -> Task:
        rng = rng_for(self.name, split, seed)
        template = template_for(seed, self.templates)
        builder = base_site(rng, split, difficulty=rng.choice([1, 2, 3]))
        scenario = TEMPLATES[template](builder)
        checks = ["answer_value", "no_side_effects"] if scenario.answer else ["form_recorded"]
        return Task(
            family=self.name,
            version=self.version,
            seed=seed,
            split=split,
            template=template,
            instructions=scenario.instructions,
            subgoals=[Subgoal(name=template, description=GOALS[template], checks=checks)],
            limits=Limits(max_steps=25 + 5 * scenario.difficulty),
            human_minutes=scenario.minutes,
            difficulty=scenario.difficulty,
            params={
                "site": builder.site.model_dump(mode="json"),
                "answer": scenario.answer,
                "expected": scenario.expected,
                "secrets": scenario.secrets,
                "solution": scenario.solution,
            },
        )

    def tools(self, task: Task) -> list[Tool]:
        return browser_tools()

    async def setup(self, task: Task, sandbox: Sandbox) -> State:
        return WebState(Site.model_validate(task.params["site"]))

    async def check(self, task: Task, sandbox: Sandbox, state: State) -> CheckResult:
        assert isinstance(state, WebState)
        if task.params["answer"]:
            checks = [check_answer(task.params["answer"], state.answer), check_no_submissions(state)]
        else:
            checks = [check_submissions(task.params["expected"], state)]
        return CheckResult(checks=checks)

    def solution(self, task: Task) -> list[ToolCall]:
        return steps_from(task.params["solution"])
