"""The data family: generation, answer reading, reference computations, and the oracle/random sweeps."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
from collections.abc import Callable
from datetime import date
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from statistics import mean

import pytest

from arena.environments._kit import single_number as parse_number
from arena.environments.data import DataFamily
from arena.environments.data.answers import Expected, judge
from arena.sandbox import SandboxConfig
from arena.testing.family_check import Replay, replay
from arena.types import SPLITS, Task, ToolCall

FAMILY = DataFamily()
SEEDS = range(100)
PROCESS = SandboxConfig(kind="process", unsafe_local=True)


@pytest.fixture
def debian_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run sandboxed commands with the host's Debian python3, as bwrap does."""
    if os.path.exists("/usr/bin/python3"):
        monkeypatch.setenv("PATH", f"/usr/bin:/bin:{os.environ['PATH']}")


def all_tasks() -> list[Task]:
    return [FAMILY.generate(seed, split) for split in SPLITS for seed in SEEDS]


async def play(task: Task, calls: list[ToolCall], config: SandboxConfig = PROCESS) -> Replay:
    return await replay(FAMILY, task, calls, sandbox=config)


def submit(answer: str) -> ToolCall:
    return ToolCall(name="submit", arguments={"answer": answer})


# ------------------------------------------------------------------ generation


def test_every_template_appears() -> None:
    for split in SPLITS:
        assert {FAMILY.generate(seed, split).template for seed in SEEDS} == set(FAMILY.templates)
    assert len(FAMILY.templates) >= 5


def test_generation_is_deterministic() -> None:
    for seed, split in [(0, "dev"), (5, "test"), (31, "dev"), (98, "test")]:
        assert FAMILY.generate(seed, split).model_dump() == FAMILY.generate(seed, split).model_dump()


def test_dev_and_test_splits_differ() -> None:
    for seed in range(20):
        dev, test = FAMILY.generate(seed, "dev"), FAMILY.generate(seed, "test")
        assert dev.template == test.template and dev.files != test.files


def test_difficulties_minutes_and_question_kinds_vary() -> None:
    tasks = all_tasks()
    assert {(t.template, t.difficulty) for t in tasks} == {(n, d) for n in FAMILY.templates for d in range(1, 6)}
    kinds = {t.params["question"] for t in tasks}
    assert len(kinds) >= 20, kinds
    for name in FAMILY.templates:  # harder questions on more data take a person longer
        mine = [t for t in tasks if t.template == name]
        minutes = [mean(t.human_minutes for t in mine if t.difficulty == d) for d in range(1, 6)]
        assert minutes == sorted(minutes) and minutes[-1] >= 3 * minutes[0], (name, minutes)


def test_instructions_state_the_format_and_do_not_leak_the_answer() -> None:
    for task in all_tasks():
        assert len(set(task.instructions)) >= 3
        expected = Expected.model_validate(task.params["expected"])
        shown = expected.show()  # a list's bounds may be named in the question, the whole list not
        for text in task.instructions:
            assert "Answer with" in text
            if len(shown) >= 4:  # short numbers occur naturally ("2 decimals")
                assert not re.search(rf"(?<![\w.]){re.escape(shown)}(?![\w])", text), (task.id, shown)


# ------------------------------------------------------------------ reading answers


@pytest.mark.parametrize(
    ("answer", "ok"),
    [
        ("1234.56", True), ("$1,234.56", True), ("The answer is 1,234.56.", True), (" '1234.56' ", True),
        ("1234.56 EUR", True), ("1234.565", True), ("1234.57", True), ("1234.58", False), ("1,234", False),
        ("1234.56 or 1234.57", False), ("", False),
    ],
)
def test_money_answers_are_lenient_on_format_strict_on_value(answer: str, ok: bool) -> None:
    assert judge(Expected(kind="number", value=1234.56, tolerance=0.01), answer)[0] is ok


def test_integers_text_and_lists() -> None:
    count = Expected(kind="integer", value=17)
    assert judge(count, "17")[0] and judge(count, "**17** requests")[0] and judge(count, "17.0")[0]
    assert not judge(count, "17.5")[0] and not judge(count, "18")[0]
    name = Expected(kind="text", value="Ana Lima", accepted=["Lima, Ana"])
    assert judge(name, " ana lima. ")[0] and judge(name, '"Ana Lima"')[0] and judge(name, "Answer: Ana Lima")[0]
    assert not judge(name, "Ana Lim")[0]
    versions = Expected(kind="list", value=["1.9.3", "1.10.0"], ordered=True)
    assert judge(versions, "1.9.3, 1.10.0")[0] and judge(versions, "[1.9.3; 1.10.0]")[0]
    assert not judge(versions, "1.10.0, 1.9.3")[0] and not judge(versions, "1.9.3")[0]
    sensors = Expected(kind="list", value=["attic", "cellar"])
    assert judge(sensors, "cellar, attic")[0] and not judge(sensors, "cellar, attic, garage")[0]
    assert not judge(sensors, "attic, attic")[0] and not judge(sensors, "attic, cellar, cellar")[0]


def test_every_candidate_at_once_is_no_answer() -> None:
    """An answer that lists every value the question could have is wrong, whatever its kind."""
    assert not judge(Expected(kind="integer", value=17), "16 17 18")[0]
    assert not judge(Expected(kind="number", value=3.5, tolerance=0.05), "3.4, 3.5, 3.6")[0]
    rep = Expected(kind="text", value="Ana Lima")
    assert not judge(rep, "Ana Lima, Tom Becker, Lena Novak")[0] and not judge(rep, "Ana Lima or Tom Becker")[0]
    assert parse_number("\u22123.5 °C") == -3.5 and parse_number("12,5") is None


# ------------------------------------------------------------------ sweeps


@pytest.mark.usefixtures("debian_python")
async def test_oracle_solves_every_seed_by_computing_the_answer() -> None:
    """The reference computation really prints the expected answer (the oracle's submit alone would
    not show that). The oracle and random sweeps through the runner are in tests/test_acceptance.py."""
    tasks = all_tasks()
    outcomes: list[Replay] = []
    for start in range(0, len(tasks), 10):
        outcomes += await asyncio.gather(*(play(t, FAMILY.solution(t)) for t in tasks[start:start + 10]))
    for task, result in zip(tasks, outcomes, strict=True):
        assert result.checks.success, (task.id, result.checks)
        computed = result.results[0]
        assert not computed.is_error, computed.output
        printed = computed.output.rsplit("[exit code", 1)[0]
        assert judge(Expected.model_validate(task.params["expected"]), printed)[0], (task.id, printed)


@pytest.mark.usefixtures("debian_python")
async def test_python_tool_errors_are_tool_errors() -> None:
    task = FAMILY.generate(0, "dev")
    calls = [ToolCall(name="python", arguments={"code": code}) for code in ("print(open('nope.csv').read())",
                                                                          "print(6 * 7)")]
    failed, worked = (await play(task, calls)).results
    assert failed.is_error and "FileNotFoundError" in failed.output
    assert not worked.is_error and worked.output.startswith("42")


# ------------------------------------------------------------------ wrong-but-plausible answers


def rows(task: Task, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(task.files[name])))


def trap_sales_total(task: Task) -> str:
    """Forgets that region names are written inconsistently."""
    region = re.search(r"region (\w+)", task.instruction(0)).group(1)  # type: ignore[union-attr]
    total = sum(int(r["units"]) * Decimal(r["unit_price"].replace(",", ""))
                for r in rows(task, "sales.csv") if r["units"] and r["region"] == region)
    return f"{total:.2f}"


def trap_orders_count(task: Task) -> str:
    """Counts every order, refunded and cancelled ones too."""
    country = re.search(r"from (\w+)\?", task.instruction(0)).group(1)  # type: ignore[union-attr]
    customers = {c["customer_id"]: c for c in json.loads(task.files["customers.json"])}
    return str(sum(1 for r in rows(task, "orders.csv")
                   if customers[r["customer_id"].upper()]["country"] == country))


def trap_megabytes(task: Task) -> str:
    """Divides by 1,000,000 instead of 1,048,576."""
    return f"{Expected.model_validate(task.params['expected']).value * 1048576 / 1_000_000:.2f}"  # type: ignore[operator]


def trap_other_rounding(task: Task) -> str:
    """Rounds the exact .x5 tie with the rule the question did not ask for."""
    value = Decimal(str(Expected.model_validate(task.params["expected"]).value))
    half_up = "round half up" in task.instruction(0)
    exact = value - Decimal("0.05") if half_up else value + Decimal("0.05")
    return str(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN if half_up else ROUND_HALF_UP))


def trap_end_exclusive(task: Task) -> str:
    """Counts leave days as end minus start, forgetting that both ends belong to the leave."""
    employee = re.search(r"does (.+?) have in total", task.instruction(0)).group(1)  # type: ignore[union-attr]
    return str(sum((date.fromisoformat(r["end_date"]) - date.fromisoformat(r["start_date"])).days
                   for r in rows(task, "leave_requests.csv")
                   if r["employee"] == employee and r["type"] == "vacation" and r["status"].lower() == "approved"))


def trap_string_max_version(task: Task) -> str:
    """Takes the largest version string, so 1.9.4 beats 1.11.0."""
    package = re.search(r"version of (\S+) that", task.instruction(0)).group(1)  # type: ignore[union-attr]
    return max(r["version"] for r in json.loads(task.files["releases.json"]) if r["package"] == package)


TRAPS: dict[str, Callable[[Task], str]] = {
    "sales_total": trap_sales_total,
    "orders_count": trap_orders_count,
    "log_static_mib": trap_megabytes,
    "sensors_humidity_rounding": trap_other_rounding,
    "leave_calendar_days": trap_end_exclusive,
    "releases_latest": trap_string_max_version,
}


@pytest.mark.usefixtures("debian_python")
@pytest.mark.parametrize("question", sorted(TRAPS))
async def test_a_plausible_wrong_answer_fails_answer_value(question: str) -> None:
    for task in (FAMILY.generate(seed, split) for split in SPLITS for seed in SEEDS):
        if task.params["question"] != question:
            continue
        wrong = TRAPS[question](task)
        expected = Expected.model_validate(task.params["expected"])
        if judge(expected, wrong)[0]:
            continue  # the trap happens to give the right answer on this data
        result = await play(task, [submit(wrong)])
        assert result.passed == {"answer_value": False}, (task.id, wrong)
        right = await play(task, [submit(f"The answer is {expected.show()}.")])
        assert right.checks.success, task.id
        return
    pytest.fail(f"no {question} task where the trap gives a wrong answer")


# ------------------------------------------------------------------ bubblewrap


@pytest.mark.bwrap
@pytest.mark.usefixtures("need_bwrap")
async def test_oracle_in_bwrap() -> None:
    pytest.importorskip("arena.sandbox.bwrap", reason="the bwrap sandbox is not written yet")
    for seed in range(len(FAMILY.templates) * 4, len(FAMILY.templates) * 5):  # the top level
        task = FAMILY.generate(seed, "test")
        result = await play(task, FAMILY.solution(task), SandboxConfig(kind="bwrap"))
        assert result.checks.success, (task.id, result.checks)
