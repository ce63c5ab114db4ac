"""The copilot level through the real loop: hand-ins checked with the family's checks, help counted,
stalls taken over, early hand-ins rejected, and nothing of the grader left for the agent to see."""

from __future__ import annotations

import json
import re

import pytest

from arena.agents.oracle import OracleAgent
from arena.agents.scripted import ScriptedAgent
from arena.episode import run_episode
from arena.registry import load_family
from arena.sandbox import SandboxConfig, open_sandbox
from arena.types import Action, EpisodeResult, Observation, StepRecord, TaskView, ToolCall
from tests.helper_agents import TwoStepGreeting

FAMILY = TwoStepGreeting()
TASK = FAMILY.generate(0, "dev")
EXPECTED = TASK.params["expected"]


async def play(agent: object, *, sandbox: str = "process", family: object = FAMILY, seed: int = 0,
               **options: object) -> tuple[EpisodeResult, list[StepRecord]]:
    config = SandboxConfig(kind=sandbox, unsafe_local=sandbox == "process")  # type: ignore[arg-type]
    fam = family
    task = fam.generate(seed, "dev")  # type: ignore[attr-defined]
    steps: list[StepRecord] = []
    box = await open_sandbox(config, image=fam.image or "arena-base", labels={})  # type: ignore[attr-defined]
    try:
        result = await run_episode(fam, task, agent, box, level="copilot", on_step=steps.append,  # type: ignore[arg-type]
                                   **options)  # type: ignore[arg-type]
    finally:
        await box.close()
    return result, steps


def events(steps: list[StepRecord], kind: str) -> list[str | None]:
    return [e.subgoal for s in steps for e in s.events if e.kind == kind]


def write(path: str, content: str) -> Action:
    return Action.call("write_file", path=path, content=content)


async def test_the_oracle_meets_every_subgoal_itself() -> None:
    result, steps = await play(OracleAgent())
    assert result.outcome == "success" and result.termination == "submitted"
    assert events(steps, "hand_in_met") == ["file", "signed"]
    assert not events(steps, "help") and not events(steps, "takeover") and not events(steps, "hand_in_rejected")
    assert all(s.actor == "agent" for s in steps)


async def test_the_agent_sees_the_current_subgoal_and_the_supervisors_tools() -> None:
    agent = ScriptedAgent([write("greeting.txt", EXPECTED), Action.submit()])
    await play(agent)
    assert agent.view is not None
    assert "Step 1 of 2: greeting.txt holds the greeting" in agent.view.instruction
    names = {t.name for t in agent.view.tools}
    assert {"submit", "ask_for_help", "write_file"} <= names
    met = agent.observations[2].results[0]
    assert met.output.startswith("met. Next: Step 2 of 2: signature.txt says Regards")


async def test_an_early_hand_in_is_rejected_and_counted() -> None:
    agent = ScriptedAgent([Action.submit(), write("greeting.txt", EXPECTED), Action.submit(),
                           write("signature.txt", "Regards"), Action.submit()])
    result, steps = await play(agent)
    assert events(steps, "hand_in_rejected") == ["file"]
    rejected = agent.observations[1].results[0]
    assert rejected.is_error and rejected.output.startswith("not met yet")
    assert "greeting" not in rejected.output.lower().split("step 1 of 2")[0]  # no check detail leaks
    assert result.outcome == "success"


class Helped:
    """Asks for help, then does exactly what the hint says, for every subgoal."""

    def __init__(self) -> None:
        self.asked = False

    async def reset(self, view: TaskView) -> None:
        return None

    async def act(self, obs: Observation) -> Action:
        last = obs.results[-1] if obs.results else None
        if last is not None and last.name == "ask_for_help":
            match = re.search(r"call (\w+) with (\{.*\})", last.output)
            if match:
                return Action(tool_calls=[ToolCall(name=match.group(1), arguments=json.loads(match.group(2)))])
        if last is not None and last.name == "write_file":
            return Action.submit()
        return Action.call("ask_for_help")


async def test_help_reveals_the_next_reference_step_and_is_an_intervention() -> None:
    result, steps = await play(Helped())
    assert events(steps, "help") == ["file", "signed"]
    assert events(steps, "hand_in_met") == ["file", "signed"]
    assert result.outcome == "success"  # help is what a copilot is for; only a takeover spoils success


class Staller:
    async def reset(self, view: TaskView) -> None:
        return None

    async def act(self, obs: Observation) -> Action:
        return Action.call("list_dir", path=".")


async def test_a_stalled_subgoal_is_taken_over_and_the_episode_goes_on() -> None:
    result, steps = await play(Staller())
    assert events(steps, "takeover") == ["file", "signed"]
    supervisor = [s for s in steps if s.actor == "supervisor"]
    assert [c.name for s in supervisor for c in s.action.tool_calls] == ["write_file", "write_file"]
    agent_steps = [s for s in steps if s.actor == "agent"]
    assert len(agent_steps) == 10  # five per subgoal (the default budget for a one-step subgoal)
    assert result.termination == "submitted" and result.outcome == "fail"
    guard = next(c for c in result.checks if c.name == "no_takeover")
    assert not guard.passed and guard.kind == "guard"
    assert result.score == 0.0  # the files are there, but the supervisor wrote them


async def test_only_the_subgoals_the_agent_met_count_toward_its_score() -> None:
    agent = ScriptedAgent([write("greeting.txt", EXPECTED), Action.submit(),
                           *[Action.call("list_dir", path=".") for _ in range(10)]])
    result, steps = await play(agent)
    assert events(steps, "hand_in_met") == ["file"] and events(steps, "takeover") == ["signed"]
    assert result.outcome == "fail" and result.score == 0.5


@pytest.mark.parametrize("family_name", ["files", "data", "repair", "helpdesk", "web"])
async def test_the_oracle_passes_the_copilot_level_on_every_family(family_name: str, need_bwrap: None) -> None:
    family = load_family(family_name)
    for seed in (0, 1, 2):
        result, steps = await play(OracleAgent(), sandbox="bwrap", family=family, seed=seed)
        assert result.outcome == "success", (family_name, seed, result.checks, result.error)
        assert not events(steps, "takeover") and not events(steps, "help")


async def test_no_grading_material_is_visible_during_a_copilot_episode(need_bwrap: None) -> None:
    """Between hand-ins of a repair task, a search of the whole visible file system finds none of the
    hidden tests' code; a background process left running during the hand-in finds none either."""
    family = load_family("repair")
    seed = next(s for s in range(50) if len(family.generate(s, "dev").params["edits"]) >= 2)
    task = family.generate(seed, "dev")
    hidden = task.params["hidden_tests"]
    marker = next(line.strip() for text in hidden.values() for line in text.splitlines()
                  if line.startswith("def test_"))
    # Every file written lately anywhere outside the read-only system directories.
    search = ("find / \\( -path /proc -o -path /sys -o -path /usr -o -path /etc \\) -prune -o -type f -mmin -30 "
              f"-print 2>/dev/null | xargs -r grep -lF -- {json.dumps(marker)} 2>/dev/null | head; echo searched")
    watcher = f"(for i in $(seq 100); do {search.replace('echo searched', 'true')} >> /tmp/seen; sleep 0.1; done) &"
    edits = [Action(tool_calls=[ToolCall(name="edit", arguments=e)]) for e in task.params["edits"]]
    assert len(edits) >= 2, "the task must leave a bug after the first fix, so the episode goes on"
    actions = [Action.call("bash", command=watcher), edits[0], Action.submit(),  # graded mid-episode, not done
               Action.call("bash", command=search), Action.call("bash", command="sleep 2; cat /tmp/seen; echo end"),
               *edits[1:], Action.submit(), Action.submit()]
    agent = ScriptedAgent(actions)
    result, steps = await play(agent, sandbox="bwrap", family=family, seed=seed)
    assert result.outcome == "success"
    outputs = [r.output for s in steps for r in s.results if r.name == "bash"]
    assert any("searched" in o for o in outputs)
    for output in outputs:
        assert "test_hidden" not in output and "arena-grading" not in output, output
