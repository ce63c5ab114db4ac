"""A run's config: what it is, how it is loaded from run.toml and flags, planned, stored and restored.

The resolved config is stored with the run (secret-free), so a run can be resumed, repeated and
compared exactly. A bad config is refused here, before anything runs, with what to fix.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from arena.levels import LEVELS, LevelConfig, default_fault_rate
from arena.sandbox import SandboxConfig
from arena.tools.faults import FAULT_KINDS, FaultConfig
from arena.types import EpisodeKey, FaultKind, Level, Limits, Split, salt_fingerprint


class LimitOverrides(BaseModel):
    """Per-run overrides of the tasks' own limits; unset fields keep the task's value."""

    model_config = ConfigDict(extra="forbid")

    max_steps: int | None = Field(None, ge=1)
    max_seconds: float | None = Field(None, gt=0)
    tool_timeout: float | None = Field(None, gt=0)
    max_tokens: int | None = Field(None, ge=1)
    max_cost_usd: float | None = Field(None, gt=0)

    def apply(self, limits: Limits) -> Limits:
        return limits.model_copy(update=self.model_dump(exclude_none=True))


class FaultPlan(BaseModel):
    """`[faults]`: `rate` (one rate, or a list: each rate is planned, so `--faults 0,0.2` measures
    robustness on paired tasks), `kinds` and `latency`; without a rate each level uses its default
    (faults on for `worker` only)."""

    model_config = ConfigDict(extra="forbid")

    rates: list[float] | None = None
    kinds: list[FaultKind] = Field(default_factory=lambda: list(FAULT_KINDS), min_length=1)
    latency: float = Field(1.0, ge=0.0, le=60.0)

    @model_validator(mode="before")
    @classmethod
    def _rate(cls, data: Any) -> Any:
        if isinstance(data, dict) and "rate" in data:
            data = dict(data)
            rate = data.pop("rate")
            data["rates"] = rate if isinstance(rate, list) else [rate]
        return data

    @field_validator("rates")
    @classmethod
    def _rates(cls, rates: list[float] | None) -> list[float] | None:
        if rates is None:
            return None
        if not rates or any(not 0.0 <= r <= 1.0 for r in rates) or len(set(rates)) != len(rates):
            raise ValueError(f"fault rates must be distinct numbers between 0 and 1, got {rates}")
        return rates

    def rates_for(self, level: Level, levels: LevelConfig) -> list[float]:
        return self.rates if self.rates is not None else [default_fault_rate(level, levels)]

    def at(self, rate: float) -> FaultConfig:
        return FaultConfig(rate=rate, kinds=self.kinds, latency=self.latency)


class ExecutorConfig(BaseModel):
    """`[executor]`: where episodes run. `local` (default) or `ray` (a cluster: `address` of its
    head, e.g. ray://10.0.0.5:10001 or auto; none starts a local one)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["local", "ray"] = "local"
    address: str | None = None


class RunConfig(BaseModel):
    """Everything that defines a run. Stored with the run (minus secrets) so it can be repeated."""

    model_config = ConfigDict(extra="forbid")

    agents: list[str] = Field(min_length=1)
    families: list[str] = Field(min_length=1)
    seeds: list[int] = Field(min_length=1)
    splits: list[Split] = Field(default_factory=lambda: ["dev"], min_length=1)
    levels: list[Level] = Field(default_factory=lambda: ["agent"], min_length=1)
    trials: int = Field(1, ge=1, le=1000)
    paraphrases: int = Field(1, ge=1, le=20)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    concurrency: int = Field(2, ge=1, le=1024)
    max_attempts: int = Field(3, ge=1, le=20)
    stop_after_errors: int = Field(3, ge=1, description="stop when this many first episodes all end in error")
    limits: LimitOverrides = Field(default_factory=LimitOverrides)
    faults: FaultPlan = Field(default_factory=FaultPlan)
    level_options: LevelConfig = Field(default_factory=LevelConfig)
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    gates: dict[str, Any] = Field(default_factory=dict, description="[gates]: thresholds of the certified levels")
    salt_fingerprint: str | None = Field(None, description="set when the test split is private (the salt itself "
                                         "is never stored)")
    agent_options: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("agents")
    @classmethod
    def _agents(cls, agents: list[str]) -> list[str]:
        return [unquoted(a) for a in agents]

    @field_validator("agent_options")
    @classmethod
    def _agent_options(cls, options: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {unquoted(name): value for name, value in options.items()}

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, seeds: list[int]) -> list[int]:
        negative = [s for s in seeds if s < 0]
        if negative:
            raise ValueError(f"seeds must be 0 or more, got {negative[:3]}")
        return seeds

    @field_validator("gates")
    @classmethod
    def _gates(cls, gates: dict[str, Any]) -> dict[str, Any]:
        from arena.metrics.autonomy import GateConfig  # the metrics load only when a run has gates

        GateConfig.model_validate(gates)
        return gates

    @field_validator("levels")
    @classmethod
    def _levels(cls, levels: list[Level]) -> list[Level]:
        unknown = [lv for lv in levels if lv not in LEVELS]
        if unknown:
            raise ValueError(f"unknown level(s) {unknown}; choose from {', '.join(LEVELS)}")
        return levels

    @model_validator(mode="after")
    def _unique(self) -> RunConfig:
        for name in ("agents", "families", "seeds", "splits", "levels"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise ValueError(f"{name} lists a value twice: {values}")
        labels = [label for label, _ in map(parse_agent, self.agents)]
        clash = sorted({label for label in labels if labels.count(label) > 1})
        if clash:
            raise ValueError(f"agents share the label(s) {clash}: name them, e.g. fast=openai:model-a")
        specs = dict(map(parse_agent, self.agents))
        stray = [name for name in self.agent_options if name not in specs and name not in specs.values()]
        if stray:
            raise ValueError(f"agent_options names {', '.join(map(repr, stray))}, which is none of the run's agents: "
                             f"use one of their labels ({', '.join(specs)}) or specs")
        return self

    _salt: str | None = PrivateAttr(None)

    def with_salt(self, salt: str | None) -> RunConfig:
        """This config with a private test split: the secret is kept in memory, only its fingerprint
        is part of the config. On a stored config, the salt must match the stored fingerprint."""
        if not salt:
            if self.salt_fingerprint:
                raise ValueError(f"this run's test split is private (salt fingerprint {self.salt_fingerprint}): "
                                 "give the same secret with --salt or ARENA_SALT")
            return self
        fingerprint = salt_fingerprint(salt)
        if self.salt_fingerprint and self.salt_fingerprint != fingerprint:
            raise ValueError(f"the salt given does not match this run's (fingerprint {self.salt_fingerprint}, "
                             f"given {fingerprint}): use the secret the run was started with")
        config = self.model_copy(update={"salt_fingerprint": fingerprint})
        config._salt = salt
        return config

    @property
    def salt(self) -> str | None:
        return self._salt

    def agent_specs(self) -> dict[str, str]:
        """Each agent's label (how it appears in results) and its spec (how it is built)."""
        return dict(map(parse_agent, self.agents))

    def options_for(self, label: str) -> dict[str, Any] | None:
        spec = self.agent_specs()[label]
        return self.agent_options.get(label, self.agent_options.get(spec))

    def plan(self) -> list[EpisodeKey]:
        """The deterministic episode list. Trials are the outer loop and agents the inner one, so
        a partial run still compares agents (and levels, fault rates, wordings) on the same tasks."""
        return [
            EpisodeKey(agent=a, family=f, split=sp, seed=s, level=lv, trial=t, paraphrase=p, faults=rate)
            for t in range(self.trials)
            for f in self.families
            for sp in self.splits
            for s in self.seeds
            for lv in self.levels
            for rate in self.faults.rates_for(lv, self.level_options)
            for p in range(self.paraphrases)
            for a in self.agent_specs()
        ]


LABEL = re.compile(r"^([A-Za-z][\w.-]{0,31})=(.+)$")
MAX_LABEL = 24


def split_label(entry: str) -> tuple[str | None, str]:
    """`label=spec` or a bare spec: (label or None, spec)."""
    match = LABEL.match(entry)
    if match and ":" not in match.group(1):
        return match.group(1), match.group(2)
    return None, entry


def parse_agent(entry: str) -> tuple[str, str]:
    """`label=spec` or a bare spec: (label, spec). Without a label, a short one is made from the spec."""
    label, spec = split_label(entry)
    return label or short_label(spec), spec


def unquoted(entry: str) -> str:
    """`command:"PROG ARGS"` as the command line leaves it (`command:PROG ARGS`), so that a spec is
    the same string in a flag, in run.toml's `agents` and as a key of `agent_options`."""
    label, spec = split_label(entry)
    scheme, colon, rest = spec.partition(":")
    if scheme == "command" and colon and len(rest) >= 2 and rest[0] == rest[-1] and rest[0] in "\"'":
        spec = f"command:{rest[1:-1]}"
    return f"{label}={spec}" if label else spec


def agent_label(agents: list[str], name: str) -> str | None:
    """The label of the agent `name` names, by its label or by its spec; None if no agent."""
    specs = dict(map(parse_agent, agents))
    if name in specs:
        return name
    wanted = unquoted(name)
    return next((label for label, spec in specs.items() if spec == wanted), None)


def short_label(spec: str) -> str:
    """A readable label for reports: the spec itself when short, else its telling part (the model
    without its settings file, the program without its path, the class without its module)."""
    if len(spec) <= MAX_LABEL:
        return spec
    scheme, _, rest = spec.partition(":")
    if scheme == "openai":
        label = "openai:" + rest.split("@", 1)[0]
    elif scheme == "command":
        words = rest.strip("\"'").split()
        label = "command:" + " ".join(w.rsplit("/", 1)[-1] for w in words[:2])
    else:
        label = rest or spec.rsplit(".", 1)[-1]
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def stored_config(config: RunConfig, agent_configs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The config as stored with the run: resolved, with each agent's own (secret-free) config."""
    data = config.model_dump(mode="json")
    data["agent_configs"] = agent_configs
    return data


def restore(stored: dict[str, Any]) -> RunConfig:
    """The run config stored by `stored_config`."""
    return RunConfig.model_validate({k: v for k, v in stored.items() if k != "agent_configs"})


def generate(family: Any, seed: int, split: Split, salt: str | None) -> Any:
    """A family's task; the salt of a private split is passed only when there is one, so families
    without private-split support keep working on public splits."""
    if salt:
        return family.generate(seed, split, salt=salt)
    return family.generate(seed, split)


def supports_salt(family: Any) -> bool:
    import inspect

    try:
        return "salt" in inspect.signature(family.generate).parameters
    except (TypeError, ValueError):
        return False
