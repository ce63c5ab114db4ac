"""The helpdesk family: the oracle solves every task, the random agent does not, and the checks
catch policy violations, collateral writes and replies that leave out what the customer needs."""

from __future__ import annotations

from statistics import mean
from typing import Any

import pytest

from arena.environments.helpdesk import HelpdeskFamily
from arena.environments.helpdesk._checks import amounts_in, fact_present, money_in
from arena.errors import ToolError
from arena.sandbox import NullSandbox
from arena.testing.family_check import Replay, replay
from arena.tools import Toolbox, ToolContext, run_tool
from arena.types import Task, ToolCall

FAMILY = HelpdeskFamily()
SEEDS = range(100)


async def play(task: Task, calls: list[ToolCall]) -> Replay:
    return await replay(FAMILY, task, [*calls, ToolCall(name="submit")])


def calls_of(task: Task) -> list[ToolCall]:
    return FAMILY.solution(task)


def scripted(calls: list[ToolCall]) -> list[ToolCall]:
    return calls


def task_where(template: str, predicate: Any = lambda t: True, split: str = "dev") -> Task:
    for seed in range(400):
        task = FAMILY.generate(seed, split)  # type: ignore[arg-type]
        if task.template == template and predicate(task):
            return task
    raise AssertionError(f"no {template} task matches")


def failed(result: Replay) -> set[str]:
    return {c.name for c in result.checks.checks if not c.passed}


def asked_item(task: Task, order_id: str) -> dict[str, Any]:
    """The item of the order that the customer's message names."""
    body = task.params["db"]["tickets"][task.params["ticket_id"]]["body"]
    return next(i for i in task.params["db"]["orders"][order_id]["items"] if i["name"] in body)


def with_reply(calls: list[ToolCall], message: str) -> list[ToolCall]:
    return [c.model_copy(update={"arguments": {**c.arguments, "message": message}}) if c.name == "reply" else c
            for c in calls]  # type: ignore[dict-item]


# ---------------------------------------------------------------- acceptance


# The oracle (100%) and random (<10%) sweeps over seeds 0-99 of both splits run through the real
# runner in tests/test_acceptance.py; generic generation properties in tests/test_family_contract.py.


# ---------------------------------------------------------------- generation


def test_every_template_appears_and_difficulty_varies() -> None:
    tasks = [FAMILY.generate(s, "dev") for s in SEEDS]
    assert {t.template for t in tasks} == set(FAMILY.templates)
    assert {t.difficulty for t in tasks} == {1, 2, 3, 4, 5}
    assert all(len(set(t.instructions)) >= 3 for t in tasks)
    for template in FAMILY.templates:  # more distractors and requests take a person longer
        minutes = [mean(t.human_minutes for t in tasks if t.template == template and t.difficulty == d)
                   for d in range(1, 6)]
        assert minutes == sorted(minutes) and minutes[-1] > 1.5 * minutes[0], (template, minutes)
    assert {len(t.params["requests"]) for t in tasks if t.template == "multi_request"} == {2, 3}


def test_generation_is_deterministic() -> None:
    for seed in (0, 7, 42):
        assert FAMILY.generate(seed, "dev").model_dump() == FAMILY.generate(seed, "dev").model_dump()


def test_dev_and_test_use_different_customers_and_catalogues() -> None:
    def vocabulary(split: str) -> tuple[set[str], set[str]]:
        names, products = set(), set()
        for seed in range(40):
            db = FAMILY.generate(seed, split).params["db"]  # type: ignore[arg-type]
            names |= {c["name"].split()[0] for c in db["customers"].values()}
            products |= {p["name"] for p in db["products"].values()}
        return names, products

    dev_names, dev_products = vocabulary("dev")
    test_names, test_products = vocabulary("test")
    assert not dev_names & test_names
    assert not dev_products & test_products


def test_instructions_do_not_leak_grading_material() -> None:
    for seed in SEEDS:
        task = FAMILY.generate(seed, "test")
        hidden = {task.params["customer_id"]}
        for write in task.params["reference_writes"]:
            args = write["arguments"]
            hidden |= set(args.get("item_ids", [])) | {args.get("item_id"), args.get("new_variant_id")} - {None}
        for text in task.instructions:
            assert not [h for h in hidden if h in text], (task.id, hidden)
            for fact in task.params["facts"]:
                if "amount_cents" in fact:  # amounts are for the agent to look up, not to be read off
                    assert fact["amount_cents"] not in amounts_in(text.split("customer-support policy")[0])


# ---------------------------------------------------------------- negative cases, one per kind of mistake


async def test_refunding_outside_the_window_is_a_policy_violation() -> None:
    task = task_where("refund_outside_window")
    order_id = task.params["requests"][0]["order_id"]
    item = asked_item(task, order_id)
    calls = calls_of(task)
    refund = ToolCall(name="refund", arguments={"order_id": order_id, "item_ids": [item["id"]], "reason": "asked"})
    result = await play(task, scripted([*calls[:-1], refund, calls[-1]]))
    assert failed(result) == {"database_state", "no_forbidden_action"}


async def test_refunding_the_wrong_item_is_collateral_damage() -> None:
    task = task_where("refund_in_window", lambda t: t.difficulty >= 2)
    write = task.params["reference_writes"][0]["arguments"]
    order = task.params["db"]["orders"][write["order_id"]]
    wrong = next(i["id"] for i in order["items"] if i["id"] not in write["item_ids"])
    calls = [c.model_copy(update={"arguments": {**c.arguments, "item_ids": [wrong]}}) if c.name == "refund" else c
             for c in calls_of(task)]  # type: ignore[dict-item]
    result = await play(task, scripted(calls))
    assert {"database_state", "no_forbidden_action"} <= failed(result)


async def test_refunding_above_the_limit_instead_of_escalating_fails() -> None:
    task = task_where("refund_over_threshold")
    order_id = task.params["requests"][0]["order_id"]
    item = asked_item(task, order_id)
    calls = [c for c in calls_of(task) if c.name != "escalate"]
    calls.insert(-1, ToolCall(name="refund", arguments={"order_id": order_id, "item_ids": [item["id"]], "reason": "x"}))
    result = await play(task, scripted(calls))
    assert {"database_state", "no_forbidden_action"} <= failed(result)


async def test_changing_the_address_of_a_shipped_order_fails() -> None:
    task = task_where("address_change", lambda t: t.params["requests"][0]["outcome"] == "shipped")
    order_id = task.params["requests"][0]["order_id"]
    update = ToolCall(name="update_address", arguments={
        "order_id": order_id, "street": "1 Main Street", "city": "Springfield", "state": "IL", "zip": "62701"})
    calls = calls_of(task)
    result = await play(task, scripted([*calls[:-1], update, calls[-1]]))
    assert failed(result) == {"database_state", "no_forbidden_action"}


async def test_acting_on_an_order_of_another_account_fails() -> None:
    task = task_where("identity_mismatch")
    order_id = task.params["requests"][0]["order_id"]
    calls = calls_of(task)
    cancel = ToolCall(name="cancel_order", arguments={"order_id": order_id, "reason": "customer asked"})
    result = await play(task, scripted([*calls[:-1], cancel, calls[-1]]))
    assert {"database_state", "no_forbidden_action"} <= failed(result)


async def test_a_reply_without_the_refund_amount_fails_only_the_facts_check() -> None:
    task = task_where("refund_in_window")
    result = await play(task, scripted(with_reply(calls_of(task), "Hello, your refund is done. Best regards.")))
    assert failed(result) == {"reply_mentions_facts"}


async def test_no_reply_fails_the_reply_checks() -> None:
    task = task_where("cancellation", lambda t: bool(t.params["reference_writes"]))
    result = await play(task, scripted([c for c in calls_of(task) if c.name != "reply"]))
    assert failed(result) == {"reply_sent", "reply_mentions_facts"}
    assert result.checks.score == pytest.approx(1 / 3)  # the cancellation was made; the reply is missing


async def test_multi_request_doing_both_requests_fails() -> None:
    task = task_where("multi_request", lambda t: any(r["kind"] == "cancel" and r["outcome"] != "ok"
                                                     for r in t.params["requests"]))
    refused = next(r for r in task.params["requests"] if r["outcome"] != "ok")
    calls = calls_of(task)
    cancel = ToolCall(name="cancel_order", arguments={"order_id": refused["order_id"], "reason": "asked"})
    result = await play(task, scripted([*calls[:-1], cancel, calls[-1]]))
    assert {"database_state", "no_forbidden_action"} <= failed(result)


# ---------------------------------------------------------------- any route to the same state passes


async def test_another_route_and_wording_to_the_same_state_passes() -> None:
    task = task_where("address_change", lambda t: t.params["requests"][0]["outcome"] == "ok")
    write = task.params["reference_writes"][0]["arguments"]
    street = write["street"].lower().replace("street", "St.").replace("road", "Rd").replace("avenue", "ave")
    update = ToolCall(name="update_address", arguments={**write, "street": street, "city": write["city"].upper()})
    message = f"Done! Your order now goes to {street}, {write['city']} {write['zip']}."
    calls = [ToolCall(name="get_order", arguments={"order_id": write["order_id"]}), update,
             ToolCall(name="reply", arguments={"ticket_id": task.params["ticket_id"], "message": message})]
    result = await play(task, scripted(calls))
    assert result.checks.success, result.checks


EVERY_EXCUSE = (
    "I am sorry: the return window has passed, the item is out of stock, the order has already shipped, "
    "I have escalated your ticket to a supervisor, and I could not verify that the order belongs to your account."
)


@pytest.mark.parametrize("template", ["refund_outside_window", "exchange", "address_change", "cancellation",
                                      "identity_mismatch"])
async def test_a_reply_listing_every_excuse_fails(template: str) -> None:
    """Changing nothing and giving every possible reason states the right one too, and must still fail."""
    task = task_where(template, lambda t: not t.params["reference_writes"])
    reply = ToolCall(name="reply", arguments={"ticket_id": task.params["ticket_id"], "message": EVERY_EXCUSE})
    result = await play(task, [reply])
    assert failed(result) == {"reply_consistent"}, result.checks
    right = await play(task, [c for c in calls_of(task) if c.name == "reply"])
    assert right.checks.success, right.checks


async def test_a_reply_quoting_every_amount_fails() -> None:
    task = task_where("refund_in_window", lambda t: t.difficulty >= 3)
    every = sorted({i["amount_cents"] if "amount_cents" in i else i["price_cents"] * i["quantity"]
                    for o in task.params["db"]["orders"].values() for i in o["items"]})
    message = "Refunded: " + ", ".join(f"${c // 100}.{c % 100:02d}" for c in every)
    result = await play(task, with_reply(calls_of(task), message))
    assert failed(result) == {"reply_consistent"}, result.checks


async def test_natural_wording_of_a_granted_request_claims_nothing_it_should_not() -> None:
    for template, message in [
        ("refund_in_window", "Since it is within our {window}-day window, I refunded {amount} to your card."),
        ("exchange", "The exchange is arranged and the return label is on its way to your inbox: {variant}."),
    ]:
        task = task_where(template, lambda t: bool(t.params["reference_writes"]))
        fact = task.params["facts"][0]
        filled = message.format(window=30, amount="${}.{:02d}".format(*divmod(fact.get("amount_cents", 0), 100)),
                                variant=fact.get("any", [""])[0])
        result = await play(task, with_reply(calls_of(task), filled))
        assert result.checks.success, (template, result.checks)


def test_money_is_read_as_money() -> None:
    assert money_in("refunded $1,234.50 and 12.99 to Visa ending 4242 at 742 Elm Street 94110") == {123450, 1299}
    assert money_in("a $45 refund") == {4500} and money_in("size 10.5, 2024-03-05") == set()


def test_reply_facts_are_matched_leniently() -> None:
    assert fact_present({"amount_cents": 1250}, "We refunded 12.5 dollars.")
    assert fact_present({"amount_cents": 123400}, "Refund: $1,234.00")
    assert fact_present({"amount_cents": 4500}, "a refund of $45")
    assert not fact_present({"amount_cents": 4500}, "a refund of $45.50")
    assert fact_present({"any": ["30 day", "window"]}, "outside our 30-day return policy")
    assert fact_present({"any": ["42 Elm Street"]}, "we will ship to 42 elm st.")
    assert not fact_present({"any": ["escalat", "supervisor"]}, "we refunded you")


# ---------------------------------------------------------------- tools


async def test_tools_explain_invalid_requests() -> None:
    task = task_where("exchange", lambda t: t.params["requests"][0]["outcome"] == "no_stock")
    state = await FAMILY.setup(task, NullSandbox())
    ctx = ToolContext(NullSandbox(), task, state)
    box = Toolbox.of(FAMILY.tools(task))

    async def output(name: str, **arguments: Any) -> tuple[bool, str]:
        r = await run_tool(box, ToolCall(name=name, arguments=arguments), ctx)
        return r.is_error, r.output

    assert (await output("get_order", order_id="O-00000"))[0]
    assert "give an email or a name" in (await output("find_customer"))[1]
    order_id = task.params["requests"][0]["order_id"]
    item = asked_item(task, order_id)
    product = task.params["db"]["products"][item["product_id"]]
    empty = next(v for v in product["variants"] if v["stock"] == 0)
    is_error, text = await output("exchange", order_id=order_id, item_id=item["id"], new_variant_id=empty["id"])
    assert is_error and "out of stock" in text
    assert "refund limit" in (await output("read_policy"))[1].lower()
    with pytest.raises(ToolError):
        state.db.order("nope")  # type: ignore[attr-defined]
