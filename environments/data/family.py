"""The data family: answer questions about generated CSV, JSON and log files exactly.

Every question needs real computation over messy data (aggregates, joins, filters, date
arithmetic, unit conversions, rounding rules, version and decimal ordering). The agent gets a
`python` tool to compute with; its submitted answer is read leniently and compared strictly.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence

from pydantic import BaseModel, Field

from arena.errors import ToolError
from arena.protocols import GradingView, Sandbox, State
from arena.tools import Tool, ToolContext, cap_output, format_exec, list_dir, read_file
from arena.types import CheckResult, Limits, Split, Subgoal, Task, ToolCall

from .._kit import goal, level_for, rng_for, sealed, step, template_for, write_files
from .answers import Expected, judge
from .common import Level, Problem, instructions
from .templates import access_log, leave, orders, releases, sales, sensors

GENERATORS: dict[str, Callable[[random.Random, Split, Level], Problem]] = {
    "sales": sales.generate,
    "orders": orders.generate,
    "access_log": access_log.generate,
    "sensors": sensors.generate,
    "leave": leave.generate,
    "releases": releases.generate,
}
TEMPLATES = tuple(GENERATORS)
PYTHON_OUTPUT_LIMIT = 8000
SCRATCH_DIR = ".python"


class PythonArgs(BaseModel):
    code: str = Field(
        description="Python 3 source code. It runs with python3 in the work directory (where the data files "
        "are); print() what you want to see."
    )


async def _python(args: PythonArgs, ctx: ToolContext) -> str:
    script = f"{SCRATCH_DIR}/snippet_{uuid.uuid4().hex[:8]}.py"
    await ctx.sandbox.write_file(script, args.code.encode())
    # Run and remove the script in one go (leaving the work dir as it was), keeping python's exit status.
    cleanup = f'rm -f "$0"; rmdir {SCRATCH_DIR} 2>/dev/null'
    r = await ctx.sandbox.exec(
        ["bash", "-c", f'python3 "$0"; status=$?; {cleanup}; exit $status', script], timeout=ctx.timeout
    )
    text, _ = cap_output(format_exec(r.exit_code, r.stdout, r.stderr, r.timed_out, ctx.timeout), PYTHON_OUTPUT_LIMIT)
    if r.timed_out or r.exit_code != 0:
        raise ToolError(text)
    return text


python = Tool(
    "python",
    "Run Python 3 code in the work directory and return its stdout, stderr and exit code. Each call is a "
    "fresh process: nothing is kept between calls.",
    PythonArgs,
    _python,
    effect="run",
)


class DataFamily:
    name = "data"
    version = "2"
    description = "Answer questions about messy CSV, JSON and log files exactly, computing with Python."
    templates: Sequence[str] = TEMPLATES
    image: str | None = "arena-base"

    def generate(self, seed: int, split: Split, salt: str | None = None) -> Task:
        rng = rng_for(self.name, split, seed, salt)
        template = template_for(seed, TEMPLATES)
        problem = GENERATORS[template](rng, split, Level(level_for(seed, TEMPLATES)))
        task = Task(
            family=self.name,
            version=self.version,
            seed=seed,
            split=split,
            template=template,
            instructions=instructions(problem),
            files=problem.files,
            subgoals=[
                Subgoal(
                    name="exact_answer",
                    description="Compute the answer from the files and submit it in the requested format.",
                    checks=["answer_value"],
                )
            ],
            limits=Limits(max_steps=10 + 5 * problem.difficulty),
            human_minutes=problem.human_minutes,
            difficulty=problem.difficulty,
            params={"question": problem.kind, "expected": problem.expected.model_dump(), "solution": problem.solution},
        )
        return sealed(task, salt)

    def tools(self, task: Task) -> list[Tool]:
        return [python, read_file, list_dir]

    async def setup(self, task: Task, sandbox: Sandbox) -> State:
        await write_files(sandbox, task.files)
        return State()

    async def check(self, task: Task, sandbox: Sandbox | GradingView, state: State) -> CheckResult:
        # Only the answer counts: that one was given at all is no progress toward the right one.
        correct, detail = judge(Expected.model_validate(task.params["expected"]), state.answer)
        return CheckResult(checks=[goal("answer_value", correct, detail)])

    def solution(self, task: Task) -> list[ToolCall]:
        expected = Expected.model_validate(task.params["expected"])
        return [
            step("python", "exact_answer", code=task.params["solution"]),
            step("submit", "exact_answer", answer=expected.show()),
        ]
