"""A complete task family in one file: the example of the README's "Write your own family"."""

import random

from arena.protocols import State
from arena.tools import SHELL_TOOLS
from arena.types import Check, CheckResult, Subgoal, Task, ToolCall


class GreetingFamily:
    name = "greeting"
    version = "1"
    description = "Write a greeting for a named person into a file."
    templates = ["greet"]
    image = "arena-base"  # the Docker image its sandbox needs; None for tools without a sandbox

    def generate(self, seed: int, split: str) -> Task:
        rng = random.Random(f"greeting:{split}:{seed}")
        person = rng.choice(["Ada", "Grace", "Alan", "Edsger"] if split == "dev" else ["Barbara", "Ken", "Dennis"])
        return Task(
            family=self.name, version=self.version, seed=seed, split=split, template="greet",
            instructions=[f"Write 'Hello, {person}!' into greeting.txt.",
                          f"Create greeting.txt containing exactly: Hello, {person}!"],
            subgoals=[Subgoal(name="file", description="greeting.txt exists", checks=["greeting"])],
            human_minutes=0.5,
            params={"expected": f"Hello, {person}!"},
        )

    def tools(self, task: Task) -> list:
        return SHELL_TOOLS

    async def setup(self, task: Task, sandbox) -> State:
        return State()

    async def check(self, task: Task, sandbox, state: State) -> CheckResult:
        try:
            text = (await sandbox.read_file("greeting.txt")).decode(errors="replace").strip()
        except OSError:  # missing, a folder, unreadable: what the agent left there fails the check
            text = None
        return CheckResult(checks=[Check(name="greeting", passed=text == task.params["expected"], detail=str(text))])

    def solution(self, task: Task) -> list[ToolCall]:  # each step names the subgoal it serves
        content = task.params["expected"]
        return [ToolCall(name="write_file", arguments={"path": "greeting.txt", "content": content}, subgoal="file")]
