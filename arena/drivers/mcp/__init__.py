"""One episode served as an MCP server, so any MCP client (a desktop assistant, an agent framework,
the MCP Inspector) can be the agent under test. Built on the official `mcp` SDK (v2 API).

    arena serve-mcp files --seed 3 --sandbox bwrap                          # stdio
    arena serve-mcp files --seed 3 --transport http --port 8765             # http://127.0.0.1:8765/mcp

The episode is the very stack the runner builds for the level (`arena.levels.build_episode`: the
copilot's hand-ins and help, the worker's job and faults), stored through the runner's `Recorder`
in a one-episode run (agent name "mcp"). Its instruction is the server's `instructions`, the
`task` prompt, the `arena://task` resource and part of the `submit` tool's description.

- Listing tools, prompts or resources is not a step: it never starts, stores or grades anything.
- Each `tools/call` is one step, stored as it happens; tool errors come back with `isError`. The
  first call sets the task up and starts the episode's clock.
- The episode ends at `submit` (the copilot: the last hand-in that is met) or a limit, after
  `--idle-timeout` seconds without a call, when a stdio client disconnects or stops the server
  (graded as the agent's failure) or when an HTTP server is stopped by its operator (its steps
  stored, back to pending, like an interrupted `arena run`). The answer that ends it says how it
  was graded: outcome, score, check names and whether each passed.
- Over HTTP the episode outlives connections and sessions: one connection per call works.
- The same `--run-id` again continues the run as `arena run --resume` does.

Needs the `mcp` package: `pip install 'autonomy-arena[mcp]'`.
"""

from arena.drivers.mcp._run import AGENT_NAME, ServedRun
from arena.drivers.mcp._serve import DEFAULT_PORT, MCP_PATH, Served, serve_episode
from arena.drivers.mcp._server import TASK_URI, build_server
from arena.drivers.mcp._service import EpisodeService

__all__ = [
    "AGENT_NAME",
    "DEFAULT_PORT",
    "MCP_PATH",
    "TASK_URI",
    "EpisodeService",
    "Served",
    "ServedRun",
    "build_server",
    "serve_episode",
]
