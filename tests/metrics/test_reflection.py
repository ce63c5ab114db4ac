"""Reflection figures of scripted agents whose behaviour is known by construction, run through the
real runner and store and read back from the stored steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.metrics import SummaryOptions, build_summary
from arena.metrics.groups import Group
from arena.store import Store
from arena.types import Action, EpisodeKey
from tests.metrics.ledger import Plan, read, run, values_for, write

SEEDS = range(12)


def recovering(key: EpisodeKey) -> Plan:
    """Reads a note that is not there yet (an own error), writes it, reads it back: every error repaired."""
    v = values_for(key)
    return Plan([read("alpha"), write("alpha", v["alpha"]), read("alpha"),
                 read("beta"), write("beta", v["beta"]), read("beta")])


def blind(key: EpisodeKey) -> Plan:
    """Repeats a failing read three times unchanged, then writes and submits without looking."""
    v = values_for(key)
    return Plan([read("gamma"), read("gamma"), read("gamma"), write("alpha", v["alpha"]), write("beta", v["beta"])])


def unverified(key: EpisodeKey) -> Plan:
    v = values_for(key)
    return Plan([write("alpha", v["alpha"]), write("beta", v["beta"])])


def checker(key: EpisodeKey) -> Plan:
    """Checks its work with a `run` tool whose name says it looks."""
    v = values_for(key)
    return Plan([write("alpha", v["alpha"]), write("beta", v["beta"]), Action.call("check_ledger")])


def reflective(key: EpisodeKey) -> Plan:
    v = values_for(key)
    return Plan([read("gamma"), Action.call("reflect", thought="gamma does not exist; write the notes instead"),
                 write("alpha", v["alpha"]), write("beta", v["beta"]), read("beta")])


def cycling(key: EpisodeKey) -> Plan:
    """Alternates two failing reads: an A-B-A-B loop, with no blind repeat in it."""
    v = values_for(key)
    return Plan([read("x"), read("y"), read("x"), read("y"), write("alpha", v["alpha"]), write("beta", v["beta"])])


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Group]:
    db = tmp_path_factory.mktemp("reflection") / "r.db"
    agents = {"recovering": recovering, "blind": blind, "unverified": unverified, "checker": checker,
              "reflective": reflective, "cycling": cycling}
    run(db, "r", agents, seeds=SEEDS)
    built = build_summary(Store(db, read_only=True), "r", SummaryOptions(bootstrap=200))
    return {a: built.group(a, "agent") for a in agents}  # type: ignore[misc]


def test_an_agent_that_recovers_from_every_error(summary: dict[str, Group]) -> None:
    g = summary["recovering"]
    assert g.success.value == 1.0
    r = g.reflection
    assert r.own_errors == 2 * len(SEEDS) and r.fault_errors == 0
    assert r.recovery.value == 1.0 and r.corrected_at_once.value == 1.0 and r.blind_repeats == 0
    assert r.verified.value == 1.0 and r.looped.value == 0.0
    assert r.recovery.low is not None and r.recovery.low > 0.7 and not r.recovery.few


def test_an_agent_that_repeats_blindly(summary: dict[str, Group]) -> None:
    r = summary["blind"].reflection
    assert r.own_errors == 3 * len(SEEDS)
    assert r.blind_repeats == 2 * len(SEEDS) and r.blind_repeat.value == pytest.approx(2 / 3)
    assert r.recovery.value == 0.0 and r.good_retries == 0
    assert r.corrected.value == 1.0  # each failed read is followed, at last, by a different call
    assert r.corrected_at_once.value == pytest.approx(1 / 3)  # only the last of each run of repeats at once
    assert r.looped.value == 1.0 and r.loops == len(SEEDS)  # three identical steps in a row


def test_an_agent_that_never_verifies(summary: dict[str, Group]) -> None:
    r = summary["unverified"].reflection
    assert r.verified.value == 0.0 and r.verified.n == len(SEEDS)
    assert r.verified.high is not None and r.verified.high < 0.3
    assert r.own_errors == 0 and r.recovery.value is None  # no error: no recovery rate to show
    assert summary["blind"].reflection.verified.value == 0.0


def test_a_run_tool_named_as_a_check_verifies(summary: dict[str, Group]) -> None:
    assert summary["checker"].reflection.verified.value == 1.0


def test_reflect_calls_and_a_changed_course(summary: dict[str, Group]) -> None:
    r = summary["reflective"].reflection
    assert r.reflects == len(SEEDS) and r.reflect_changed.value == 1.0
    assert r.verified.value == 1.0


def test_an_a_b_cycle_is_a_loop_without_blind_repeats(summary: dict[str, Group]) -> None:
    r = summary["cycling"].reflection
    assert r.loops == len(SEEDS) and r.blind_repeats == 0 and r.own_errors == 4 * len(SEEDS)


def test_loop_thresholds_are_configurable(tmp_path: Path) -> None:
    store = run(tmp_path / "l.db", "l", {"blind": blind}, seeds=range(3))
    strict = build_summary(store, "l", SummaryOptions(bootstrap=200, reflection={"loop_repeats": 4}))
    assert strict.group("blind", "agent").reflection.loops == 0  # type: ignore[union-attr]


GREETING = "tests.minimal_family:GreetingFamily"


def greeting(key: EpisodeKey) -> str:
    from tests.minimal_family import GreetingFamily

    return GreetingFamily().generate(key.seed, key.split).params["expected"]


def test_shell_commands_are_classified_by_what_they_run(tmp_path: Path) -> None:
    """In a real (process) sandbox: a redirect changes, `cat` reads back, a write piped into a read
    in one command verifies itself."""
    def blind_write(key: EpisodeKey) -> Plan:
        return Plan([Action.call("bash", command=f"printf '%s' '{greeting(key)}' > greeting.txt")])

    def read_back(key: EpisodeKey) -> Plan:
        return Plan([Action.call("bash", command=f"printf '%s' '{greeting(key)}' > greeting.txt"),
                     Action.call("bash", command="cat greeting.txt")])

    def in_one(key: EpisodeKey) -> Plan:
        return Plan([Action.call("bash", command=f"echo '{greeting(key)}' > greeting.txt && cat greeting.txt")])

    def read_then_write(key: EpisodeKey) -> Plan:
        return Plan([Action.call("read_file", path="greeting.txt"),
                     Action.call("write_file", path="greeting.txt", content=greeting(key))])

    agents = {"blind_write": blind_write, "read_back": read_back, "in_one": in_one, "read_then_write": read_then_write}
    store = run(tmp_path / "s.db", "s", agents, seeds=range(3), families=[GREETING],
                sandbox={"kind": "process", "unsafe_local": True})
    built = build_summary(store, "s", SummaryOptions(bootstrap=200))
    verified = {a: built.group(a, "agent").reflection.verified.value for a in agents}  # type: ignore[union-attr]
    assert verified == {"blind_write": 0.0, "read_back": 1.0, "in_one": 1.0, "read_then_write": 0.0}
    assert all(built.group(a, "agent").success.value == 1.0 for a in agents)  # type: ignore[union-attr]
