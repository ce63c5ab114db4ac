"""Autonomy levels: each is a choice of wrapper stack over the one episode, so nothing else branches
on the level.

- `agent`: the whole instruction, the family's tools plus `reflect`, real feedback, no help.
- `copilot`: a supervisor walks the agent through the subgoals (`arena.levels.copilot`).
- `worker`: a job of two to four tasks behind one goal (`arena.levels.worker`, a composite
  family), with no help, no intermediate checks, injected faults on by default and a larger budget.

Fault injection (`arena.tools.faults`) works at every level.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from arena.episode import Episode, default_toolbox
from arena.levels.copilot import Copilot, CopilotConfig
from arena.protocols import EpisodeEnv, Family, Sandbox
from arena.tools import Toolbox, ToolboxWrapper
from arena.tools.faults import FaultConfig, FaultyToolbox, schedule_seed
from arena.types import EpisodeKey, Level, Limits, Task
from arena.wrappers import with_limits

LEVELS: tuple[Level, ...] = ("copilot", "agent", "worker")
WORKER_FAULT_RATE = 0.1  # faults are on by default for workers: the real world fails now and then


class LevelConfig(BaseModel):
    """How the levels behave in a run (`[copilot]`, `[worker]` in run.toml)."""

    model_config = ConfigDict(extra="forbid")

    copilot: CopilotConfig = Field(default_factory=CopilotConfig)
    worker_fault_rate: float = Field(WORKER_FAULT_RATE, ge=0.0, le=1.0)


class PlayedFamilies:
    """The families a run's episodes play: the key's family, or for `worker` a job built around it
    (drawing its other parts from the run's families, generated with the run's salt)."""

    def __init__(self, names: list[str], *, salt: str | None = None) -> None:
        from arena.registry import load_family

        self.names = list(names)
        self.salt = salt
        self.families: dict[str, Family] = {name: load_family(name) for name in names}
        self.jobs: dict[str, Family] = {}

    def __getitem__(self, key: EpisodeKey) -> Family:
        if key.level != "worker":
            return self.families[key.family]
        if key.family not in self.jobs:
            from arena.levels.worker import JobFamily

            self.jobs[key.family] = JobFamily(key.family, self.names, salt=self.salt)
        return self.jobs[key.family]


def default_fault_rate(level: Level, config: LevelConfig | None = None) -> float:
    if level == "worker":
        return (config or LevelConfig()).worker_fault_rate
    return 0.0


def build_episode(
    family: Family,
    task: Task,
    sandbox: Sandbox,
    *,
    level: Level,
    limits: Limits | None = None,
    paraphrase: int = 0,
    faults: FaultConfig | None = None,
    config: LevelConfig | None = None,
) -> EpisodeEnv:
    """The episode of one level: the core with its toolbox (faulty when `faults.rate` > 0), the
    level's supervisor if it has one, and the limits on top. For `worker`, `family` is a job
    (`arena.levels.worker.JobFamily`)."""
    config = config or LevelConfig()
    limits = limits or task.limits
    toolbox: Toolbox | ToolboxWrapper = default_toolbox(family, task)
    if faults is not None and faults.rate > 0:
        toolbox = FaultyToolbox(toolbox, faults, schedule_seed(task.id, faults))
    if level == "copilot":
        # Each hand-in is a step of its own; the agent keeps its full budget for the work.
        limits = limits.model_copy(update={"max_steps": limits.max_steps + max(1, len(task.subgoals))})
    core = Episode(family, task, sandbox, level=level, limits=limits, paraphrase=paraphrase, toolbox=toolbox)
    env: EpisodeEnv = core
    if level == "copilot":
        env = Copilot(env, config.copilot)
    elif level == "worker":
        from arena.levels.worker import Worker

        env = Worker(env)
    return with_limits(env, limits)


__all__ = [
    "LEVELS", "Copilot", "CopilotConfig", "LevelConfig", "PlayedFamilies", "build_episode", "default_fault_rate",
]
