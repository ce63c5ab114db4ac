"""`FilesFamily`: file-system chores generated from a seed, graded by the final state of the files."""

from __future__ import annotations

from arena.protocols import GradingView, Sandbox, State
from arena.tools import SHELL_TOOLS, Tool
from arena.types import CheckResult, Limits, Split, Task, ToolCall

from .._kit import grading_view, level_for, rng_for, sealed, template_for, write_files
from . import _cleanup, _count, _csv, _dedupe, _manifest, _rename, _sort
from ._common import Final, Template, snapshot, tree_check

TEMPLATES: tuple[Template, ...] = (
    _sort.TEMPLATE,
    _count.TEMPLATE,
    _rename.TEMPLATE,
    _csv.TEMPLATE,
    _cleanup.TEMPLATE,
    _dedupe.TEMPLATE,
    _manifest.TEMPLATE,
)
BY_NAME = {t.name: t for t in TEMPLATES}


def difficulty_for(seed: int) -> int:
    """Levels 1-5 in turn, one step up each time every template has had a seed: from level 2 on
    the distractors get trickier, and every level has more files and deeper trees."""
    return level_for(seed, TEMPLATES)


class FilesFamily:
    name = "files"
    version = "2"
    description = "File-system chores: sort, count, rename, convert CSV to JSON, prune logs, deduplicate, inventory."
    templates = tuple(t.name for t in TEMPLATES)
    image = "arena-base"

    def generate(self, seed: int, split: Split, salt: str | None = None) -> Task:
        rng = rng_for(self.name, split, seed, salt)
        template = template_for(seed, TEMPLATES)
        difficulty = difficulty_for(seed)
        draft = template.draft(rng, split, difficulty)
        task = Task(
            family=self.name,
            version=self.version,
            seed=seed,
            split=split,
            template=template.name,
            instructions=draft.instructions,
            files=draft.files,
            subgoals=draft.subgoals,
            limits=Limits(max_steps=draft.max_steps),
            human_minutes=draft.human_minutes,
            difficulty=difficulty,
            params=draft.params,
        )
        return sealed(task, salt)

    def tools(self, task: Task) -> list[Tool]:
        return list(SHELL_TOOLS)

    async def setup(self, task: Task, sandbox: Sandbox) -> State:
        await write_files(sandbox, task.files, mtime=task.params.get("mtime"))
        return State()

    async def check(self, task: Task, sandbox: Sandbox | GradingView, state: State) -> CheckResult:
        async with grading_view(sandbox) as view:
            final = Final(snapshot=await snapshot(view), view=view, state=state)
            checks = [tree_check(group, final.snapshot) for group in task.params["expect"]]
            checks += await BY_NAME[task.template].extra_checks(task, final)
        return CheckResult(checks=checks)

    def solution(self, task: Task) -> list[ToolCall]:
        return BY_NAME[task.template].solution(task)
