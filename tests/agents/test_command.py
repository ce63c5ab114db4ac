"""`command:` agents: external programs over newline-delimited JSON, through the real Runner."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from arena.errors import ConfigError
from arena.registry import agent_factory, load_family
from arena.store import Store

RunAgents = Callable[..., Awaitable[tuple[Store, str]]]  # the `run_agents` fixture
EXAMPLE = Path(__file__).resolve().parents[2] / "scripts" / "example_command_agent.py"

PROGRAMS = {
    "crash": """
import sys
sys.stdin.readline(); sys.stdin.readline()
print("boom: the agent broke down", file=sys.stderr, flush=True)
sys.exit(3)
""",
    "hang": """
import os, sys, time
open(sys.argv[1], "w").write(str(os.getpid()))
time.sleep(600)  # never answers, and ignores the end of its input
""",
    "garbage": """
import sys
sys.stdin.readline(); sys.stdin.readline()
print("hello, I am not JSON", flush=True)
sys.stdin.read()
""",
    "invalid": """
import sys
sys.stdin.readline(); sys.stdin.readline()
print('{"tool_calls": "list_dir"}', flush=True)
sys.stdin.read()
""",
    "usage": """
import json, sys
for line in sys.stdin:
    if json.loads(line)["type"] == "observation":
        usage = {"input_tokens": 100, "output_tokens": 20, "cost_usd": 0.002}
        print(json.dumps({"submit": "42", "usage": usage, "message": "done"}), flush=True)
""",
}


def command(*argv: str | Path) -> str:
    """A jailed program runs the system's python3 (the test's own interpreter may live where the jail
    cannot see it)."""
    return "command:" + shlex.join(["python3", *map(str, argv)])


def write_programs(folder: Path) -> dict[str, Path]:
    paths = {}
    for name, source in PROGRAMS.items():
        paths[name] = folder / f"{name}.py"
        paths[name].write_text(source.lstrip())
    return paths


async def test_example_agent_passes_and_broken_programs_fail_with_the_reason(
    run_agents: RunAgents, tmp_path: Path
) -> None:
    family = load_family("files")
    plan = [c.model_dump(exclude={"id"}) for c in family.solution(family.generate(0, "dev"))]
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    programs = write_programs(tmp_path)
    pid_file = tmp_path / "hang.pid"
    specs = {
        "example": command(EXAMPLE, tmp_path / "plan.json"),
        "crash": command(programs["crash"]),
        "hang": command(programs["hang"], pid_file),
        "garbage": command(programs["garbage"]),
        "invalid": command(programs["invalid"]),
        "usage": command(programs["usage"]),
    }
    options = {spec: {"timeout": 1.0} for spec in specs.values()}
    # The hung program writes its host pid where the test can read it: trusted, it runs on the host.
    options[specs["hang"]] = {"timeout": 1.0, "trust": True}
    store, run_id = await run_agents(
        [f"{name}={spec}" for name, spec in specs.items()], concurrency=6, options=options,
    )
    assert store.get_run(run_id).status == "finished"  # type: ignore[union-attr]
    by_name = {e.key.agent: e for e in store.episodes(run_id)}
    result = {name: e.result for name, e in by_name.items()}
    assert all(r is not None for r in result.values())

    assert result["example"].outcome == "success", result["example"]  # type: ignore[union-attr]
    for name, reason in [
        ("crash", "exited with code 3"), ("hang", "no action within 1s"),
        ("garbage", "not JSON"), ("invalid", "invalid action"),
    ]:
        r = result[name]
        assert r is not None and r.outcome == "fail" and r.termination == "agent_error", (name, r)
        assert reason in (r.error or ""), (name, r.error)
    assert "boom: the agent broke down" in (result["crash"].error or "")  # type: ignore[union-attr]

    usage = result["usage"]
    assert usage is not None and usage.usage.input_tokens == 100 and usage.usage.cost_usd == pytest.approx(0.002)
    (step,) = store.steps(run_id, by_name["usage"].key)
    assert step.action.tool_calls[0].arguments == {"answer": "42"} and step.action.message == "done"

    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):  # the hung program was killed, not left behind
        os.kill(pid, 0)


def test_factory_checks_the_program_and_keeps_env_values_out_of_the_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        agent_factory("command:/no/such/agent --flag", {})
    with pytest.raises(ConfigError, match="known"):
        agent_factory(command(EXAMPLE), {"timeot": 3})
    factory = agent_factory(command(EXAMPLE, "plan.json"), {"env": {"MY_TOKEN": "secret-value"}, "timeout": 5})
    assert factory.config["argv"] == ["python3", str(EXAMPLE), "plan.json"]
    assert factory.config["env_names"] == ["MY_TOKEN"] and "secret-value" not in json.dumps(factory.config)


SNOOP = """
import json, os, subprocess, sys
marker = sys.argv[1]
subprocess.Popen(["setsid", "sleep", "1000", marker])  # a child that tries to outlive the episode
seen = {
    "store": [p for p in os.environ["SNOOP_TARGETS"].split(":") if os.path.exists(p)],
    "code": [p for p in ("/work/main/arena", os.path.dirname(os.path.dirname(os.__file__)) + "/arena")
             if os.path.exists(p) and os.listdir(p)],
    "secret": os.environ.get("ARENA_TEST_SECRET"),
    "key": os.environ.get("MY_MODEL_KEY"),
}
for line in sys.stdin:
    if json.loads(line)["type"] == "observation":
        print(json.dumps({"submit": json.dumps(seen)}), flush=True)
"""


async def test_a_jailed_program_sees_nothing_of_the_host_and_leaves_nothing_behind(
    run_agents: RunAgents, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, need_bwrap: None
) -> None:
    import subprocess
    import time
    import uuid

    monkeypatch.setenv("ARENA_TEST_SECRET", "planted-secret-value")
    monkeypatch.setenv("MY_MODEL_KEY", "the-key-it-may-have")
    program = tmp_path / "snoop.py"
    program.write_text(SNOOP)
    marker = f"arena-marker-{uuid.uuid4().hex[:8]}"
    targets = f"{db_path}:{Path(__file__).resolve().parents[2] / 'arena'}"  # not named on the command line
    spec = command(program, marker)
    store, run_id = await run_agents([f"snoop={spec}"], options={
        spec: {"pass_env": ["MY_MODEL_KEY"], "env": {"SNOOP_TARGETS": targets}}})
    (episode,) = store.episodes(run_id)
    (step,) = store.steps(run_id, episode.key)
    seen = json.loads(step.action.tool_calls[0].arguments["answer"])  # type: ignore[index]
    assert seen["store"] == [] and seen["code"] == [], seen
    assert seen["secret"] is None and seen["key"] == "the-key-it-may-have"
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    assert left.stdout.strip() == "", "a child of the agent program outlived its episode"
