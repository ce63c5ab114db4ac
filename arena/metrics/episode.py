"""Per-episode metrics: one row per stored episode, computed from its result, its task info and its
steps, never from live agent state, so a stored run can be re-scored with new metric code.

Levels, from the supervisor's events and the stored results:

- copilot: a subgoal is done by the agent itself when the agent's hand-in met it (or it was met
  along with a subgoal the agent handed in), with no `ask_for_help` on it and no takeover of it.
  Rejected hand-ins, interventions (help) and takeovers are counted.
- worker: the job succeeds when every part does; `parts_done` counts the parts whose checks all
  passed; faults met and recovered come from the reflection figures.
- agent: the final checks (success, score, the names of the checks that failed).

Why an episode ended (`why`): success; submitted but wrong; taken over (copilot); step limit;
timeout; budget; context full; agent crash; error (the arena's own failure); cancelled; and
pending for episodes not run yet.
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import BaseModel, Field

from arena.metrics.cost import PriceTable, episode_usage
from arena.metrics.reflection import EpisodeReflection, ReflectionConfig, reflect_on
from arena.store import StoredEpisode
from arena.types import Level, Outcome, PartResult, Split, StepRecord, Termination

Why = Literal[
    "success", "wrong", "taken_over", "step_limit", "timeout", "budget", "context", "crash", "error", "cancelled",
    "pending",
]
WHY_LABELS: dict[str, str] = {
    "success": "success", "wrong": "submitted, wrong", "taken_over": "taken over", "step_limit": "step limit",
    "timeout": "timeout", "budget": "budget", "context": "context full", "crash": "agent crash", "error": "error",
    "cancelled": "cancelled", "pending": "not run",
}
BY_TERMINATION: dict[str, Why] = {
    "max_steps": "step_limit", "time_limit": "timeout", "budget": "budget", "context": "context",
    "agent_error": "crash", "infra_error": "error", "cancelled": "cancelled",
}


class CopilotEpisode(BaseModel):
    subgoals: int = 0
    self_done: int = 0  # met by the agent, with no help on it and no takeover
    met: int = 0  # met at all, by the agent or the supervisor
    rejected: int = 0  # hand-ins the supervisor found not met
    interventions: int = 0  # ask_for_help answers
    takeovers: int = 0


class WorkerEpisode(BaseModel):
    parts: int = 0
    parts_done: int = 0
    part_families: dict[str, list[bool]] = Field(default_factory=dict)  # family -> each part's success


class EpisodeMetrics(BaseModel):
    run_id: str
    episode: str  # EpisodeKey.id within the run
    agent: str  # the label shown (the key's agent; run:agent when several runs are summarised)
    family: str
    split: Split
    seed: int
    level: Level
    trial: int
    paraphrase: int
    faults: float
    template: str | None = None
    difficulty: int | None = None
    human_minutes: float | None = None
    status: str
    outcome: Outcome | None = None
    termination: Termination | None = None
    why: Why = "pending"
    score: float | None = None
    steps: int = 0
    agent_steps: int = 0
    tool_calls: int = 0
    tool_errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    used_model: bool = False
    seconds: float = 0.0
    checks: list[str] = Field(default_factory=list)
    failed_checks: list[str] = Field(default_factory=list)
    error: str | None = None
    reflection: EpisodeReflection | None = None  # None when the steps were not read
    copilot: CopilotEpisode | None = None
    worker: WorkerEpisode | None = None

    @cached_property
    def task(self) -> tuple[str, str, int]:
        """The task: episodes of it are not independent (the unit of every interval)."""
        return (self.family, self.split, self.seed)

    @cached_property
    def cell(self) -> tuple[str, str, int, str, int, float]:
        """The task under one condition (level, wording, fault rate): its trials are repeats."""
        return (self.family, self.split, self.seed, self.level, self.paraphrase, self.faults)

    @property
    def scored(self) -> bool:
        return self.outcome in ("success", "fail")

    @property
    def success(self) -> bool:
        return self.outcome == "success"


def episode_metrics(
    ep: StoredEpisode,
    steps: list[StepRecord] | None,
    *,
    run_id: str = "",
    label: str | None = None,
    prices: PriceTable | None = None,
    model: str | None = None,
    reflection: ReflectionConfig | None = None,
) -> EpisodeMetrics:
    key, result, info = ep.key, ep.result, ep.task
    row = EpisodeMetrics(
        run_id=run_id, episode=key.id, agent=label or key.agent, family=key.family, split=key.split, seed=key.seed,
        level=key.level, trial=key.trial, paraphrase=key.paraphrase, faults=key.faults,
        template=info.template if info else None, difficulty=info.difficulty if info else None,
        human_minutes=info.human_minutes if info else None, status=ep.status,
    )
    if result is None:
        return row
    tokens_in, tokens_out, cost = episode_usage(steps, result.usage, prices=prices, model=model)
    agent_steps = [s for s in steps if s.actor == "agent"] if steps is not None else None
    row = row.model_copy(update={
        "outcome": result.outcome, "termination": result.termination, "score": result.score,
        "steps": result.steps, "agent_steps": len(agent_steps) if agent_steps is not None else result.steps,
        "tool_calls": result.tool_calls, "tool_errors": result.tool_errors, "input_tokens": tokens_in,
        "output_tokens": tokens_out, "cost_usd": cost,
        "used_model": bool(tokens_in or tokens_out or cost is not None), "seconds": result.seconds,
        "checks": [c.name for c in result.checks], "failed_checks": [c.name for c in result.checks if not c.passed],
        "error": result.error,
    })
    if steps is not None:
        row.reflection = reflect_on(steps, reflection)
    if key.level == "copilot" and steps is not None:
        row.copilot = copilot_figures(steps, len(info.subgoals) if info and info.subgoals else 1)
    if key.level == "worker":
        row.worker = worker_figures(result.parts)
    row.why = why(row)
    return row


def why(row: EpisodeMetrics) -> Why:
    if row.outcome is None:
        return "pending"
    if row.outcome == "success":
        return "success"
    if row.termination == "submitted":
        return "taken_over" if row.copilot is not None and row.copilot.takeovers else "wrong"
    return BY_TERMINATION.get(row.termination or "", "error")


def copilot_figures(steps: list[StepRecord], subgoals: int) -> CopilotEpisode:
    out = CopilotEpisode(subgoals=subgoals)
    helped: set[str] = set()
    taken: set[str] = set()
    done_by: dict[str, str] = {}
    last = "agent"  # who finished the subgoal before: a subgoal met along with it is theirs too
    for step in steps:
        for e in step.events:
            goal = e.subgoal or ""
            if e.kind == "help":
                helped.add(goal)
                out.interventions += 1
            elif e.kind == "hand_in_rejected":
                out.rejected += 1
            elif e.kind == "hand_in_met":
                done_by[goal], last = "agent", "agent"
            elif e.kind == "takeover":
                taken.add(goal)
                done_by[goal], last = "supervisor", "supervisor"
                out.takeovers += 1
            elif e.kind == "subgoal_met":
                done_by[goal] = last
    out.met = min(subgoals, len(done_by))
    out.self_done = min(subgoals, sum(1 for g, who in done_by.items()
                                      if who == "agent" and g not in helped and g not in taken))
    return out


def worker_figures(parts: list[PartResult]) -> WorkerEpisode:
    families: dict[str, list[bool]] = {}
    for p in parts:
        families.setdefault(p.family, []).append(p.success)
    return WorkerEpisode(parts=len(parts), parts_done=sum(p.success for p in parts), part_families=families)
