"""Everything an agent sends comes back as a readable tool result; nothing crashes an episode."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from arena.agents.scripted import ScriptedAgent
from arena.episode import run_episode
from arena.protocols import State
from arena.sandbox import SandboxConfig, open_sandbox
from arena.tools import MAX_OUTPUT_BYTES, SHELL_TOOLS, Tool, Toolbox, ToolContext, cap_output, run_tool
from arena.types import Action, Task, ToolCall
from tests.minimal_family import GreetingFamily


class CountArgs(BaseModel):
    n: int
    label: str = "x"


async def _count(args: CountArgs, ctx: ToolContext) -> str:
    return args.label * args.n


async def _boom(args: CountArgs, ctx: ToolContext) -> str:
    raise RuntimeError("disk on fire")


async def _slow(args: CountArgs, ctx: ToolContext) -> str:
    await asyncio.sleep(60)
    return "never"


TOOLBOX = Toolbox.of(
    [
        Tool("count", "repeat a label", CountArgs, _count),
        Tool("boom", "always raises", CountArgs, _boom),
        Tool("slow", "sleeps", CountArgs, _slow, timeout=0.2),
    ]
)
TASK = Task(family="t", version="1", seed=0, split="dev", template="t", instructions=["x"])


async def call(name: str, arguments: dict | str) -> tuple[bool, str]:
    ctx = ToolContext(sandbox=None, task=TASK, state=State(), timeout=5)  # type: ignore[arg-type]
    result = await run_tool(TOOLBOX, ToolCall(name=name, arguments=arguments), ctx)
    return result.is_error, result.output


async def test_valid_call_runs() -> None:
    assert await call("count", {"n": 3, "label": "ab"}) == (False, "ababab")
    assert await call("count", '{"n": 2}') == (False, "xx")


async def test_unknown_tool_lists_the_known_ones() -> None:
    is_error, text = await call("cuont", {"n": 1})
    assert is_error and "unknown tool 'cuont'" in text and "boom, count, slow" in text


async def test_malformed_json_is_a_tool_error() -> None:
    is_error, text = await call("count", '{"n": 3')
    assert is_error and "not valid JSON" in text


async def test_non_object_json_is_a_tool_error() -> None:
    is_error, text = await call("count", "[1, 2]")
    assert is_error and "must be a JSON object" in text


async def test_missing_and_wrong_typed_fields_are_named() -> None:
    is_error, text = await call("count", {})
    assert is_error and "n: Field required" in text
    is_error, text = await call("count", {"n": "many"})
    assert is_error and "n: Input should be a valid integer" in text


async def test_a_raising_tool_becomes_an_error_result() -> None:
    is_error, text = await call("boom", {"n": 1})
    assert is_error and "RuntimeError: disk on fire" in text


async def test_a_hanging_tool_times_out() -> None:
    is_error, text = await call("slow", {"n": 1})
    assert is_error and "timed out" in text


def test_output_is_capped_with_a_note() -> None:
    text, cut = cap_output("a" * 100_000)
    assert cut and len(text.encode()) < MAX_OUTPUT_BYTES + 200 and "output truncated" in text
    assert cap_output("short") == ("short", False)


async def test_garbage_actions_do_not_crash_the_episode() -> None:
    family = GreetingFamily()
    task = family.generate(0, "dev")
    actions = [
        Action(tool_calls=[ToolCall(name="fly", arguments={})]),
        Action(tool_calls=[ToolCall(name="write_file", arguments="{not json")]),
        Action(tool_calls=[ToolCall(name="write_file", arguments={"path": 3})]),
        Action(parse_error="model said: hmm"),
        Action(message="I think I am done"),  # no tool call
        Action(tool_calls=[ToolCall(name="write_file", arguments={"path": "greeting.txt",
                                                                   "content": task.params["expected"]})]),
        Action.submit(),
    ]
    agent = ScriptedAgent(actions)
    sandbox = await open_sandbox(SandboxConfig(kind="process", unsafe_local=True), image="", labels={})
    try:
        result = await run_episode(family, task, agent, sandbox)
    finally:
        await sandbox.close()
    assert result.outcome == "success" and result.steps == 7
    assert result.tool_errors == 3
    notes = [o.note for o in agent.observations]
    assert any(n and "could not be read" in n for n in notes)
    assert any(n and "no tool call" in n for n in notes)
    outputs = [r.output for o in agent.observations for r in o.results]
    assert any("unknown tool 'fly'" in t for t in outputs)
    assert any("path: Input should be a valid string" in t for t in outputs)


async def test_step_limit_truncates() -> None:
    family = GreetingFamily()
    task = family.generate(0, "dev")
    agent = ScriptedAgent([Action.call("list_dir")] * 10)
    sandbox = await open_sandbox(SandboxConfig(kind="process", unsafe_local=True), image="", labels={})
    try:
        from arena.types import Limits

        result = await run_episode(family, task, agent, sandbox, limits=Limits(max_steps=4))
    finally:
        await sandbox.close()
    assert (result.outcome, result.termination, result.steps) == ("fail", "max_steps", 4)


def test_tool_specs_are_json_schema() -> None:
    spec = SHELL_TOOLS[0].spec().openai()
    assert spec["type"] == "function" and spec["function"]["name"] == "bash"
    assert spec["function"]["parameters"]["required"] == ["command"]
