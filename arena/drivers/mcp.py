"""One episode served as an MCP server over stdio, so any MCP client (a desktop assistant, an
agent framework) can be the agent under test.

The task is generated, a one-episode run is created in the store (agent name "mcp"), the sandbox is
opened and the task set up; then the episode's tools are served. Each `tools/call` is one step of
the very same `Episode` the runner drives (one call per step), stored as it happens; tool errors come
back with `isError`. The instruction is the server's `instructions`, the `task` prompt, the
`arena://task` resource, and part of the `submit` tool's description (the one place every client
shows its model). The episode is graded, stored and its sandbox closed as soon as the client calls
`submit` or a limit ends it; a client that disconnects first ends it as an agent failure (graded).

    arena serve-mcp files --seed 3 --sandbox bwrap --db arena.db

Needs the `mcp` package (v2 API): `pip install 'autonomy-arena[mcp]'`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mcp import types
from mcp.server import Server
from mcp.server.stdio import stdio_server

from arena.attempt import OneOff, close_quietly, episode_sandbox, infra_result
from arena.config import RunConfig, new_run_id
from arena.errors import InfraError
from arena.levels import build_episode
from arena.protocols import EpisodeEnv, Family
from arena.registry import load_family
from arena.sandbox import SandboxConfig
from arena.store import Store
from arena.types import Action, EpisodeKey, EpisodeResult, Level, Split, Task, TaskInfo, ToolCall
from arena.wrappers import Recorder

AGENT_NAME = "mcp"
TASK_URI = "arena://task"


class EpisodeService:
    """The episode behind the server: one tool call per step, finished exactly once."""

    def __init__(self, episode: EpisodeEnv, store: Store, run_id: str, key: EpisodeKey) -> None:
        self.episode = episode
        self.store = store
        self.run_id = run_id
        self.key = key
        self.result: EpisodeResult | None = None
        self._lock = asyncio.Lock()  # clients may send calls concurrently; steps must not interleave

    @property
    def instruction(self) -> str:
        return self.episode.view().instruction

    def tools(self) -> list[types.Tool]:
        tools = []
        for spec in self.episode.view().tools:
            description = spec.description
            if spec.name == "submit":
                description += f"\n\nThe task:\n{self.instruction}"
            tools.append(types.Tool(name=spec.name, description=description, input_schema=spec.parameters))
        return tools

    async def call(self, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        async with self._lock:
            if self.result is not None or self.episode.done:
                return _text("error: the episode is over; no more tool calls are run", error=True)
            obs = await self.episode.step(Action(tool_calls=[ToolCall(name=name, arguments=arguments)]))
            result = obs.results[0] if obs.results else None
            text = result.output if result is not None else ""
            if obs.note:
                text += f"\n[arena] {obs.note}"
            if self.episode.done:
                await self._finish()
                text += "\n[arena] the episode is over and has been recorded"
            return _text(text.strip(), error=bool(result and result.is_error))

    async def end(self, termination: Any, reason: str | None = None) -> EpisodeResult:
        """End from outside (disconnect, time limit); a no-op once finished."""
        async with self._lock:
            if self.result is None:
                self.episode.stop(termination, reason)
                await self._finish()
            assert self.result is not None
            return self.result

    async def watch_time(self) -> None:
        """Without calls the loop never checks the wall-time limit, so a timer does."""
        core = self.episode.unwrapped
        while self.result is None:
            remaining = core.remaining()
            if remaining is not None and remaining <= 0:
                await self.end("time_limit", f"time limit of {core.limits.max_seconds:g}s reached")
                return
            await asyncio.sleep(5.0 if remaining is None else min(remaining, 5.0))

    async def _finish(self) -> None:
        try:
            self.result = await self.episode.finish()
        finally:
            await close_quietly(self.episode.unwrapped.sandbox)
        self.store.finish_episode(self.run_id, self.key, self.result)
        self.store.set_run_status(self.run_id, "finished")


def _text(text: str, *, error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=error)


def build_server(service: EpisodeService, task: Task) -> Server[Any]:
    instruction = service.instruction
    instructions = (
        f"Autonomy Arena episode {service.episode.view().task_id}. Work on this task on your own with the tools, "
        "then call submit:\n\n"
        f"{instruction}"
    )

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=service.tools())

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        return await service.call(params.name, dict(params.arguments or {}))

    async def list_prompts(ctx: Any, params: Any) -> types.ListPromptsResult:
        return types.ListPromptsResult(prompts=[types.Prompt(name="task", description="The task to work on")])

    async def get_prompt(ctx: Any, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        if params.name != "task":
            raise ValueError(f"unknown prompt {params.name!r}; the only prompt is 'task'")
        message = types.PromptMessage(role="user", content=types.TextContent(text=instruction))
        return types.GetPromptResult(description="The task to work on", messages=[message])

    async def list_resources(ctx: Any, params: Any) -> types.ListResourcesResult:
        resource = types.Resource(uri=TASK_URI, name="task", description="The task to work on", mime_type="text/plain")
        return types.ListResourcesResult(resources=[resource])

    async def read_resource(ctx: Any, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        if str(params.uri) != TASK_URI:
            raise ValueError(f"unknown resource {params.uri}; the only resource is {TASK_URI}")
        contents = types.TextResourceContents(uri=TASK_URI, text=instruction, mime_type="text/plain")
        return types.ReadResourceResult(contents=[contents])

    return Server(
        "autonomy-arena",
        instructions=instructions,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
        on_list_resources=list_resources,
        on_read_resource=read_resource,
    )


async def serve_episode(
    family: str,
    seed: int,
    *,
    split: Split = "dev",
    level: Level = "agent",
    sandbox: SandboxConfig,
    db_path: str,
    run_id: str | None = None,
) -> EpisodeResult:
    """Serve one episode over stdio until the client disconnects; returns its stored result."""
    config = RunConfig(
        agents=[AGENT_NAME], families=[family], seeds=[seed], splits=[split], levels=[level], sandbox=sandbox,
        concurrency=1, max_attempts=1,
    )
    fam = load_family(family)
    if level == "worker":
        from arena.levels.worker import JobFamily

        fam = JobFamily(family, [family])
    task = fam.generate(seed, split)
    key = config.plan()[0]
    run_id = run_id or new_run_id()
    store = Store(db_path)
    stored = config.model_dump(mode="json")
    stored["agent_configs"] = {AGENT_NAME: {"kind": "mcp", "transport": "stdio"}}
    store.create_run(run_id, stored, [key])
    attempt = store.start_attempt(run_id, key, task.id, TaskInfo.of(task))
    try:
        return await _serve(fam, task, key, config, store, run_id, attempt)
    finally:
        store.close()


async def _serve(
    fam: Family, task: Task, key: EpisodeKey, config: RunConfig, store: Store, run_id: str, attempt: int
) -> EpisodeResult:
    labels = {"arena.run": run_id, "arena.episode": key.id, "arena.attempt": str(attempt)}
    sandbox_cm = episode_sandbox(fam, OneOff(config.sandbox), labels)
    try:
        sandbox = await sandbox_cm.__aenter__()
    except InfraError as e:
        result = infra_result(task, str(e))
        store.finish_episode(run_id, key, result)
        store.set_run_status(run_id, "finished")
        return result
    env = build_episode(
        fam, task, sandbox, level=key.level, limits=config.limits.apply(task.limits),
        faults=config.faults.at(key.faults), config=config.level_options,
    )
    env = Recorder(env, lambda record: store.add_step(run_id, key, attempt, record))
    service = EpisodeService(env, store, run_id, key)
    await env.start()
    if env.done:  # the task could not be set up
        return await service.end("infra_error")
    server = build_server(service, task)
    watchdog = asyncio.create_task(service.watch_time())
    try:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
    except BaseException:  # interrupted: still store the episode and close its sandbox
        await service.end("cancelled", "the MCP server was interrupted")
        raise
    finally:
        watchdog.cancel()
    return await service.end("agent_error", "the MCP client disconnected before calling submit")
