"""A hostile agent inside real episodes, in both real sandboxes: every attack on its sandbox comes
back as a tool result, nothing of the host reaches it, and nothing it does to its own world makes
grading fail: the grader (with the sandbox's privilege, after every agent process is stopped)
finds what the agent really left, and the run goes on.

The episode is driven step by step here and graded as the episode loop grades,
`open_grading(sandbox, final=True)` then `family.check(task, view, state)`.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from arena.agents.scripted import ScriptedAgent
from arena.episode import Episode, drive
from arena.grading import open_grading
from arena.sandbox import SandboxConfig, open_sandbox
from arena.types import Action, CheckResult, Limits, ToolResult
from tests.minimal_family import GreetingFamily

KINDS = ["bwrap", "docker"]
HOSTILE = [
    ":(){ :|:& };:; sleep 60",  # waits, so the bomb must be killed at the timeout
    "python3 -c 'x = bytearray(4 * 1024**3); print(len(x))'",
    "sleep 1000",
    "python3 -c 'import socket; socket.create_connection((\"1.1.1.1\", 53), timeout=3)'",
]
# What the agent does to its own world after writing its answer; none of it may stop grading.
WORLD_BREAKERS = {
    "process limit": "python3 -c \"import subprocess\nfor _ in range(300):\n  try: subprocess.Popen(['sleep', '900'])\n"
    "  except OSError: break\"",
    "unreadable work dir": "mkdir -p deep/er && chmod 000 deep/er deep && chmod 000 greeting.txt && chmod 000 /work",
    "full disk": "head -c 2G /dev/zero > /work/fill; head -c 2G /dev/zero > /tmp/fill; true",
    "no inodes": "python3 -c \"import os\nfor i in range(100000): open(f'/tmp/i{i}', 'w').close()\"; true",
    "full /dev/shm": "head -c 2G /dev/zero > /dev/shm/fill; true",
    "writer in the background": "nohup bash -c 'while :; do cp greeting.txt g.tmp; mv g.tmp greeting.txt; done' "
    ">/dev/null 2>&1 &",
    "killed command channel": "kill -9 $PPID; kill -9 -1",
    "stopped command channel": "kill -STOP $PPID",
}


def need(request: pytest.FixtureRequest, kind: str) -> None:
    request.getfixturevalue("need_bwrap" if kind == "bwrap" else "docker_images")


async def play(kind: str, actions: list[Action], **config: object) -> tuple[list[ToolResult], CheckResult, str]:
    """Run the scripted actions as an episode in a fresh sandbox, grade it, close it."""
    family = GreetingFamily()
    task = family.generate(0, "dev")
    agent = ScriptedAgent(actions)
    settings = {"memory_mb": 256, "pids": 64, "disk_mb": 64, "inodes": 4096, **config}
    sandbox = await open_sandbox(SandboxConfig(kind=kind, **settings), image="arena-base",  # type: ignore[arg-type]
                                 labels={"arena.run": "hostile-test"})  # fmt: skip
    try:
        episode = Episode(family, task, sandbox, limits=Limits(tool_timeout=5, max_steps=30))
        await episode.start()
        await drive(episode, agent)
        async with open_grading(sandbox, final=True) as view:
            checks = await family.check(task, view, episode.state)  # type: ignore[arg-type]
        results = [r for o in agent.observations for r in o.results]
        return results, checks, task.params["expected"]
    finally:
        await sandbox.close()


@pytest.mark.parametrize("kind", KINDS)
def test_hostile_commands_are_tool_errors(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    need(request, kind)
    secret = tmp_path / f"secret-{uuid.uuid4().hex}.txt"
    secret.write_text("host secret")
    expected = GreetingFamily().generate(0, "dev").params["expected"]
    actions = [Action.call("bash", command=c) for c in HOSTILE]
    actions += [
        Action.call("read_file", path=str(secret)),
        Action.call("write_file", path="greeting.txt", content=expected),
        Action.submit(),
    ]
    results, checks, _ = asyncio.run(play(kind, actions))
    assert checks.success, checks
    by_step = results[: len(HOSTILE) + 1]
    assert all(r.is_error for r in by_step), [(r.name, r.output[-200:]) for r in by_step]
    assert "timed out" in by_step[2].output
    assert "host secret" not in by_step[-1].output


@pytest.mark.parametrize("kind", KINDS)
def test_no_secret_reaches_the_agent(
    kind: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    need(request, kind)
    key = f"sk-planted-{uuid.uuid4().hex}"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    snoop = "env; for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done"
    snoop += "; cat /proc/self/mountinfo"
    results, _, _ = asyncio.run(play(kind, [Action.call("bash", command=snoop), Action.submit()]))
    assert results[0].output and key not in results[0].output and "OPENAI_API_KEY" not in results[0].output


@pytest.mark.parametrize("attack", WORLD_BREAKERS)
@pytest.mark.parametrize("kind", KINDS)
def test_breaking_its_own_world_cannot_stop_grading(kind: str, attack: str, request: pytest.FixtureRequest) -> None:
    need(request, kind)
    expected = GreetingFamily().generate(0, "dev").params["expected"]
    actions = [
        Action.call("write_file", path="greeting.txt", content=expected),
        Action.call("bash", command=WORLD_BREAKERS[attack]),
        Action.call("bash", command="echo after the attack"),
        Action.submit(),
    ]
    results, checks, _ = asyncio.run(play(kind, actions))
    assert checks.success, (attack, checks, [r.output[-300:] for r in results])


WRONG_WRITER = "nohup bash -c 'while :; do echo wrong > g.tmp; mv g.tmp greeting.txt; done' >/dev/null 2>&1 & sleep 0.3"


@pytest.mark.parametrize("kind", KINDS)
def test_what_the_agent_really_left_is_graded(kind: str, request: pytest.FixtureRequest) -> None:
    need(request, kind)
    # A writer that keeps replacing the answer with a wrong one: grading sees its last word, never
    # a half-written file, and never an error.
    actions = [
        Action.call("write_file", path="greeting.txt", content="right"),
        Action.call("bash", command=WRONG_WRITER),
        Action.submit(),
    ]
    _, checks, _ = asyncio.run(play(kind, actions))
    assert not checks.success and checks.checks[0].detail == "wrong"
