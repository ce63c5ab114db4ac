"""The MCP server over an `EpisodeService`: the episode's tools, plus its instruction as the
server's `instructions`, a `task` prompt and an `arena://task` resource."""

from __future__ import annotations

from typing import Any

from mcp import types
from mcp.server import Server

from arena.drivers.mcp._service import EpisodeService

TASK_URI = "arena://task"


def build_server(service: EpisodeService) -> Server[Any]:
    view = service.view()
    instruction = view.instruction
    limits = view.limits
    instructions = (
        f"Autonomy Arena episode {view.task_id}. Work on this task on your own with the tools, then call submit "
        f"(at most {limits.max_steps} tool calls and {limits.max_seconds:g} seconds from the first one):\n\n"
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
