"""Certified autonomy level: a gate per level, judged on lower confidence bounds.

An agent is certified at the highest level whose gate it passes, per agent (all families) and per
agent and family. Every figure of a gate must have its 95% lower bound at or above its threshold,
so a level is never certified from a handful of episodes: five tasks that all pass have a lower
bound of 57%. Defaults (`[gates]` in run.toml changes them):

| level | figures (lower bound >= threshold) |
| --- | --- |
| copilot | subgoals done by the agent itself >= 0.8 |
| agent | success >= 0.8, pass^3 >= 0.6 |
| worker | job success >= 0.8, pass^3 >= 0.6, fault robustness >= 0.9 |

pass^k needs k trials per task (`--trials 3`); fault robustness needs the worker level run with and
without faults on the same tasks (`--faults 0,0.1`). A figure that was not measured blocks its gate
and says how to measure it. The report names the figure that blocks the next level up.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field

from arena.metrics.groups import Group
from arena.metrics.stats import Rate
from arena.types import Level

LEVEL_ORDER: tuple[Level, ...] = ("copilot", "agent", "worker")


class CopilotGate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    self_done: float = Field(0.8, ge=0, le=1, description="subgoals done by the agent itself")


class AgentGate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    success: float = Field(0.8, ge=0, le=1)
    pass_hat_k: float = Field(0.6, ge=0, le=1, description="pass^k, k from [gates] k")


class WorkerGate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    success: float = Field(0.8, ge=0, le=1, description="job success")
    pass_hat_k: float = Field(0.6, ge=0, le=1)
    fault_robustness: float = Field(0.9, ge=0, le=1)


class GateConfig(BaseModel):
    """`[gates]` in run.toml: `k`, then `[gates.copilot]`, `[gates.agent]`, `[gates.worker]`."""

    model_config = ConfigDict(extra="forbid")

    k: int = Field(3, ge=1, le=100, description="the k of pass^k in the agent and worker gates")
    copilot: CopilotGate = Field(default_factory=CopilotGate)
    agent: AgentGate = Field(default_factory=AgentGate)
    worker: WorkerGate = Field(default_factory=WorkerGate)


class GateFigure(BaseModel):
    figure: str  # "success", "pass^3", "self-done subgoals", "fault robustness"
    threshold: float
    value: float | None = None
    low: float | None = None
    tasks: int = 0
    passed: bool = False
    note: str = ""  # why it was not measured, and how to measure it

    def text(self) -> str:
        if self.low is None:
            return f"{self.figure}: {self.note or 'not measured'}"
        low = f"{100 * self.low:.0f}"
        if not self.passed and int(low) >= round(100 * self.threshold):  # never "80% < 80%"
            low = f"{math.floor(1000 * self.low) / 10:.1f}"
        return (f"{self.figure} {100 * (self.value or 0):.0f}%, lower bound {low}% "
                f"{'>=' if self.passed else '<'} {100 * self.threshold:.0f}%")


class GateResult(BaseModel):
    level: Level
    run: bool  # the level was run at all
    passed: bool
    figures: list[GateFigure]

    @property
    def blocking(self) -> GateFigure | None:
        return next((f for f in self.figures if not f.passed), None)


class Certification(BaseModel):
    agent: str
    family: str | None  # None: all families
    level: Level | None  # the highest level whose gate passes; None certifies nothing
    gates: list[GateResult]
    next_level: Level | None = None  # the level above the certified one
    blocking: GateFigure | None = None  # what keeps it from the next level
    blocking_text: str = ""


def _figure(name: str, threshold: float, rate: Rate | None, note: str) -> GateFigure:
    if rate is None or rate.value is None or rate.low is None:
        return GateFigure(figure=name, threshold=threshold, note=note)
    return GateFigure(figure=name, threshold=threshold, value=rate.value, low=rate.low, tasks=rate.tasks,
                      passed=rate.low >= threshold)


def gate(level: Level, group: Group | None, config: GateConfig) -> GateResult:
    k = config.k
    pass_note = f"needs {k} trials per task (--trials {k})"
    if group is None or group.success.value is None:
        note = (f"{level} level not run (--level {level})" if group is None
                else "no scored episode yet (every one pending or an error)")
        return GateResult(level=level, run=group is not None, passed=False,
                          figures=[GateFigure(figure=n, threshold=t, note=note) for n, t in _gate_names(level, config)])
    pass_k = group.reliability.pass_hat_k.get(k)
    if level == "copilot":
        self_done = group.copilot.self_done if group.copilot else None
        figures = [_figure("self-done subgoals", config.copilot.self_done, self_done, "no subgoals handed in")]
    elif level == "agent":
        figures = [_figure("success", config.agent.success, group.success, "no scored episode"),
                   _figure(f"pass^{k}", config.agent.pass_hat_k, pass_k, pass_note)]
    else:
        faults = group.reliability.faults
        figures = [
            _figure("job success", config.worker.success, group.success, "no scored job"),
            _figure(f"pass^{k}", config.worker.pass_hat_k, pass_k, pass_note),
            _figure("fault robustness", config.worker.fault_robustness, faults.ratio if faults else None,
                    "needs the same jobs with and without faults (--faults 0,0.1)"),
        ]
    return GateResult(level=level, run=True, passed=all(f.passed for f in figures), figures=figures)


def _gate_names(level: Level, config: GateConfig) -> list[tuple[str, float]]:
    k = config.k
    if level == "copilot":
        return [("self-done subgoals", config.copilot.self_done)]
    if level == "agent":
        return [("success", config.agent.success), (f"pass^{k}", config.agent.pass_hat_k)]
    return [("job success", config.worker.success), (f"pass^{k}", config.worker.pass_hat_k),
            ("fault robustness", config.worker.fault_robustness)]


def certify(agent: str, family: str | None, by_level: dict[Level, Group], config: GateConfig) -> Certification:
    """The highest level whose gate passes, and the figure that blocks the level above it."""
    gates = [gate(level, by_level.get(level), config) for level in LEVEL_ORDER]
    passed = [g for g in gates if g.passed]
    level = passed[-1].level if passed else None
    above = LEVEL_ORDER[LEVEL_ORDER.index(level) + 1:] if level else LEVEL_ORDER
    next_gate = next((g for g in gates if g.level in above and g.run), None) or next(
        (g for g in gates if g.level in above), None)
    blocking = next_gate.blocking if next_gate else None
    text = f"{next_gate.level}: {blocking.text()}" if next_gate and blocking else ""
    return Certification(agent=agent, family=family, level=level, gates=gates,
                         next_level=next_gate.level if next_gate else None, blocking=blocking, blocking_text=text)
