#!/usr/bin/env python3
"""An external agent for `command:` agents, in plain Python: it speaks newline-delimited JSON on
stdin/stdout (see agents/command.py). With a plan file (a JSON list of tool calls, each
{"name": ..., "arguments": {...}}) it plays the plan, repeating a call once when an injected
fault makes it fail, then submits; without one it lists the work directory and submits.

    arena run --agents 'command:"python3 scripts/example_command_agent.py plan.json"' --families files
"""
import json
import sys
from pathlib import Path

LOOK_AROUND = [{"name": "list_dir", "arguments": {"path": "."}}]
plan = json.loads(Path(sys.argv[1]).read_text()) if len(sys.argv) > 1 else LOOK_AROUND
step, retried = 0, False
for line in sys.stdin:  # end of input: the episode is over
    message = json.loads(line)
    if message["type"] == "reset":
        print("task:", message["task"]["instruction"][:200], file=sys.stderr)  # stderr is for logs only
        continue
    results = message["observation"]["results"]
    if results and results[-1]["fault"] and not retried:  # a transient fault: the right move is a retry
        step, retried = step - 1, True
    else:
        retried = False
    if step < len(plan):
        action = {"tool_calls": [plan[step]]}
        step += 1
    else:
        action = {"submit": None}
    print(json.dumps(action), flush=True)
