"""`arena show-episode` and `arena export` as a user meets them, on a real stored run."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from arena.export import FIGURES, aggregate_columns
from arena.trajectory import EPISODE_SCHEMA
from tests.viewer.agents import HOSTILE_ANSWER, HOSTILE_MESSAGE, HOSTILE_OUTPUT
from tests.viewer.conftest import StoredRun, arena, records, report_json


def show(run: StoredRun, *args: str) -> tuple[int, str, str]:
    result = arena("show-episode", run.run_id, *args, "--db", str(run.db))
    return result.returncode, result.stdout, result.stderr


def test_show_episode_prints_the_whole_trajectory(stored_run: StoredRun) -> None:
    episodes = stored_run.store().episodes(stored_run.run_id)
    number = next(i for i, e in enumerate(episodes) if e.key.agent == "random" and e.key.level == "copilot"
                  and e.key.faults > 0 and e.result and "no_takeover" in {c.name for c in e.result.checks
                                                                          if not c.passed})
    ep = episodes[number]
    steps = stored_run.store().steps(stored_run.run_id, ep.key)
    code, out, err = show(stored_run, str(number))
    assert code == 0, err
    assert f"episode {number} of run {stored_run.run_id}: {ep.key.id}" in out
    assert ep.task is not None and ep.task.instruction.split()[0] in out.split("instruction", 1)[1]
    for step in steps:
        assert f"step {step.index}" in out
    assert "supervisor (takeover)" in out and "supervisor: subgoal" in out
    faulted = [r for s in steps for r in s.results if r.fault]
    if faulted:
        assert f"injected fault: {faulted[0].fault}" in out
    assert "FAIL" in out and "no_takeover" in out and "pass" in out  # the checks, each marked
    assert "outcome: fail (submitted)" in out and "why: the agent submitted" in out
    assert show(stored_run, f"#{number}")[1] == out  # '#12' names it too
    assert show(stored_run, ep.key.id)[1] == out  # and so does the key id


def test_user_text_is_never_markup(stored_run: StoredRun) -> None:
    code, out, err = show(stored_run, "--agent", "markup", "--level", "agent", "--faults", "0", "--trial", "0",
                          "--seed", "0")
    assert code == 0, err
    assert HOSTILE_MESSAGE in out and HOSTILE_OUTPUT in out and HOSTILE_ANSWER in out
    assert "usage markup-model: 120 in, 30 out, $0.0004" in out
    assert "more lines); --full shows all" in out  # 200 lines of output are shortened
    full = show(stored_run, "--agent", "markup", "--level", "agent", "--faults", "0", "--trial", "0", "--seed", "0",
                "--full")[1]
    assert "\n    200\n" in full and "--full shows all" not in full


def test_filters_list_matches_pick_the_first_or_say_what_exists(stored_run: StoredRun) -> None:
    code, out, err = show(stored_run, "--agent", "oracle", "--level", "agent")
    assert code == 2 and "8 episodes match" in out and "add --first" in err
    code, first, _ = show(stored_run, "--agent", "oracle", "--level", "agent", "--first")
    assert code == 0 and "outcome: success" in first
    code, out, err = show(stored_run, "--agent", "nobody")
    assert code == 2 and "agents oracle, random, markup" in err and "levels copilot, agent, worker" in err
    code, _, err = show(stored_run, "999")
    assert code == 2 and "numbers 0-71" in err
    code, out, _ = show(stored_run, "--failed", "--agent", "oracle")
    assert code == 2 and "no episode" in _  # the oracle never fails
    code, out, _ = show(stored_run, "--failed", "--level", "worker", "--agent", "random")
    assert code == 2 and "8 episodes match" in out and "success" not in out


def test_show_episode_json_is_the_export_record(stored_run: StoredRun) -> None:
    code, out, err = show(stored_run, "--agent", "oracle", "--level", "worker", "--first", "--json")
    assert code == 0, err
    record = json.loads(out)
    assert record["schema"] == EPISODE_SCHEMA and record["key"]["level"] == "worker"
    assert record["result"]["parts"] and all(p["success"] for p in record["result"]["parts"])
    exported = {r["id"]: r for r in records(stored_run)}
    assert exported[record["id"]] == record


def test_jsonl_export_has_every_episode_with_its_steps(stored_run: StoredRun, tmp_path: Path) -> None:
    store = stored_run.store()
    episodes = store.episodes(stored_run.run_id)
    lines = records(stored_run)
    assert [r["id"] for r in lines] == [e.key.id for e in episodes]
    assert [r["number"] for r in lines] == list(range(len(episodes)))
    for r, ep in zip(lines, episodes, strict=True):
        assert r["schema"] == EPISODE_SCHEMA and r["run_id"] == stored_run.run_id
        assert r["result"]["outcome"] == ep.result.outcome and r["task"]["template"] == ep.task.template
        assert len(r["steps"]) == len(store.steps(stored_run.run_id, ep.key))
    out = tmp_path / "episodes.jsonl"
    result = arena("export", stored_run.run_id, "--db", str(stored_run.db), "--output", str(out))
    assert result.returncode == 0 and f"{len(episodes)} episodes" in result.stderr
    assert [json.loads(line) for line in out.read_text().splitlines()] == lines


def test_csv_export_has_one_row_of_figures_per_episode(stored_run: StoredRun, tmp_path: Path) -> None:
    result = arena("export", stored_run.run_id, "--db", str(stored_run.db), "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == FIGURES and len(rows) == 72
    worker = next(r for r in rows if r["agent"] == "oracle" and r["level"] == "worker")
    assert worker["outcome"] == "success" and int(worker["parts_done"]) == int(worker["parts"]) >= 2
    copilot = [r for r in rows if r["agent"] == "random" and r["level"] == "copilot"]
    assert all(int(r["takeovers"]) >= 1 and int(r["supervisor_steps"]) >= 1 for r in copilot)
    assert any(int(r["faults_injected"]) > 0 for r in rows if float(r["fault_rate"]) > 0)
    assert all(r["faults_injected"] == "0" for r in rows if r["fault_rate"] == "0.0")
    markup = next(r for r in rows if r["agent"] == "markup" and r["level"] == "agent")
    assert markup["input_tokens"] == "240" and markup["cost_usd"] == "0.0008"
    bad = arena("export", stored_run.run_id, "--db", str(stored_run.db), "--output", str(tmp_path / "no" / "x.csv"))
    assert bad.returncode == 2 and "pick another --output" in bad.stderr


def test_a_missing_run_names_the_fix(stored_run: StoredRun) -> None:
    for command in ("show-episode", "export"):
        result = arena(command, "no-such-run", "--db", str(stored_run.db))
        assert result.returncode == 2 and "arena runs" in result.stderr


def test_aggregates_csv_holds_the_report_figures(stored_run: StoredRun, tmp_path: Path) -> None:
    result = arena("export", stored_run.run_id, "--db", str(stored_run.db), "--aggregates")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == aggregate_columns()
    data = report_json(stored_run.db, stored_run.run_id)
    groups = data["by_family"]
    assert [(r["agent"], r["level"], r["family"]) for r in rows] == [(g["agent"], g["level"], g["family"])
                                                                      for g in groups]

    def number(cell: str) -> float | None:
        return None if cell == "" else float(cell)

    k = data["options"]["gates"]["k"]
    for row, g in zip(rows, groups, strict=True):
        for column, rate in [("success", g["success"]), ("pass_hat_k", g["reliability"]["pass_hat_k"].get(str(k))),
                             ("recovered", g["reflection"]["recovery"]), ("verified", g["reflection"]["verified"])]:
            rate = rate or {"value": None, "low": None, "high": None}
            assert (number(row[column]), number(row[f"{column}_low"]), number(row[f"{column}_high"])) == (
                rate["value"], rate["low"], rate["high"]), column
        assert int(row["successes"]) == g["outcomes"]["successes"] and int(row["errors"]) == g["outcomes"]["errors"]
        faults = g["reliability"]["faults"]
        assert number(row["fault_robustness"]) == (faults["ratio"]["value"] if faults else None)
        if g["level"] == "copilot":
            assert number(row["self_done"]) == g["copilot"]["self_done"]["value"]
            assert number(row["takeovers_per_episode"]) == g["copilot"]["takeovers_per_episode"]
        if g["level"] == "worker":
            assert number(row["job_success"]) == g["worker"]["job_success"]["value"]
            assert number(row["parts_done_low"]) == g["worker"]["parts_done"]["low"]
        else:
            assert row["job_success"] == ""
        assert number(row["cost_usd"]) == g["cost"]["cost_usd"]
    markup = next(r for r in rows if r["agent"] == "markup" and r["level"] == "agent")
    assert markup["cost_per_success"] == "" and markup["cost_status"] == "ok" and float(markup["cost_usd"]) > 0
    out = tmp_path / "aggregates.csv"
    written = arena("export", stored_run.run_id, "--db", str(stored_run.db), "--aggregates", "-o", str(out))
    assert written.returncode == 0 and f"{len(rows)} rows of aggregates" in written.stderr
    assert out.read_text() == result.stdout
    wrong = arena("export", stored_run.run_id, "--db", str(stored_run.db), "--aggregates", "--format", "jsonl")
    assert wrong.returncode == 2 and "--aggregates writes CSV" in wrong.stderr
    priced = arena("export", stored_run.run_id, "--db", str(stored_run.db), "--prices", "p.toml")
    assert priced.returncode == 2 and "add --aggregates" in priced.stderr
