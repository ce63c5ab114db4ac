"""The helpdesk family: customer-support tickets handled against a store's back office under a
written policy, in the spirit of tau-bench. No sandbox: the tools act on an in-memory database."""

from __future__ import annotations

from arena.protocols import GradingView, Sandbox, State
from arena.tools import Tool
from arena.types import CheckResult, Limits, Split, Subgoal, Task, ToolCall

from .._kit import level_for, rng_for, sealed, steps_from, template_for
from ._checks import check_collateral, check_database, check_reply
from ._templates import TEMPLATES, build_scenario
from ._tools import HelpdeskState, helpdesk_tools
from ._world import Database


class HelpdeskFamily:
    name = "helpdesk"
    version = "2"
    description = "Customer-support tickets: refunds, exchanges, address changes and cancellations under a policy."
    templates = TEMPLATES
    image = None

    def generate(self, seed: int, split: Split, salt: str | None = None) -> Task:
        rng = rng_for(self.name, split, seed, salt)
        template = template_for(seed, TEMPLATES)
        scenario = build_scenario(template, level_for(seed, TEMPLATES), split, rng)
        changes = bool(scenario.params["reference_writes"])
        reply = Subgoal(name="reply", description="Reply on the ticket with the outcome and the facts the customer "
                        "needs (amounts, address, new variant, or the reason for a refusal), claiming nothing else.",
                        checks=["reply_sent", "reply_mentions_facts", "reply_consistent"])
        if not changes:  # the policy allows no change: the reply is the whole task, and changing nothing its rule
            reply.checks += ["database_state", "no_forbidden_action"]
        act = Subgoal(name="act", description="Make exactly the changes the policy allows (refund, exchange, "
                      "address change, cancellation or escalation) and nothing else.",
                      checks=["database_state", "no_forbidden_action"])
        task = Task(
            family=self.name,
            version=self.version,
            seed=seed,
            split=split,
            template=template,
            instructions=scenario.instructions,
            subgoals=[act, reply] if changes else [reply],
            limits=Limits(max_steps=20 + 5 * scenario.difficulty),
            human_minutes=scenario.human_minutes,
            difficulty=scenario.difficulty,
            params=scenario.params,
        )
        return sealed(task, salt)

    def tools(self, task: Task) -> list[Tool]:
        return helpdesk_tools()

    async def setup(self, task: Task, sandbox: Sandbox) -> State:
        return HelpdeskState(Database.model_validate(task.params["db"]))

    async def check(self, task: Task, sandbox: Sandbox | GradingView, state: State) -> CheckResult:
        assert isinstance(state, HelpdeskState)
        checks = [check_database(task, state), check_collateral(task, state), *check_reply(task, state)]
        return CheckResult(checks=checks)

    def solution(self, task: Task) -> list[ToolCall]:
        return steps_from(task.params["solution"])
