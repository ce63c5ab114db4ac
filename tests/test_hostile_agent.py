"""A hostile agent inside a real episode: fork bomb, memory hog, endless sleep, network and host
snooping all come back as tool results, and the episode and run carry on to grading."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from arena.agents.scripted import ScriptedAgent
from arena.episode import run_episode
from arena.sandbox import SandboxConfig, open_sandbox
from arena.types import Action, Limits
from tests.minimal_family import GreetingFamily

HOSTILE = [
    ":(){ :|:& };:; sleep 60",  # waits, so the bomb must be killed at the timeout
    "python3 -c 'x = bytearray(4 * 1024**3); print(len(x))'",
    "sleep 1000",
    "python3 -c 'import socket; socket.create_connection((\"1.1.1.1\", 53), timeout=3)'",
]


@pytest.mark.parametrize("kind", ["bwrap", "docker"])
def test_hostile_commands_are_tool_errors(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("need_bwrap" if kind == "bwrap" else "docker_images")
    secret = tmp_path / f"secret-{uuid.uuid4().hex}.txt"
    secret.write_text("host secret")
    family = GreetingFamily()
    task = family.generate(0, "dev")
    actions = [Action.call("bash", command=c) for c in HOSTILE]
    actions += [
        Action.call("read_file", path=str(secret)),
        Action.call("write_file", path="greeting.txt", content=task.params["expected"]),
        Action.submit(),
    ]
    agent = ScriptedAgent(actions)

    async def go():
        config = SandboxConfig(kind=kind, memory_mb=256, pids=64)  # type: ignore[arg-type]
        sandbox = await open_sandbox(config, image="arena-base", labels={"arena.run": "hostile-test"})
        try:
            return await run_episode(family, task, agent, sandbox, limits=Limits(tool_timeout=5, max_steps=20))
        finally:
            await sandbox.close()

    result = asyncio.run(go())
    assert result.outcome == "success", result
    results = [r for o in agent.observations for r in o.results]
    by_step = results[: len(HOSTILE) + 1]
    assert all(r.is_error for r in by_step), [(r.name, r.output[-200:]) for r in by_step]
    assert "timed out" in by_step[2].output
    assert "host secret" not in by_step[-1].output
