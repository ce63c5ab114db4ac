"""Drivers: other ways to play the same episode. `gym` is a synchronous Gymnasium view, `mcp`
serves an episode's tools to an MCP client. Both drive the very episode stack the runner uses."""
