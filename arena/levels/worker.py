"""The worker level: a job of two to four tasks behind one goal statement, done alone.

A `JobFamily` is a composite family: it generates a job from `(seed, split)` around a primary
family (its first part is that family's task of the same seed, so the levels compare on the same
tasks) and draws the other parts from the run's families. Job templates:

- `batch`: more tasks of the primary family;
- `mixed`: the primary task beside tasks of other families;
- `chain`: one part's output is the next part's input: a data export arrives in pieces that must
  be put back together (a file-system step) before the `data` question about it can be answered.

Each part keeps its own world: its own folder of the work directory (its files, its tools' working
directory) and its own state. The parts' tools are merged into one toolbox: the standard shell
tools are shared at the job's root, a part's own tools are bound to its folder and state, and tools
whose names clash are namespaced by folder. Checks run only at the end; the job succeeds only when
every part's checks pass, and its score is the share of parts done (`EpisodeResult.parts` says
where a worker failed). No help, no intermediate checks; faults are on by default for workers
(`arena.levels.default_fault_rate`) and the budget is the sum of the parts' budgets and more.
"""

from __future__ import annotations

import hashlib
import random
import re
import shlex
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, Field

from arena.config import generate
from arena.environments._kit import rng_for
from arena.errors import InfraError, ToolError
from arena.protocols import ExecResult, Family, GradingView, Sandbox, State
from arena.registry import load_family
from arena.tools import SHELL_TOOLS, Tool, ToolContext, edit
from arena.types import (
    Check,
    CheckResult,
    EpisodeResult,
    Limits,
    PartResult,
    Split,
    Subgoal,
    Task,
    ToolCall,
    salt_fingerprint,
)
from arena.wrappers import EpisodeWrapper

JOB_VERSION = "1"
SHARED_TOOLS = {t.name: t for t in [*SHELL_TOOLS, edit]}  # one meaning across parts: run at the job's root
FOLDERS = {"files": "shared-drive", "data": "analysis", "repair": "code", "helpdesk": "support", "web": "intranet"}
OPENINGS = (
    "You are covering the operations desk today and nobody is around to ask. The queue below is yours: "
    "finish all of it on your own, then call submit once.",
    "This is the hand-over from the previous shift. Everything it left open has to be finished today, "
    "without check-ins along the way; call submit when the whole job is done.",
    "Your manager is travelling and left you a job to get through alone. Work through all of it, check "
    "your own work, and call submit when everything is done.",
)
CONNECTORS = ("To start with", "Next", "After that", "Finally")
TOPICS = {  # (one, several) of a part's kind, for the job's opening line
    "files": ("a clean-up on the shared drive", "{n} clean-ups on the shared drive"),
    "data": ("a question about a data set", "{n} questions about data sets"),
    "repair": ("a bug fix", "{n} bug fixes"),
    "helpdesk": ("a customer ticket", "{n} customer tickets"),
    "web": ("an errand on the intranet", "{n} errands on the intranet"),
    "assemble": ("an export that came in pieces", "{n} exports that came in pieces"),
}
NUMBERS = {2: "two", 3: "three", 4: "four"}


# ---------------------------------------------------------------- sub-task views of the sandbox


def in_folder(folder: str, path: str) -> str:
    return path if not folder or path.startswith("/") else f"{folder}/{path}"


def _in_dir(folder: str, cmd: str | list[str]) -> list[str]:
    argv = ["bash", "-c", cmd] if isinstance(cmd, str) else list(cmd)
    return ["sh", "-c", 'cd -- "$1" || exit 1; shift; exec "$@"', "sh", folder, *argv]


class SubdirSandbox:
    """A part's view of the job's sandbox: commands start in its folder, relative paths land there."""

    def __init__(self, inner: Sandbox, folder: str) -> None:
        self.inner = inner
        self.folder = folder
        self.workdir = f"{inner.workdir.rstrip('/')}/{folder}" if folder else inner.workdir

    async def exec(self, cmd: str | list[str], *, timeout: float, stdin: bytes | None = None) -> ExecResult:
        argv = _in_dir(self.folder, cmd) if self.folder else cmd
        return await self.inner.exec(argv, timeout=timeout, stdin=stdin)

    async def write_file(self, path: str, data: bytes) -> None:
        await self.inner.write_file(in_folder(self.folder, path), data)

    async def read_file(self, path: str) -> bytes:
        return await self.inner.read_file(in_folder(self.folder, path))

    async def close(self) -> None:
        return None  # the job owns the sandbox


class SubdirGradingView(SubdirSandbox):
    """A part's view of the job's grading view."""

    def __init__(self, inner: GradingView, folder: str) -> None:
        super().__init__(inner, folder)  # type: ignore[arg-type]
        self.grading = inner
        self.scratch = inner.scratch

    async def exec_untrusted(
        self, cmd: str | list[str], *, timeout: float, stdin: bytes | None = None, cwd: str | None = None
    ) -> ExecResult:
        where = self.workdir if cwd is None else (cwd if cwd.startswith("/") else f"{self.workdir}/{cwd}")
        return await self.grading.exec_untrusted(cmd, timeout=timeout, stdin=stdin, cwd=where)


# ---------------------------------------------------------------- the chained step


class AssembleStep:
    """The file-system step of a chain: a data export arrives in pieces in `inbox/` and must be
    put back together, byte for byte, where the next part's question expects it."""

    name = "assemble"
    version = JOB_VERSION
    description = "Put a data export that arrived in pieces back together."
    templates: Sequence[str] = ("assemble",)
    image: str | None = "arena-base"

    def task(self, data_task: Task, data_folder: str, seed: int, split: Split) -> tuple[Task, str]:
        """The step for `data_task`, and the data file it produces (dropped from the data part)."""
        rng = random.Random(f"assemble:{split}:{seed}")
        path = max(data_task.files, key=lambda p: len(data_task.files[p]))
        text = data_task.files[path]
        lines = text.splitlines(keepends=True)
        count = min(max(2, len(lines) // 8), 5)
        bounds = sorted(rng.sample(range(1, len(lines)), count - 1)) if len(lines) > count else list(range(1, count))
        chunks = ["".join(lines[a:b]) for a, b in zip([0, *bounds], [*bounds, len(lines)], strict=True)]
        stem = path.rsplit("/", 1)[-1]
        pieces = {f"inbox/{stem}.part{i + 1}of{count}": chunk for i, chunk in enumerate(chunks)}
        target = f"{data_folder}/{path}"
        names = ", ".join(f"`{p}`" for p in pieces)
        return Task(
            family=self.name, version=self.version, seed=seed, split=split, template="assemble",
            instructions=[
                f"The export `{stem}` that the analysis needs came through the mail gateway split into {count} "
                f"pieces ({names}). Join them, in order and byte for byte, into `{target}`.",
                f"`{stem}` arrived cut into {count} consecutive pieces in `inbox/` ({names}); rebuild the "
                f"original file at `{target}` by concatenating them in order, changing nothing.",
                f"Put `{target}` back together from its {count} pieces in `inbox/` ({names}), joined in the "
                f"order of their numbers with nothing added or lost.",
            ],
            files=pieces,
            subgoals=[Subgoal(name="assembled", description=f"`{target}` is rebuilt", checks=["assembled"])],
            limits=Limits(max_steps=8),
            human_minutes=3.0,
            difficulty=1,
            params={"target": target, "sha256": hashlib.sha256(text.encode()).hexdigest(), "pieces": list(pieces)},
        ), path

    def tools(self, task: Task) -> list[Tool]:
        return list(SHELL_TOOLS)

    async def setup(self, task: Task, sandbox: Sandbox) -> State:
        for path, text in task.files.items():
            await sandbox.write_file(path, text.encode())
        return State()

    async def check(self, task: Task, sandbox: GradingView, state: State) -> CheckResult:
        target = task.params["target"]
        try:
            data = await sandbox.read_file(target)
            ok = hashlib.sha256(data).hexdigest() == task.params["sha256"]
            detail = "rebuilt exactly" if ok else f"{target} differs from the original export"
        except OSError as e:
            ok, detail = False, f"{target} cannot be read: {e}"
        return CheckResult(checks=[Check(name="assembled", passed=ok, detail=detail)])

    def solution(self, task: Task) -> list[ToolCall]:
        pieces = " ".join(shlex.quote(p) for p in task.params["pieces"])
        target = shlex.quote(task.params["target"])
        command = f"mkdir -p -- \"$(dirname {target})\" && cat -- {pieces} > {target}"
        return [ToolCall(name="bash", arguments={"command": command}, subgoal="assembled")]


# ---------------------------------------------------------------- the job


@dataclass(frozen=True)
class Part:
    folder: str  # "" for a part that works across the job's folders (the chained step)
    family: Family
    task: Task

    @property
    def label(self) -> str:
        return self.folder or self.task.family


class JobState(State):
    def __init__(self, parts: dict[str, State]) -> None:
        self.parts = parts


class AnswerArgs(BaseModel):
    part: str = Field(description="The folder of the part whose question you answer (as named in the job).")
    answer: str = Field(description="Your answer to that part's question.")


class JobFamily:
    """Jobs around `primary`, drawing further parts from `pool` (the run's families)."""

    version = JOB_VERSION
    templates: Sequence[str] = ("batch", "mixed", "chain")

    def __init__(self, primary: str, pool: Sequence[str], *, salt: str | None = None) -> None:
        self.primary = primary
        self.salt = salt  # a private test split's secret: parts are generated with it
        self.pool = list(dict.fromkeys([primary, *pool]))
        self.name = f"job:{primary}"
        self.description = f"Jobs of two to four tasks around the {primary} family"
        self.families = {name: load_family(name) for name in self.pool}
        images = {f.image for f in self.families.values()} | {AssembleStep.image}
        self.image = "arena-python" if "arena-python" in images else "arena-base" if images - {None} else None
        if all(f.image is None for f in self.families.values()):
            self.image = None

    # ------------------------------------------------------------ generation

    def _templates(self) -> list[str]:
        names = ["batch"]
        if len(self.pool) > 1:
            names.append("mixed")
        if "data" in self.pool and self.primary in ("data", "files"):
            names.append("chain")
        return names

    def generate(self, seed: int, split: Split, salt: str | None = None) -> Task:
        if salt and salt != self.salt:
            raise ValueError("a job family generates with the salt it was made with")
        rng = rng_for(f"{self.name}:{'+'.join(self.pool)}", split, seed, self.salt)
        template = self._templates()[seed % len(self._templates())]
        specs = self._compose(template, rng, seed)
        parts = self._parts_from(specs, split)
        needs_answer = [p.label for p in parts if _answer_of(p) is not None]
        instructions = [_statement(parts, rng.choice(OPENINGS), needs_answer, i) for i in range(3)]
        subgoals = [
            Subgoal(name=f"{p.label}/{g.name}", description=f"{p.label}: {g.description}",
                    checks=[f"{p.label}/{c}" for c in g.checks])
            for p in parts for g in p.task.subgoals
        ]
        limits = Limits(
            max_steps=sum(p.task.limits.max_steps for p in parts) + 5,
            max_seconds=sum(p.task.limits.max_seconds for p in parts),
            tool_timeout=max(p.task.limits.tool_timeout for p in parts),
        )
        return Task(
            family=self.name, version=self.version, seed=seed, split=split, template=template,
            instructions=instructions, subgoals=subgoals, limits=limits,
            human_minutes=round(sum(p.task.human_minutes for p in parts) * 1.1, 1),  # plus switching between them
            difficulty=max(p.task.difficulty for p in parts),
            params={"parts": specs},
            private=salt_fingerprint(self.salt) if self.salt and split == "test" else None,
        )

    def _compose(self, template: str, rng: random.Random, seed: int) -> list[dict[str, Any]]:
        """Which tasks a job holds: (family, seed) per part; the first is the primary's own seed."""

        def derived() -> int:
            return 1000 + rng.randrange(1_000_000)

        if template == "chain":
            data_seed = seed if self.primary == "data" else derived()
            specs = [{"kind": "assemble", "seed": derived(), "data_seed": data_seed},
                     {"kind": "task", "family": "data", "seed": data_seed, "chained": True}]
            if self.primary != "data":
                specs.insert(0, {"kind": "task", "family": self.primary, "seed": seed})
            return specs
        others = [f for f in self.pool if f != self.primary] if template == "mixed" else [self.primary]
        count = rng.randint(2, 4 if template == "mixed" else 3)
        specs = [{"kind": "task", "family": self.primary, "seed": seed}]
        specs += [{"kind": "task", "family": rng.choice(others), "seed": derived()} for _ in range(count - 1)]
        return specs

    def _parts_from(self, specs: list[dict[str, Any]], split: Split) -> list[Part]:
        return list(_parts(self, tuple(tuple(sorted(s.items())) for s in specs), split))

    def parts(self, task: Task) -> list[Part]:
        return self._parts_from(task.params["parts"], task.split)

    # ------------------------------------------------------------ tools, setup, check, solution

    def tools(self, task: Task) -> list[Tool]:
        parts = self.parts(task)
        owners: dict[str, list[Part]] = {}
        for part in parts:
            for tool in part.family.tools(part.task):
                if SHARED_TOOLS.get(tool.name) is not tool:
                    owners.setdefault(tool.name, []).append(part)
        tools: dict[str, Tool] = {}
        for part in parts:
            for tool in part.family.tools(part.task):
                if SHARED_TOOLS.get(tool.name) is tool:
                    tools[tool.name] = tool
                else:
                    name = tool_name(tool.name, part, clash=len(owners[tool.name]) > 1)
                    tools[name] = bind(tool, part, name)
        if any(_answer_of(p) is not None for p in parts):
            tools["answer"] = Tool(
                "answer", "Record your answer to the question of one part of the job (you may answer again to "
                "correct it); submit ends the whole job.", AnswerArgs, _answer, effect="change",
            )
        return list(tools.values())

    async def setup(self, task: Task, sandbox: Sandbox) -> State:
        states: dict[str, State] = {}
        for part in self.parts(task):
            if part.folder and part.family.image is not None:
                made = await sandbox.exec(["mkdir", "-p", "--", part.folder], timeout=30)
                if made.exit_code != 0:
                    raise InfraError(f"cannot make the folder of part {part.folder}: {made.stderr.strip()}")
            states[part.label] = await part.family.setup(part.task, SubdirSandbox(sandbox, part.folder))
        return JobState(states)

    async def check(self, task: Task, sandbox: GradingView, state: State) -> CheckResult:
        assert isinstance(state, JobState)
        answers = [p for p in self.parts(task) if _answer_of(p) is not None]
        if state.answer is not None and len(answers) == 1:  # `submit(answer)` answers the one question
            state.parts[answers[0].label].answer = state.parts[answers[0].label].answer or state.answer
        checks: list[Check] = []
        for part in self.parts(task):
            try:
                result = await part.family.check(part.task, SubdirGradingView(sandbox, part.folder),
                                                 state.parts[part.label])
                found = result.checks
            except InfraError:
                raise
            except Exception as e:  # one part's broken world must not keep the others from being graded
                found = [Check(name="grading", passed=False, detail=f"grading failed: {type(e).__name__}: {e}")]
            checks += [c.model_copy(update={"name": f"{part.label}/{c.name}"}) for c in found]
        return CheckResult(checks=checks)

    def solution(self, task: Task) -> list[ToolCall]:
        parts = self.parts(task)
        tool_names = {t.name for t in self.tools(task)}
        calls: list[ToolCall] = []
        for part in parts:
            for call in part.family.solution(part.task):
                subgoal = f"{part.label}/{call.subgoal}" if call.subgoal else None
                calls += _rebased(call, part, tool_names, subgoal)
        return [*calls, ToolCall(name="submit")]

    def part_results(self, task: Task, checks: list[Check]) -> list[PartResult]:
        results = []
        for part in self.parts(task):
            mine = [c for c in checks if c.name.startswith(f"{part.label}/")]
            outcome = CheckResult(checks=mine)
            results.append(PartResult(name=part.label, family=part.task.family, task_id=part.task.id,
                                      success=outcome.success, score=outcome.score))
        return results


@lru_cache(maxsize=512)
def _parts(job: JobFamily, specs: tuple[tuple[tuple[str, Any], ...], ...], split: Split) -> tuple[Part, ...]:
    """The parts of a job, generated once per (job, composition)."""
    parts: list[Part] = []
    used: dict[str, int] = {}
    chained: dict[int, tuple[Task, str]] = {}
    spec_dicts = [dict(s) for s in specs]
    for spec in spec_dicts:  # the chained data task must exist before its assembling step
        if spec["kind"] == "assemble":
            data_task = generate(job.families["data"], spec["data_seed"], split, job.salt)
            chained[spec["data_seed"]] = (data_task, "")
    for spec in spec_dicts:
        if spec["kind"] == "assemble":
            data_task = chained[spec["data_seed"]][0]
            step, produced = AssembleStep().task(data_task, _folder_for("data", dict(used), peek=True), spec["seed"],
                                                 split)
            chained[spec["data_seed"]] = (data_task, produced)
            parts.append(Part("", AssembleStep(), step))
            continue
        family = job.families[spec["family"]]
        task = generate(family, spec["seed"], split, job.salt)
        if spec.get("chained"):
            produced = chained[spec["seed"]][1]
            task = task.model_copy(update={"files": {p: t for p, t in task.files.items() if p != produced}})
        parts.append(Part(_folder_for(spec["family"], used), family, task))
    return tuple(parts)


def _folder_for(family: str, used: dict[str, int], *, peek: bool = False) -> str:
    base = FOLDERS.get(family, re.sub(r"[^a-z0-9]+", "-", family.lower()).strip("-") or "part")
    n = used.get(base, 0) + 1
    if not peek:
        used[base] = n
    return base if n == 1 else f"{base}-{n}"


def tool_name(name: str, part: Part, *, clash: bool) -> str:
    if not clash:
        return name
    return f"{re.sub(r'[^a-zA-Z0-9]+', '_', part.label).strip('_')}_{name}"[:64]


def bind(tool: Tool, part: Part, name: str) -> Tool:
    """`tool` working on `part`: in its folder, on its task and its state."""

    async def run(args: Any, ctx: ToolContext) -> str:
        state = ctx.state.parts[part.label] if isinstance(ctx.state, JobState) else ctx.state
        inner = ToolContext(SubdirSandbox(ctx.sandbox, part.folder), part.task, state, ctx.timeout, ctx.remaining)
        return await tool.run(args, inner)

    where = f"(for `{part.folder}/`) " if part.folder else ""
    return Tool(name, f"{where}{tool.description}", tool.args, run, tool.timeout, tool.effect)


async def _answer(args: AnswerArgs, ctx: ToolContext) -> str:
    assert isinstance(ctx.state, JobState)
    part = args.part.strip().strip("/`")
    if part not in ctx.state.parts:
        raise ToolError(f"no part named {args.part!r}; the parts are: {', '.join(ctx.state.parts)}")
    ctx.state.parts[part].answer = args.answer
    return f"answer for {part} recorded"


def _answer_of(part: Part) -> str | None:
    for call in part.family.solution(part.task):
        if call.name == "submit" and isinstance(call.arguments, dict) and call.arguments.get("answer") is not None:
            return str(call.arguments["answer"])
    return None


def _rebased(call: ToolCall, part: Part, tool_names: set[str], subgoal: str | None) -> list[ToolCall]:
    """A part's reference step as a call on the job: shared tools moved into the part's folder,
    bound tools under their job name, the part's answer through the `answer` tool."""
    args = dict(call.arguments) if isinstance(call.arguments, dict) else call.arguments
    if call.name == "submit":
        answer = args.get("answer") if isinstance(args, dict) else None
        return [] if answer is None else [ToolCall(name="answer", arguments={"part": part.label, "answer": answer},
                                                   subgoal=subgoal)]
    if call.name in SHARED_TOOLS and isinstance(args, dict):
        if call.name == "bash" and part.folder:
            args["command"] = f"cd -- {shlex.quote(part.folder)} || exit 1\n{args['command']}"
        elif "path" in args:
            args["path"] = in_folder(part.folder, str(args["path"]))
        return [ToolCall(name=call.name, arguments=args, subgoal=subgoal)]
    name = call.name if call.name in tool_names else tool_name(call.name, part, clash=True)
    return [ToolCall(name=name, arguments=args, subgoal=subgoal)]


def _statement(parts: list[Part], opening: str, needs_answer: list[str], paraphrase: int) -> str:
    """One goal statement for the whole job: the situation and what is in it, then each part where it lives."""
    counts = Counter(p.task.family for p in parts)
    topics = []
    for family, n in counts.items():
        one, several = TOPICS.get(family, (f"a {family} task", "{n} " + family + " tasks"))
        topics.append(one if n == 1 else several.format(n=NUMBERS.get(n, str(n))))
    queue = ", ".join(topics[:-1]) + f" and {topics[-1]}" if len(topics) > 1 else topics[0]
    paragraphs = [f"{opening} On the list: {queue}."]
    for i, part in enumerate(parts):
        connector = CONNECTORS[min(i, len(CONNECTORS) - 1)] if i < len(parts) - 1 else CONNECTORS[-1]
        where = (f"in `{part.folder}/` (for this part that folder is the work directory: every path is relative "
                 "to it)" if part.folder else "across the job's folders (paths from the top of the work directory)")
        paragraphs.append(f"{connector}, {where}:\n{part.task.instruction(paraphrase)}")
    if needs_answer:
        folders = ", ".join(f"`{n}`" for n in needs_answer)
        paragraphs.append(
            f"Where a part asks for an answer ({folders}), give it with the answer tool, naming the part; "
            "submit ends the whole job, so call it only once everything is done."
        )
    else:
        paragraphs.append("Submit ends the whole job: call it only once every part is done.")
    return "\n\n".join(paragraphs)


class Worker(EpisodeWrapper):
    """Scores a job as a whole: its parts' outcomes and, as score, the share of parts done."""

    def describe(self) -> str:
        return "Worker"

    async def finish(self) -> EpisodeResult:
        result = await self.inner.finish()
        core = self.unwrapped
        job = core.family
        if result.outcome == "error" or not isinstance(job, JobFamily):
            return result
        parts = job.part_results(core.task, result.checks)
        score = sum(p.success for p in parts) / len(parts) if parts else 0.0
        return result.model_copy(update={"parts": parts, "score": score})
