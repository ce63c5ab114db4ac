"""Agents the executor tests pass by import path; they run on Ray workers, not in the test process."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

from arena.types import Action, Observation, TaskView


class KilledOnce:
    """Writes the greeting its task asks for and submits. The first of its episodes to take a step
    writes its process id (a Ray worker's) to `marker_dir/pid` and then waits there, to be killed
    mid-episode; every later episode, the retry of the killed one included, plays straight through."""

    def __init__(self, marker_dir: str) -> None:
        self.pid_file = Path(marker_dir) / "pid"
        self.greeting = ""

    async def reset(self, view: TaskView) -> None:
        match = re.search(r"Hello, \w+!", view.instruction)
        self.greeting = match.group(0) if match else ""

    async def act(self, obs: Observation) -> Action:
        if obs.step == 0:
            return Action.call("write_file", path="greeting.txt", content=self.greeting)
        if obs.step == 1 and self._first():
            await asyncio.sleep(120)  # the test kills this worker here
        return Action.submit()

    def _first(self) -> bool:
        try:
            fd = os.open(self.pid_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            return False
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        return True


class Witness:
    """Writes the instruction it was given to `marker_dir/<public task id>.txt`, then submits."""

    def __init__(self, marker_dir: str) -> None:
        self.marker_dir = Path(marker_dir)

    async def reset(self, view: TaskView) -> None:
        (self.marker_dir / f"{view.task_id}.txt").write_text(view.instruction)

    async def act(self, obs: Observation) -> Action:
        return Action.submit()
