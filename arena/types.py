"""Core data types: tasks, tool calls and results, actions, observations, steps, episode results.

Everything that crosses a boundary (agent, store, report, HTTP) is one of these pydantic models,
so it serialises to JSON the same way everywhere.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

Split = Literal["dev", "test"]
Level = Literal["copilot", "agent", "worker"]
Outcome = Literal["success", "fail", "error"]
# How a tool acts on the world, for reflection metrics (did the agent check its work?):
# "read" only looks, "change" alters state, "run" may do either (a shell command, a test run).
Effect = Literal["read", "change", "run", "none"]
# Injected faults (arena.tools.faults): "error" means the tool did not run and a retry is right;
# "latency" ran slowly; "partial" and "empty" ran but the output was cut or lost (flagged as such).
FaultKind = Literal["error", "latency", "partial", "empty"]
CheckKind = Literal["goal", "guard"]
Actor = Literal["agent", "supervisor"]
Termination = Literal[
    "submitted",  # the agent called submit
    "max_steps",  # step limit reached (truncated)
    "time_limit",  # wall-time limit reached (truncated)
    "budget",  # token or cost budget exhausted (truncated)
    "context",  # the model's context window overflowed mid-episode (the agent's own limit)
    "agent_error",  # the agent itself crashed, hung or spoke garbage
    "infra_error",  # the sandbox or an endpoint failed: not the agent's fault
    "cancelled",  # the run was interrupted
]

SPLITS: tuple[Split, ...] = ("dev", "test")


def new_call_id() -> str:
    return "call_" + uuid.uuid4().hex[:12]


class Limits(BaseModel):
    """Budgets of one episode. A task sets defaults; the run config may override them."""

    max_steps: int = Field(30, ge=1)
    max_seconds: float = Field(600.0, gt=0)
    tool_timeout: float = Field(30.0, gt=0)
    max_tokens: int | None = Field(None, ge=1)
    max_cost_usd: float | None = Field(None, gt=0)


class Subgoal(BaseModel):
    """One intermediate goal; `checks` names the family checks that show it is met."""

    name: str
    description: str
    checks: list[str] = Field(default_factory=list)


class Task(BaseModel):
    """One generated task instance. `params` holds generator data, including grading material;
    it never reaches the agent (agents see a `TaskView`)."""

    model_config = ConfigDict(frozen=True)

    family: str
    version: str
    seed: int
    split: Split
    template: str
    instructions: list[str] = Field(min_length=1)
    files: dict[str, str] = Field(default_factory=dict)
    subgoals: list[Subgoal] = Field(default_factory=list)
    limits: Limits = Field(default_factory=Limits)
    human_minutes: float = 5.0
    difficulty: int = 1
    params: dict[str, Any] = Field(default_factory=dict)
    private: str | None = None  # the salt's fingerprint, for a task of a private split

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        return task_id(self.family, self.version, self.split, self.seed, self.private)

    @property
    def public_id(self) -> str:
        """What agents are told: opaque, so the seed (and with it the answer) is not handed over."""
        return public_task_id(self.id)

    def instruction(self, paraphrase: int = 0) -> str:
        return self.instructions[paraphrase % len(self.instructions)]


def task_id(family: str, version: str, split: str, seed: int, private: str | None = None) -> str:
    """Stable, readable id: the same family, version, split and seed always give the same id; a
    private split's tasks carry the salt's fingerprint. Kept on the host side (store, reports);
    agents see `public_task_id`."""
    return f"{family}@{version}/{split}/{seed}" + (f"#{private}" if private else "")


def salt_fingerprint(salt: str) -> str:
    """What is stored of a private split's secret: a fingerprint that cannot be turned back into it."""
    return hashlib.sha256(f"arena-salt:{salt}".encode()).hexdigest()[:12]


def public_task_id(readable_id: str) -> str:
    """An opaque, stable id for agents: a hash of the readable id that does not reveal the seed."""
    family = readable_id.split("@", 1)[0]
    return f"{family}-{hashlib.sha256(('arena-task:' + readable_id).encode()).hexdigest()[:12]}"


class ToolSpec(BaseModel):
    """What an agent is told about a tool: its name, what it does, and a JSON Schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]

    def openai(self) -> dict[str, Any]:
        """The tool in the OpenAI chat-completions `tools` format."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


class ToolCall(BaseModel):
    """A request to run a tool. `arguments` is a dict, or the raw string when an agent sent text
    that is not a JSON object (the episode turns that into a tool error, not a crash).
    `subgoal` tags the steps of a reference solution with the subgoal they serve; agents leave it empty."""

    id: str = Field(default_factory=new_call_id)
    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict)
    subgoal: str | None = None


class ToolResult(BaseModel):
    call_id: str
    name: str
    output: str
    is_error: bool = False
    truncated: bool = False
    fault: FaultKind | None = None  # an injected fault; "error" means the tool did not run: retry
    effect: Effect | None = None  # how the tool acts on the world (None: unknown tool, never ran)
    seconds: float = 0.0


class Usage(BaseModel):
    """Model usage of one action. `cost_usd` is None when the price is unknown (never shown as 0).
    `model` names the model that was billed, so a stored run can be priced again later."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    model: str | None = None

    def __add__(self, other: Usage) -> Usage:
        cost = None
        if self.cost_usd is not None or other.cost_usd is not None:
            cost = (self.cost_usd or 0.0) + (other.cost_usd or 0.0)
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cost_usd=cost,
            model=self.model or other.model,
        )


class Action(BaseModel):
    """What an agent does in one step: tool calls (a call to `submit` ends the episode),
    an optional message, and the model usage that producing it cost."""

    tool_calls: list[ToolCall] = Field(default_factory=list)
    message: str | None = None
    usage: Usage | None = None
    parse_error: str | None = None  # the agent's output could not be read as an action
    info: dict[str, Any] = Field(default_factory=dict)  # agent notes worth keeping (e.g. context trimmed)

    @classmethod
    def call(cls, name: str, usage: Usage | None = None, **arguments: Any) -> Action:
        return cls(tool_calls=[ToolCall(name=name, arguments=arguments)], usage=usage)

    @classmethod
    def submit(cls, answer: str | None = None, usage: Usage | None = None) -> Action:
        args = {} if answer is None else {"answer": answer}
        return cls(tool_calls=[ToolCall(name="submit", arguments=args)], usage=usage)


class TaskView(BaseModel):
    """What the agent is told at reset: no grading material, no generator parameters."""

    task_id: str
    family: str
    instruction: str
    tools: list[ToolSpec]
    level: Level
    limits: Limits


class Observation(BaseModel):
    """What the agent sees after each step: the results of its tool calls and, when the
    environment has something to say (no tool call, a limit is near), a note."""

    step: int
    results: list[ToolResult] = Field(default_factory=list)
    note: str | None = None
    done: bool = False


class Event(BaseModel):
    """Something a level's supervisor did or decided in a step (copilot hand-ins, help, takeovers)."""

    kind: Literal["subgoal", "hand_in_met", "hand_in_rejected", "help", "takeover", "subgoal_met"]
    subgoal: str | None = None
    detail: str = ""


class StepRecord(BaseModel):
    """One step as stored: the action, its results, timing and usage. The trajectory of these
    is the source of truth for every metric. `actor` is "supervisor" for steps the copilot
    supervisor played itself (a takeover); `sanitized` says the action had to be altered to be
    stored (text JSON cannot hold, nesting or size beyond the caps)."""

    index: int
    action: Action
    results: list[ToolResult]
    note: str | None = None
    started: float  # unix time
    seconds: float
    actor: Actor = "agent"
    events: list[Event] = Field(default_factory=list)
    sanitized: str | None = None


class Check(BaseModel):
    """One named check. A `goal` check measures progress toward the task; a `guard` check (no
    forbidden action, no collateral damage) passes by doing nothing, so it is a condition of
    success but never counts toward the score."""

    name: str
    passed: bool
    detail: str = ""
    kind: CheckKind = "goal"


class CheckResult(BaseModel):
    checks: list[Check] = Field(default_factory=list)

    @property
    def success(self) -> bool:
        return any(c.kind == "goal" for c in self.checks) and all(c.passed for c in self.checks)

    @property
    def score(self) -> float:
        """Progress toward the goal: the fraction of goal checks passed."""
        goals = [c for c in self.checks if c.kind == "goal"]
        return sum(c.passed for c in goals) / len(goals) if goals else 0.0


class EpisodeKey(BaseModel):
    """Identifies one planned episode within a run."""

    model_config = ConfigDict(frozen=True)

    agent: str
    family: str
    split: Split
    seed: int
    level: Level
    trial: int
    paraphrase: int = 0
    faults: float = 0.0  # rate of injected tool faults (0: none)

    @property
    def task_id(self) -> str:
        # The version is resolved when the family loads; the key names the family by name only.
        return f"{self.family}/{self.split}/{self.seed}"

    @property
    def id(self) -> str:
        key = f"{self.agent}|{self.family}/{self.split}/{self.seed}|{self.level}|t{self.trial}|p{self.paraphrase}"
        return key + (f"|f{self.faults:g}" if self.faults else "")


class TaskInfo(BaseModel):
    """What reports need to know of an episode's task, stored with the episode so a stored run can
    be re-scored without regenerating (or being able to regenerate) its tasks."""

    id: str
    public_id: str
    family: str
    template: str
    difficulty: int
    human_minutes: float
    subgoals: list[str] = Field(default_factory=list)
    instruction: str = ""  # the wording the agent saw

    @classmethod
    def of(cls, task: Task, paraphrase: int = 0) -> TaskInfo:
        return cls(
            id=task.id, public_id=task.public_id, family=task.family, template=task.template,
            difficulty=task.difficulty, human_minutes=task.human_minutes, subgoals=[g.name for g in task.subgoals],
            instruction=task.instruction(paraphrase),
        )


class PartResult(BaseModel):
    """One sub-task of a worker job: where a worker got, task by task."""

    name: str
    family: str
    task_id: str
    success: bool
    score: float


class EpisodeResult(BaseModel):
    """The outcome of one finished episode, derived from its steps and checks."""

    outcome: Outcome
    termination: Termination
    score: float = 0.0
    checks: list[Check] = Field(default_factory=list)
    steps: int = 0
    tool_calls: int = 0
    tool_errors: int = 0
    usage: Usage = Field(default_factory=Usage)
    seconds: float = 0.0
    error: str | None = None
    task_id: str = ""
    parts: list[PartResult] = Field(default_factory=list)
