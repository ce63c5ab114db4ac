"""What `arena compare RUN_OR_AGENT...` compares: sides named on the command line, resolved
against a store, and the comparison of their paired episodes.

A name is `RUN:AGENT` (an agent of a stored run), a run id (its only agent), or an agent of
`run_id` (by default the latest run that has it). No names compares every agent of `run_id` (by
default the latest run). Sides in one run are labelled by agent, sides of several runs by run
(when each run has the one agent) or by `run:agent`.
"""

from __future__ import annotations

from collections.abc import Sequence

from arena.errors import ConfigError
from arena.metrics.paired import ALPHA, Comparison, Side, compare_sides
from arena.metrics.summary import SummaryOptions, load_rows
from arena.store import RunInfo, Store


def _agents(info: RunInfo) -> list[str]:
    """The run's agents as its episodes name them: their labels (`label=spec` or made from the spec)."""
    from arena.config import parse_agent

    return [parse_agent(entry)[0] for entry in info.config.get("agents", [])]


def resolve_sides(store: Store, names: Sequence[str], run_id: str | None = None) -> list[Side]:
    runs = store.list_runs()
    if not runs:
        raise ConfigError(f"no runs in {store.path}; start one with `arena run`")
    by_id = {r.id: r for r in runs}
    if run_id is not None and run_id not in by_id:
        raise ConfigError(f"no run {run_id!r} in {store.path}; see `arena runs --db {store.path}`")
    picked: list[tuple[str, str]] = []
    if not names:
        info = by_id[run_id] if run_id else runs[-1]
        picked = [(info.id, a) for a in _agents(info)]
    for name in names:
        picked.append(_resolve(name, by_id, runs, run_id, store.path))
    if len(set(picked)) != len(picked):
        raise ConfigError(f"a side is named twice: {', '.join(f'{r}:{a}' for r, a in picked)}")
    if len(picked) < 2:
        raise ConfigError("compare needs two sides or more: name two agents of a run, two runs, or RUN:AGENT "
                          "pairs (see `arena runs`)")
    one_run = len({r for r, _ in picked}) == 1
    single_agent_runs = all(len(_agents(by_id[r])) == 1 for r, _ in picked) and len({r for r, _ in picked}) == len(
        picked)
    return [Side(run_id=r, agent=a, label=a if one_run else r if single_agent_runs else f"{r}:{a}")
            for r, a in picked]


def _named(info: RunInfo, name: str) -> str | None:
    """The label of the run's agent that `name` names, by its label or its full spec."""
    from arena.config import agent_label

    return agent_label(info.config.get("agents", []), name)


def _resolve(name: str, by_id: dict[str, RunInfo], runs: list[RunInfo], run_id: str | None,
             path: str) -> tuple[str, str]:
    for rid, info in by_id.items():
        if name.startswith(rid + ":") and (label := _named(info, name[len(rid) + 1:])) is not None:
            return rid, label
    if name in by_id:
        agents = _agents(by_id[name])
        if len(agents) != 1:
            raise ConfigError(f"run {name!r} has agents {', '.join(agents)}; name one as {name}:AGENT")
        return name, agents[0]
    if run_id is not None:
        if (label := _named(by_id[run_id], name)) is not None:
            return run_id, label
        raise ConfigError(f"run {run_id!r} has no agent {name!r}; its agents: {', '.join(_agents(by_id[run_id]))}")
    for info in reversed(runs):
        if (label := _named(info, name)) is not None:
            return info.id, label
    raise ConfigError(f"{name!r} is neither a run nor an agent of a run in {path}; see `arena runs --db {path}`")


def compare(
    store: Store, sides: Sequence[Side] | Sequence[str], *, run_id: str | None = None,
    options: SummaryOptions | None = None, alpha: float = ALPHA,
) -> Comparison:
    """Compare sides (or names resolved with `resolve_sides`) on their paired tasks."""
    options = options or SummaryOptions()
    if sides and all(isinstance(s, Side) for s in sides):
        resolved = [s for s in sides if isinstance(s, Side)]
    else:
        resolved = resolve_sides(store, [s for s in sides if isinstance(s, str)], run_id)
    labels = {(s.run_id, s.agent): s.label for s in resolved}
    run_ids = list(dict.fromkeys(s.run_id for s in resolved))
    rows, _ = load_rows(store, run_ids, options, read_steps=options.prices is not None, labels=labels)
    by_side = {s.label: [r for r in rows if r.run_id == s.run_id and r.agent == s.label] for s in resolved}
    return compare_sides(resolved, by_side, k=options.gates.k, alpha=alpha, seed=options.seed,
                         draws=options.bootstrap)
