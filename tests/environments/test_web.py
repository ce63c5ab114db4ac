"""The web family: the oracle solves every task, the random agent does not, the site validates
forms like a real one, and the checks catch wrong answers, wrong fields and extra submissions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from arena.environments.web import WebFamily
from arena.environments.web._checks import answer_values, check_answer
from arena.sandbox import NullSandbox
from arena.testing.family_check import Replay, replay
from arena.tools import Toolbox, ToolContext, run_tool
from arena.types import Task, ToolCall

FAMILY = WebFamily()
SEEDS = range(100)
BASE = "http://intranet.local"


async def play(task: Task, calls: list[ToolCall]) -> Replay:
    if not calls or calls[-1].name != "submit":
        calls = [*calls, ToolCall(name="submit")]
    return await replay(FAMILY, task, calls)


def task_where(template: str, predicate: Any = lambda t: True, split: str = "dev") -> Task:
    for seed in range(600):
        task = FAMILY.generate(seed, split)  # type: ignore[arg-type]
        if task.template == template and predicate(task):
            return task
    raise AssertionError(f"no {template} task matches")


def scripted(calls: list[ToolCall]) -> list[ToolCall]:
    return calls


def failed(result: Replay) -> set[str]:
    return {c.name for c in result.checks.checks if not c.passed}


def detail(result: Replay, name: str) -> str:
    return next(c.detail for c in result.checks.checks if c.name == name)


def site(task: Task) -> dict[str, Any]:
    return task.params["site"]


def person(task: Task, **match: str) -> dict[str, Any]:
    return next(p for p in site(task)["people"] if all(p[k] == v for k, v in match.items()))


def with_fields(task: Task, changes: dict[str, str]) -> list[ToolCall]:
    """The reference solution with some form fields typed differently, without its final submit."""
    calls = [c for c in FAMILY.solution(task) if c.name != "submit"]
    out = []
    for c in calls:
        args = c.arguments
        if c.name == "fill_field" and isinstance(args, dict) and args["field"] in changes:
            c = c.model_copy(update={"arguments": {**args, "value": changes[args["field"]]}})
        out.append(c)
    return out


async def answered(task: Task, answer: str) -> Replay:
    calls = [c for c in FAMILY.solution(task) if c.name != "submit"]
    return await play(task, [*calls, ToolCall(name="submit", arguments={"answer": answer})])


# ---------------------------------------------------------------- acceptance


# The oracle (100%) and random (<10%) sweeps over seeds 0-99 of both splits run through the real
# runner in tests/test_acceptance.py; generic generation properties in tests/test_family_contract.py.


# ---------------------------------------------------------------- generation


def test_every_template_appears_and_difficulty_varies() -> None:
    tasks = [FAMILY.generate(s, "test") for s in SEEDS]
    assert {t.template for t in tasks} == set(FAMILY.templates)
    assert {t.difficulty for t in tasks} == {1, 2, 3, 4, 5}
    assert all(len(set(t.instructions)) >= 3 for t in tasks)


def test_generation_is_deterministic() -> None:
    for seed in (0, 9, 55):
        assert FAMILY.generate(seed, "test").model_dump() == FAMILY.generate(seed, "test").model_dump()


def test_dev_and_test_sites_differ() -> None:
    def vocabulary(split: str) -> set[str]:
        words: set[str] = set()
        for seed in range(30):
            s = site(FAMILY.generate(seed, split))  # type: ignore[arg-type]
            words |= {p["name"].split()[0] for p in s["people"]} | {b["name"] for b in s["buildings"]}
            words |= {t["name"] for t in s["teams"] if t["slug"] != "leadership"} | {s["company"]}
        return words

    assert not vocabulary("dev") & vocabulary("test")


def test_instructions_do_not_leak_grading_material() -> None:
    for split in ("dev", "test"):
        for seed in SEEDS:
            task = FAMILY.generate(seed, split)  # type: ignore[arg-type]
            assert task.params["secrets"]
            for text in task.instructions:
                leaked = [s for s in task.params["secrets"] if s in text]
                assert not leaked, (task.id, leaked)


# ---------------------------------------------------------------- negative cases per template


async def test_owner_extension_instead_of_manager_fails() -> None:
    task = task_where("manager_extension")
    owner_username = next(w["owner"] for w in site(task)["wiki"] if w["title"] in task.instructions[0])
    owner = person(task, username=owner_username)
    result = await answered(task, owner["ext"])
    assert failed(result) == {"answer_value"}
    assert (await answered(task, f"Ext. {task.params['answer']['value']}")).checks.success


async def test_last_weeks_on_call_office_fails() -> None:
    task = task_where("oncall_office")
    team = next(t for t in site(task)["teams"] if t["name"] in task.instructions[0])
    last_week = person(task, username=team["oncall"][0][1])
    result = await answered(task, last_week["office"])
    assert failed(result) == {"answer_value"}
    assert (await answered(task, task.params["answer"]["value"].lower().replace("-", " "))).checks.success


async def test_namesakes_manager_fails() -> None:
    task = task_where("similar_names")
    target_manager = task.params["answer"]["value"]
    name = next(p["name"] for p in site(task)["people"] if p["name"] in task.instructions[0])
    namesakes = [p for p in site(task)["people"] if p["name"] == name]
    assert len(namesakes) >= 2
    wrong = next(person(task, username=p["manager"])["email"] for p in namesakes
                 if person(task, username=p["manager"])["email"] != target_manager)
    result = await answered(task, wrong)
    assert failed(result) == {"answer_value"}


def booking(room_id: str, fields: dict[str, str]) -> list[ToolCall]:
    calls = [ToolCall(name="open_url", arguments={"url": f"{BASE}/forms/book-room"})]
    calls += [ToolCall(name="fill_field", arguments={"field": k, "value": v})
              for k, v in {**fields, "room": room_id, "title": "Sync"}.items()]
    return [*calls, ToolCall(name="submit_form", arguments={"form_id": "book-room"})]


async def test_booking_a_room_in_another_building_fails_and_an_extra_booking_is_collateral() -> None:
    task = task_where("book_room")
    expected = task.params["expected"][0]["fields"]
    room = next(r for r in site(task)["rooms"] if r["id"] == expected["room"])
    elsewhere = next(r for r in site(task)["rooms"] if r["building"] != room["building"]
                     and r["capacity"] >= int(expected["attendees"])
                     and not any(b[0] == expected["date"] and b[1] < expected["end"] and expected["start"] < b[2]
                                 for b in r["bookings"]))
    result = await play(task, scripted(booking(elsewhere["id"], expected)))
    assert failed(result) == {"form_filled", "form_recorded"}
    assert f"room expected {room['id']!r}" in detail(result, "form_recorded")
    result = await play(task, scripted([*with_fields(task, {}), *booking(elsewhere["id"], expected)]))
    assert failed(result) == {"no_other_submissions"}
    assert "book-room submission" in detail(result, "no_other_submissions")


async def test_filling_without_submitting_is_half_the_work() -> None:
    task = task_where("book_room")
    typed = [c for c in FAMILY.solution(task) if c.subgoal == "fill_form"]
    result = await play(task, typed)
    assert failed(result) == {"form_recorded"} and result.checks.score == 0.5


async def test_booking_every_room_is_collateral() -> None:
    task = task_where("book_room")
    expected = task.params["expected"][0]["fields"]
    every = [c for r in site(task)["rooms"] for c in booking(r["id"], expected)]
    result = await play(task, every)
    assert "no_other_submissions" in failed(result) and not result.checks.success


async def test_supplies_order_with_the_wrong_approver_fails() -> None:
    task = task_where("order_supplies")
    fields = task.params["expected"][0]["fields"]
    approver = person(task, username=fields["approver"])
    lead_of_payer = next(t["lead"] for t in site(task)["teams"] if t["cost_center"] == fields["cost_center"])
    wrong = approver["manager"] if approver["username"] == lead_of_payer else lead_of_payer
    result = await play(task, scripted(with_fields(task, {"approver": wrong})))
    assert failed(result) == {"form_filled", "form_recorded"}
    assert "approver expected" in detail(result, "form_recorded")


async def test_supplies_order_below_the_budget_maximum_fails() -> None:
    task = task_where("order_supplies")
    quantity = int(task.params["expected"][0]["fields"]["quantity"])
    result = await play(task, scripted(with_fields(task, {"quantity": str(quantity - 1)})))
    assert failed(result) == {"form_filled", "form_recorded"}


async def test_visitor_in_the_wrong_building_fails() -> None:
    task = task_where("visitor_registration")
    fields = task.params["expected"][0]["fields"]
    other = next(b["code"] for b in site(task)["buildings"] if b["code"] != fields["building"])
    result = await play(task, scripted(with_fields(task, {"building": other})))
    assert failed(result) == {"form_filled", "form_recorded"}


async def test_visitor_on_the_holiday_is_refused_by_the_site() -> None:
    task = task_where("visitor_registration", lambda t: t.difficulty >= 3)
    visit = dt.date.fromisoformat(task.params["expected"][0]["fields"]["date"])
    holidays = {h["date"] for h in site(task)["holidays"]}
    bridge = next(d for d in holidays if dt.date.fromisoformat(d) < visit
                  and (visit - dt.date.fromisoformat(d)).days <= 4)
    result = await play(task, scripted(with_fields(task, {"date": bridge})))
    assert failed(result) == {"form_filled", "form_recorded"}
    assert "no visitor submission" in detail(result, "form_recorded")
    assert "the site would refuse it" in detail(result, "form_filled")


# ---------------------------------------------------------------- the browser and the site


async def test_browser_stays_on_the_intranet_and_explains_errors() -> None:
    task = task_where("book_room")
    state = await FAMILY.setup(task, NullSandbox())
    ctx = ToolContext(NullSandbox(), task, state)
    box = Toolbox.of(FAMILY.tools(task))

    async def call(name: str, **arguments: Any) -> tuple[bool, str]:
        r = await run_tool(box, ToolCall(name=name, arguments=arguments), ctx)
        return r.is_error, r.output

    for url in ("https://example.com/", "http://intranet.local.evil.com/", "ftp://intranet.local/x"):
        assert (await call("open_url", url=url))[1].startswith("error: no network access beyond the intranet")
    assert "no page is open" in (await call("follow_link", link_id=1))[1]
    assert "404" in (await call("open_url", url="/nowhere"))[1]
    is_error, home = await call("open_url", url="intranet.local")
    assert not is_error and "[1] Home" in home
    assert "there is no [99]" in (await call("follow_link", link_id=99))[1]
    assert "no form" in (await call("fill_field", field="room", value="x"))[1]
    assert not (await call("search", query="handbook"))[0]
    assert not (await call("back"))[0]

    fields = task.params["expected"][0]["fields"]
    room = next(r for r in site(task)["rooms"] if r["id"] == fields["room"])
    await call("open_url", url=f"{BASE}/forms/book-room?room={room['id']}")
    assert "has no field" in (await call("fill_field", field="colour", value="red"))[1]
    is_error, text = await call("submit_form", form_id="book-room")
    assert is_error and "date: required" in text
    for name, value in {**fields, "title": "Sync", "attendees": str(room["capacity"] + 1)}.items():
        await call("fill_field", field=name, value=value)
    is_error, text = await call("submit_form", form_id="book-room")
    assert is_error and f"seats at most {room['capacity']}" in text
    await call("fill_field", field="attendees", value=fields["attendees"])
    await call("fill_field", field="start", value="9.30")
    is_error, text = await call("submit_form", form_id="book-room")
    assert is_error and "HH:MM" in text
    await call("fill_field", field="start", value=fields["start"])
    is_error, text = await call("submit_form", form_id="book-room")
    assert not is_error and "Reference number BK-" in text
    await call("open_url", url=f"{BASE}/forms/book-room?room={room['id']}")
    for name, value in {**fields, "title": "Again"}.items():
        await call("fill_field", field=name, value=value)
    is_error, text = await call("submit_form", form_id="book-room")
    assert is_error and "already booked" in text


def test_answers_are_parsed_leniently_and_checked_strictly() -> None:
    assert answer_values("extension", "Ext. 4821") == {"4821"}
    assert answer_values("office", "room n2 - 214, North House") == {"N2-214"}
    assert answer_values("email", "It is Ana.Berg@corp.example.") == {"ana.berg@corp.example"}
    assert check_answer({"kind": "extension", "value": "4821"}, "x4821").passed
    assert not check_answer({"kind": "extension", "value": "4821"}, "4821 or 4822").passed
    assert not check_answer({"kind": "office", "value": "N2-214"}, None).passed
