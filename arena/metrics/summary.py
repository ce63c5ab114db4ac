"""One summary of one or more stored runs, built from their stored episodes and steps: every figure
the terminal report, `arena report --json` and the HTML report show, so they never disagree.

    summary = build_summary(store, "my-run", SummaryOptions(prices="prices.toml"))
    summary.by_level          # per agent x level (every family): success, reliability, reflection, cost, ...
    summary.certifications    # per agent (and per agent x family): the certified level and what blocks the next

Everything is recomputed from the store each time (nothing is cached), so new metric code or a new
price table re-scores an old run. Bootstrap resamples are seeded per group, so the same store
gives the same summary.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from arena.errors import ConfigError
from arena.metrics.autonomy import LEVEL_ORDER, Certification, GateConfig, certify
from arena.metrics.cost import FrontierPoint, frontier, price_table
from arena.metrics.episode import EpisodeMetrics, episode_metrics
from arena.metrics.groups import Group, group_figures
from arena.metrics.horizon import HORIZON_BOOTSTRAP, Horizon, fit_horizon
from arena.metrics.reflection import ReflectionConfig
from arena.metrics.stats import BOOTSTRAP, MIN_TASKS
from arena.store import RunInfo, Store
from arena.types import Level

SCHEMA_VERSION = 1
MAX_ERRORS = 20
Breakdown = Literal["template", "difficulty"]


class SummaryOptions(BaseModel):
    """How a summary is built (`[report]` in run.toml; `arena report` flags)."""

    model_config = ConfigDict(extra="forbid")

    gates: GateConfig = Field(default_factory=GateConfig)
    prices: str | dict[str, Any] | None = Field(
        None, description="a price table (TOML path or table) to re-price tokens; None keeps the stored costs")
    min_tasks: int = Field(MIN_TASKS, ge=1, description="figures over fewer tasks are flagged as resting on few")
    bootstrap: int = Field(BOOTSTRAP, ge=100, le=100_000)
    horizon_bootstrap: int = Field(HORIZON_BOOTSTRAP, ge=0, le=10_000)
    seed: int = 0
    breakdowns: list[Breakdown] = Field(default_factory=list)
    include_episodes: bool = False  # every episode's own metrics (for viewers)
    reflection: ReflectionConfig = Field(default_factory=ReflectionConfig)


class RunRef(BaseModel):
    id: str
    status: str
    created: float
    episodes: int
    done: int
    agents: list[str]
    families: list[str]
    levels: list[str]
    trials: int | None = None
    sandbox: str | None = None
    private_split: str | None = None  # the salt's fingerprint when the test split is private


class ErrorSample(BaseModel):
    run_id: str
    agent: str
    episode: str
    error: str


class Summary(BaseModel):
    schema_version: int = SCHEMA_VERSION
    runs: list[RunRef]
    options: SummaryOptions
    agents: list[str]  # labels, in plan order
    levels: list[Level]
    families: list[str]
    by_family: list[Group]  # agent x level x family
    by_level: list[Group]  # agent x level, every family
    by_agent: list[Group]  # agent, every level and family
    breakdowns: list[Group] = Field(default_factory=list)  # agent x level x family x template or difficulty
    certifications: list[Certification]  # per agent (family None), then per agent x family
    horizons: list[Horizon]  # per agent x level
    frontier: list[FrontierPoint]  # per level: cost against success
    error_count: int = 0
    errors: list[ErrorSample] = Field(default_factory=list)  # the first few error episodes
    episode_metrics: list[EpisodeMetrics] | None = None  # every episode's own row, with include_episodes

    def group(self, agent: str, level: Level | None = None, family: str | None = None) -> Group | None:
        pool = self.by_family if family is not None else self.by_level if level is not None else self.by_agent
        return next((g for g in pool if g.agent == agent and g.level == level and g.family == family), None)

    def certification(self, agent: str, family: str | None = None) -> Certification | None:
        return next((c for c in self.certifications if c.agent == agent and c.family == family), None)

    def horizon(self, agent: str, level: Level) -> Horizon | None:
        return next((h for h in self.horizons if h.agent == agent and h.level == level), None)


def agent_models(config: dict[str, Any]) -> dict[str, str]:
    """The model each agent of a run called, as stored with the run (for re-pricing)."""
    found = {}
    for spec, cfg in (config.get("agent_configs") or {}).items():
        if isinstance(cfg, dict) and isinstance(cfg.get("model"), str):
            found[spec] = cfg["model"]
    return found


def load_rows(store: Store, run_ids: Sequence[str], options: SummaryOptions, *, read_steps: bool = True,
              labels: dict[tuple[str, str], str] | None = None) -> tuple[list[EpisodeMetrics], list[RunInfo]]:
    prices = price_table(options.prices)
    rows: list[EpisodeMetrics] = []
    infos = []
    for run_id in run_ids:
        info = store.get_run(run_id)
        if info is None:
            raise ConfigError(f"no run {run_id!r} in {store.path}; see `arena runs --db {store.path}`")
        infos.append(info)
        models = agent_models(info.config)
        steps = store.run_steps(run_id) if read_steps else {}
        for ep in store.episodes(run_id):
            label = (labels or {}).get((run_id, ep.key.agent)) or (
                ep.key.agent if len(run_ids) == 1 else f"{run_id}:{ep.key.agent}")
            ep_steps = steps.get(ep.key.id, [] if ep.result is not None else None) if read_steps else None
            rows.append(episode_metrics(ep, ep_steps, run_id=run_id, label=label, prices=prices,
                                        model=models.get(ep.key.agent), reflection=options.reflection))
    return rows, infos


def build_summary(store: Store, run_ids: str | Sequence[str], options: SummaryOptions | None = None) -> Summary:
    """The summary of one run (or several: their agents are labelled run:agent)."""
    options = options or SummaryOptions()
    ids = [run_ids] if isinstance(run_ids, str) else list(run_ids)
    if not ids:
        raise ConfigError("no run to summarise: give a run id (see `arena runs`)")
    rows, infos = load_rows(store, ids, options)
    return summarize(rows, [run_ref(i) for i in infos], options)


def run_ref(info: RunInfo) -> RunRef:
    cfg = info.config
    return RunRef(
        id=info.id, status=info.status, created=info.created, episodes=info.episodes, done=info.done,
        agents=list(cfg.get("agents", [])), families=list(cfg.get("families", [])),
        levels=list(cfg.get("levels", ["agent"])), trials=cfg.get("trials"),
        sandbox=(cfg.get("sandbox") or {}).get("kind"), private_split=cfg.get("salt_fingerprint"),
    )


def _rng(options: SummaryOptions, *key: object) -> np.random.Generator:
    digest = hashlib.sha256("|".join(map(str, key)).encode()).digest()
    return np.random.default_rng([options.seed, int.from_bytes(digest[:8], "big")])


def summarize(rows: list[EpisodeMetrics], runs: list[RunRef], options: SummaryOptions | None = None) -> Summary:
    """The summary of episode rows (from `load_rows`, or made by hand in tests)."""
    options = options or SummaryOptions()
    agents = list(dict.fromkeys(r.agent for r in rows))
    levels = [lv for lv in LEVEL_ORDER if any(r.level == lv for r in rows)]
    families = list(dict.fromkeys(r.family for r in rows))
    kw = {"min_tasks": options.min_tasks, "draws": options.bootstrap}

    def figures(part: list[EpisodeMetrics], coarser: Group | None = None, coarser_rows: int = -1,
                **cut: Any) -> Group:
        if coarser is not None and coarser_rows == len(part):  # the same episodes: the same figures
            return coarser.model_copy(update=cut)
        return group_figures(part, _rng(options, *cut.values()), **cut, **kw)

    by_family, by_level, by_agent, breakdowns = [], [], [], []
    horizons, certs = [], []
    for agent in agents:
        mine = [r for r in rows if r.agent == agent]
        whole = figures(mine, agent=agent)
        by_agent.append(whole)
        level_groups: dict[Level, Group] = {}
        family_groups: dict[str, dict[Level, Group]] = {}
        for level in levels:
            at = [r for r in mine if r.level == level]
            if not at:
                continue
            level_groups[level] = figures(at, whole, len(mine), agent=agent, level=level)
            by_level.append(level_groups[level])
            horizons.append(fit_horizon(at, agent=agent, level=level, rng=_rng(options, "horizon", agent, level),
                                        draws=options.horizon_bootstrap))
            for family in families:
                cut = [r for r in at if r.family == family]
                if not cut:
                    continue
                group = figures(cut, level_groups[level], len(at), agent=agent, level=level, family=family)
                by_family.append(group)
                family_groups.setdefault(family, {})[level] = group
                for dimension in options.breakdowns:
                    values = sorted({getattr(r, dimension) for r in cut}, key=lambda v: (v is None, str(v)))
                    for value in values:
                        part = [r for r in cut if getattr(r, dimension) == value]
                        breakdowns.append(figures(part, agent=agent, level=level, family=family,
                                                  **{dimension: value}))
        certs.append(certify(agent, None, level_groups, options.gates))
        certs += [certify(agent, family, groups, options.gates) for family, groups in family_groups.items()]
    errors = [r for r in rows if r.outcome == "error"]
    return Summary(
        runs=runs, options=options, agents=agents, levels=levels, families=families, by_family=by_family,
        by_level=by_level, by_agent=by_agent, breakdowns=breakdowns, certifications=certs, horizons=horizons,
        frontier=frontier_points(by_level), error_count=len(errors),
        errors=[ErrorSample(run_id=r.run_id, agent=r.agent, episode=r.episode, error=r.error or "")
                for r in errors[:MAX_ERRORS]],
        episode_metrics=rows if options.include_episodes else None,
    )


def frontier_points(by_level: list[Group]) -> list[FrontierPoint]:
    """Per level, the agents that used a model on the cost-vs-success plane (mean cost per
    episode; mean tokens per episode when some agent's cost is unknown)."""
    points: list[FrontierPoint] = []
    for level in LEVEL_ORDER:
        groups = [g for g in by_level if g.level == level and g.cost.used_model]
        if not groups:
            continue
        axis: Literal["cost", "tokens"] = "cost" if all(g.cost.cost_usd is not None for g in groups) else "tokens"
        level_points = [
            FrontierPoint(agent=g.agent or "", level=level, success=g.success.value, success_low=g.success.low,
                          success_high=g.success.high,
                          cost=g.cost.cost_per_episode if axis == "cost" else g.cost.tokens_per_episode, axis=axis)
            for g in groups
        ]
        points += frontier(level_points)
    return points
