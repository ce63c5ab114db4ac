"""The web family: a generated company intranet browsed as text pages (wiki, staff directory,
meeting rooms, supplies shop, forms). No sandbox and no internet: the site lives in the family's state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from arena.protocols import GradingView, Sandbox, State
from arena.tools import Tool
from arena.types import CheckResult, Limits, Split, Subgoal, Task, ToolCall

from .._kit import level_for, rng_for, sealed, steps_from, template_for
from ._browser import browser_tools
from ._checks import check_answer, check_filled, check_no_submissions, check_submissions
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
    "book_room": "Fill the booking form for the one room that meets every constraint.",
    "order_supplies": "Fill the supplies order with the right item, quantity, cost center and approver.",
    "visitor_registration": "Fill the visitor form with the right host, building and date.",
}
SUBMIT_GOAL = "Submit the form so the site records it, and submit nothing else."


class WebFamily:
    name = "web"
    version = "2"
    description = "Browse a generated company intranet: multi-hop look-ups, room bookings, orders and forms."
    templates = tuple(TEMPLATES)
    image = None

    def generate(self, seed: int, split: Split, salt: str | None = None) -> Task:
        rng = rng_for(self.name, split, seed, salt)
        template = template_for(seed, self.templates)
        builder = base_site(rng, split, difficulty=level_for(seed, self.templates))
        scenario = TEMPLATES[template](builder)
        if scenario.answer:
            subgoals = [Subgoal(name=template, description=GOALS[template], checks=["answer_value", "no_side_effects"])]
        else:
            subgoals = [Subgoal(name="fill_form", description=GOALS[template], checks=["form_filled"]),
                        Subgoal(name="submit_form", description=SUBMIT_GOAL,
                                checks=["form_recorded", "no_other_submissions"])]
        solution = tag_steps(scenario.solution, [g.name for g in subgoals])
        task = Task(
            family=self.name,
            version=self.version,
            seed=seed,
            split=split,
            template=template,
            instructions=scenario.instructions,
            subgoals=subgoals,
            limits=Limits(max_steps=25 + 5 * scenario.difficulty),
            human_minutes=scenario.minutes,
            difficulty=scenario.difficulty,
            params={
                "site": builder.site.model_dump(mode="json"),
                "answer": scenario.answer,
                "expected": scenario.expected,
                "secrets": scenario.secrets,
                "solution": solution,
            },
        )
        return sealed(task, salt)

    def tools(self, task: Task) -> list[Tool]:
        return browser_tools()

    async def setup(self, task: Task, sandbox: Sandbox) -> State:
        return WebState(Site.model_validate(task.params["site"]))

    async def check(self, task: Task, sandbox: Sandbox | GradingView, state: State) -> CheckResult:
        assert isinstance(state, WebState)
        if task.params["answer"]:
            checks = [check_answer(task.params["answer"], state.answer), check_no_submissions(state)]
        else:
            expected = task.params["expected"]
            checks = [check_filled(expected, state), *check_submissions(expected, state)]
        return CheckResult(checks=checks)

    def solution(self, task: Task) -> list[ToolCall]:
        return steps_from(task.params["solution"])


def tag_steps(calls: list[dict[str, Any]], subgoals: list[str]) -> list[dict[str, Any]]:
    """Browsing and typing serve the first subgoal; submitting the form the second."""
    first = next((i for i, c in enumerate(calls) if c["name"] == "submit_form"), len(calls))
    return [{**c, "subgoal": subgoals[0] if i < first or len(subgoals) == 1 else subgoals[1]}
            for i, c in enumerate(calls)]
