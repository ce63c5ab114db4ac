"""The `arena` command as a user meets it: help, listings, a task view, and a model comparison
over real HTTP whose report carries tokens, cost and cost per success."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from arena.registry import FAMILIES
from arena.testing import ScriptedChatServer, oracle_policy

REPO = Path(__file__).resolve().parents[1]


def arena(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "arena.cli", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_help_explains() -> None:
    top = arena("--help")
    assert top.returncode == 0 and "run" in top.stdout and "report" in top.stdout
    run = arena("run", "--help")
    for flag in ("--agents", "--families", "--seeds", "--trials", "--sandbox", "--resume", "--unsafe-local"):
        assert flag in run.stdout


def test_list_families_shows_every_family_with_tools_and_sandbox() -> None:
    result = arena("list", "families")
    assert result.returncode == 0, result.stderr
    for name in FAMILIES:
        assert name in result.stdout
    assert "arena-python" in result.stdout and "submit" in result.stdout
    agents = arena("list", "agents")
    assert "oracle" in agents.stdout and "openai:" in agents.stdout and "command:" in agents.stdout


def test_show_task_prints_without_running() -> None:
    result = arena("show-task", "files", "--seed", "3", "--split", "test")
    assert result.returncode == 0, result.stderr
    assert "files@2/test/3" in result.stdout and "instruction 0" in result.stdout and "bash" in result.stdout
    task = json.loads(arena("show-task", "files", "--seed", "3", "--json").stdout)
    assert task["id"] == "files@2/dev/3" and task["params"]


def test_model_comparison_report_has_tokens_and_cost(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    with ScriptedChatServer(oracle_policy("files", range(3))) as server:
        result = arena(
            "run", "--agents", "openai:gpt-4o-mini,openai:my-local-model,random", "--families", "files",
            "--seeds", "0-2", "--sandbox", "process", "--unsafe-local", "--db", str(db), "--run-id", "cmp",
            "--base-url", server.base_url, "--max-retries", "1", "--quiet",
            env={"OPENAI_API_KEY": "sk-test-cli"},
        )
    assert result.returncode == 0, result.stderr
    for column in ("tokens", "cost", "$/success"):
        assert column in result.stdout
    assert "unknown" in result.stdout  # the local model has no price: unknown, not $0
    report = json.loads(arena("report", "cmp", "--db", str(db), "--json").stdout)
    by_agent = {a["agent"]: a for a in report["aggregates"]}
    priced = by_agent["openai:gpt-4o-mini"]
    assert priced["successes"] == 3 and priced["input_tokens"] > 0 and priced["output_tokens"] > 0
    assert priced["cost_usd"] > 0 and priced["cost_per_success"] == priced["cost_usd"] / 3
    assert by_agent["openai:my-local-model"]["cost_usd"] is None
    runs = arena("runs", "--db", str(db))
    assert "cmp" in runs.stdout and "finished" in runs.stdout


def test_report_of_missing_db_names_the_fix(tmp_path: Path) -> None:
    result = arena("report", "--db", str(tmp_path / "none.db"))
    assert result.returncode == 2 and "arena run" in result.stderr


def test_user_text_is_never_read_as_markup() -> None:
    proc = subprocess.run([sys.executable, "-m", "arena.cli", "show-task", "tests.helper_agents:MarkupFamily"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Write [bold]it[/bold] :ok: into greeting.txt [/]" in proc.stdout
    assert "[red]greet[/red]" in proc.stdout


def test_a_misspelt_setting_or_an_option_for_no_agent_is_refused(tmp_path: Path) -> None:
    base = 'agents = ["oracle"]\nfamilies = ["files"]\nseeds = "0"\n'
    for extra, named in (("[sandbox]\nmemroy_mb = 3\n", "memroy_mb"),
                         ('[agent_options."openai:nomatch"]\ntemperature = 0\n', "openai:nomatch")):  # fmt: skip
        config = tmp_path / "run.toml"
        config.write_text(base + extra)
        result = arena("run", "--config", str(config), "--db", str(tmp_path / "bad.db"))
        assert result.returncode == 2 and named in result.stderr, result.stderr
        if (tmp_path / "bad.db").exists():  # refused before anything ran: no run stored
            from arena.store import Store

            assert Store(tmp_path / "bad.db", read_only=True).list_runs() == []


def test_a_quoted_command_spec_is_the_same_agent_everywhere() -> None:
    from arena.config import RunConfig

    config = RunConfig.model_validate({
        "agents": ['command:"python3 my_agent.py"'], "families": ["files"], "seeds": [0],
        "agent_options": {'command:"python3 my_agent.py"': {"network": True}},
    })  # fmt: skip
    assert config.agents == ["command:python3 my_agent.py"]  # as the command line leaves it
    (label,) = config.agent_specs()
    assert config.options_for(label) == {"network": True}


def test_the_run_report_applies_the_runs_gates_and_agents_are_found_by_full_spec(tmp_path: Path) -> None:
    db = tmp_path / "gates.db"
    config = tmp_path / "run.toml"
    config.write_text("[gates]\nk = 1\n[gates.copilot]\nself_done = 0.3\n")
    with ScriptedChatServer(oracle_policy("files", range(3))) as server:
        run = arena("run", "--config", str(config), "--agents", "oracle,openai:qwen2.5-7b-instruct",
                    "--families", "files", "--seeds", "0-2", "--level", "copilot", "--sandbox", "process",
                    "--unsafe-local", "--db", str(db), "--run-id", "g", "--base-url", server.base_url, "--quiet",
                    env={"OPENAI_API_KEY": "sk-test-cli"})  # fmt: skip
    assert run.returncode == 0, run.stderr
    report = arena("report", "g", "--db", str(db))
    assert "copilot self-done >= 30%" in run.stdout and "copilot self-done >= 30%" in report.stdout
    compared = arena("compare", "oracle", "openai:qwen2.5-7b-instruct", "--run", "g", "--db", str(db))
    assert compared.returncode == 0, compared.stderr
    shown = arena("show-episode", "g", "--agent", "openai:qwen2.5-7b-instruct", "--first", "--db", str(db))
    assert shown.returncode == 0, shown.stderr


def test_a_piped_report_keeps_to_the_width_columns_gives(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    run = arena("run", "--agents", "oracle,random", "--families", "files", "--seeds", "0-2", "--level",
                "copilot,agent", "--sandbox", "process", "--unsafe-local", "--db", str(db), "--quiet")  # fmt: skip
    assert run.returncode == 0, run.stderr
    narrow = arena("report", "--db", str(db), env={"COLUMNS": "80"}).stdout.splitlines()
    assert max(map(len, narrow)) <= 80 and any("Certified autonomy level" in line for line in narrow)
    wide = arena("report", "--db", str(db), env={"COLUMNS": ""}).stdout.splitlines()
    assert max(map(len, wide)) > 80  # a log gets room for every column
