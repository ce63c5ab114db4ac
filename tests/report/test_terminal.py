"""The terminal report of a real run: it fits 80 columns, shows user-chosen names literally, and
says what the JSON says (both read the one summary)."""

from __future__ import annotations

import io
import json
import math

import pytest
from rich.console import Console

from arena.metrics import SummaryOptions
from arena.metrics.summary import Summary
from arena.report import print_compare, print_report, report_data, report_json, runs_table
from arena.store import Store
from arena.types import Action, EpisodeKey, Usage
from tests.metrics.ledger import Plan, read, retry_faults, run, values_for, write

OK = "openai:ok"  # Rich would print ":ok:" as an emoji if it read this as markup
BOLD = "[bold]x"  # and swallow this as a style tag


def good(key: EpisodeKey) -> Plan:
    v = values_for(key)
    usage = Usage(input_tokens=500, output_tokens=50, cost_usd=0.002)
    steps = [Action.call("write_note", usage=usage, key="alpha", value=v["alpha"])]
    if key.level == "copilot":
        steps.append(Action.submit())
    steps += [Action.call("write_note", usage=usage, key="beta", value=v["beta"]), read("beta")]
    return Plan(steps, react=retry_faults)


def bad(key: EpisodeKey) -> Plan:
    usage = Usage(input_tokens=400, output_tokens=40, cost_usd=0.001)
    return Plan([read("gamma"), read("gamma"), Action.call("write_note", usage=usage, key="alpha", value="?")])


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    db = tmp_path_factory.mktemp("report") / "r.db"
    return run(db, "r", {OK: good, BOLD: bad, "plain": lambda k: Plan([write("alpha", "?")])}, seeds=range(6),
               trials=2, levels=("copilot", "agent"), faults=[0.0, 0.5], paraphrases=2)


def rendered(store: Store, width: int = 80, **options: object) -> tuple[str, Summary]:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    summary = print_report(store, "r", console, options=SummaryOptions(bootstrap=200, horizon_bootstrap=100,
                                                                       **options))  # type: ignore[arg-type]
    return console.export_text(), summary


def section(text: str, title: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    end = next((i for i in range(start + 1, len(lines)) if lines[i] and not lines[i].startswith(" ")
                and lines[i - 1] == ""), len(lines))
    return lines[start:end]


def test_the_report_fits_80_columns_and_shows_every_topic(store: Store) -> None:
    text, _ = rendered(store)
    too_wide = [line for line in text.splitlines() if len(line) > 80]
    assert not too_wide, too_wide
    for title in ("Success by level", "Certified autonomy level", "Outcomes", "Copilot", "Reliability: pass^k",
                  "Consistency and robustness", "Reflection: its own errors", "Reflection: injected faults",
                  "Reflection: checking", "Cost and speed", "Cost against success", "Time horizon",
                  "Why episodes failed", "Checks failing most often"):
        assert title in text, title
    assert "no success" in text  # the failing agents' cost per success, with their cost known


def test_user_names_are_never_markup(store: Store) -> None:
    text, _ = rendered(store)
    assert OK in text and "🆗" not in text
    assert BOLD in text
    console = Console(width=100, record=True, file=io.StringIO(), color_system=None)
    console.print(runs_table(store.list_runs()))
    runs = console.export_text()
    assert OK in runs and BOLD in runs and "🆗" not in runs


def _cell(rate: dict[str, float | None]) -> str:
    return f"{100 * rate['value']:.0f}% [{100 * rate['low']:.0f}-{100 * rate['high']:.0f}]"  # type: ignore[operator]


def test_the_terminal_says_what_the_json_says(store: Store) -> None:
    text, _ = rendered(store, width=120)
    data = report_data(store, "r", options=SummaryOptions(bootstrap=200, horizon_bootstrap=100))
    by_level = section(text, "Success by level")
    for group in data["by_level"]:
        line = next(x for x in by_level if x.strip().startswith(group["agent"]))
        assert _cell(group["success"]) in line, (group["agent"], group["level"], line)
    certified = section(text, "Certified autonomy level")
    for cert in data["certifications"]:
        if cert["family"] is None:
            line = next(x for x in certified if x.strip().startswith(cert["agent"]))
            assert (cert["level"] or "none") in line
    costs = section(text, "Cost and speed")
    good_agent = next(g for g in data["by_level"] if g["agent"] == OK and g["level"] == "agent")
    line = next(x for x in costs if x.strip().startswith(OK) and " agent " in x)
    assert f"${good_agent['cost']['cost_usd']:.4f}" in line
    assert f"${good_agent['cost']['cost_per_success']:.4f}" in line
    flat = {(a["agent"], a["level"]): a for a in data["aggregates"]}
    assert flat[(OK, "agent")]["success_rate"] == good_agent["success"]["value"]


def test_the_json_is_the_summary_and_holds_no_nan(store: Store) -> None:
    def refuse(constant: str) -> float:
        raise AssertionError(f"{constant} in the JSON report")

    text = report_json(store, "r", options=SummaryOptions(bootstrap=200, horizon_bootstrap=50))
    data = json.loads(text, parse_constant=refuse)
    assert data["schema_version"] == 1 and data["run_id"] == "r" and data["levels"] == ["copilot", "agent"]
    summary = Summary.model_validate({k: v for k, v in data.items() if k in Summary.model_fields})
    assert summary.group(OK, "agent") is not None
    rel = summary.group(OK, "agent").reliability  # type: ignore[union-attr]
    assert rel.faults is not None and rel.paraphrase is not None and 2 in rel.pass_hat_k
    assert not any(isinstance(v, float) and math.isnan(v) for v in _numbers(data))


def _numbers(value: object) -> list[object]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _numbers(v)]
    if isinstance(value, list):
        return [x for v in value for x in _numbers(v)]
    return [value]


def test_breakdowns_on_request(store: Store) -> None:
    text, summary = rendered(store, breakdowns=["difficulty"])
    assert {g.difficulty for g in summary.breakdowns} == {1, 2, 3}
    rows = section(text, "By difficulty")
    assert any(line.split()[:4] == [OK, "agent", "LedgerFamily", "2"] for line in rows), rows


def test_the_comparison_fits_80_columns(store: Store) -> None:
    console = Console(width=80, record=True, file=io.StringIO(), color_system=None)
    comparison = print_compare(store, [OK, BOLD], console, run_id="r", options=SummaryOptions(bootstrap=200))
    text = console.export_text()
    assert not [line for line in text.splitlines() if len(line) > 80]
    assert f"A = {OK}" in text and f"B = {BOLD}" in text and f"{OK} better" in text
    assert comparison.pairs[0].rows[0].winner == OK


def test_a_run_not_yet_run_and_a_run_of_errors_report_what_they_can() -> None:
    from arena.runner import RunConfig, stored_config
    from tests.metrics.ledger import FAMILY, Factory

    store = Store(":memory:")
    config = RunConfig(agents=["a"], families=[FAMILY], seeds=[0, 1])
    store.create_run("p", stored_config(config, {"a": Factory("a", lambda k: Plan([]))}), config.plan())  # type: ignore[dict-item]
    console = Console(width=80, record=True, file=io.StringIO(), color_system=None)
    summary = print_report(store, "p", console)
    text = console.export_text()
    assert "0/0/0 +2?" in text and "no scored episode yet" in text
    assert summary.certification("a").level is None  # type: ignore[union-attr]
    broken = run(":memory:", "e", {"a": lambda k: Plan([])}, seeds=[0, 1],
                 families=["tests.helper_agents:BrokenGreeting"], sandbox={"kind": "process", "unsafe_local": True},
                 max_attempts=1, stop_after_errors=10)
    console = Console(width=80, record=True, file=io.StringIO(), color_system=None)
    summary = print_report(broken, "e", console)
    text = console.export_text()
    assert summary.error_count == 2 and "0/0/2" in text and "sandbox died (simulated)" in text
    assert summary.group("a", "agent").success.value is None  # type: ignore[union-attr]  # errors are never failures


def test_the_json_keeps_the_keys_earlier_readers_use_and_lists_episodes_on_request(store: Store) -> None:
    data = report_data(store, "r", options=SummaryOptions(bootstrap=200, horizon_bootstrap=0, include_episodes=True))
    assert data["episodes"] == 288 and data["done"] == 288 and data["status"] == "finished"
    rows = data["episode_metrics"]
    assert len(rows) == 288 and {r["why"] for r in rows} >= {"success", "wrong", "taken_over"}
    assert all(r["reflection"] is not None for r in rows)
