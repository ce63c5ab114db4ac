"""Which paired comparison the report shows (`arena.metrics.sides.compare` does the statistics):

- one run with several agents: every pair of its agents;
- several runs of one agent each: every pair of runs;
- several runs with several agents: each agent against itself in the other runs (what changed
  between the runs); `arena compare RUN:AGENT RUN:AGENT` compares any other pair.

Sides carry the summary's labels (the agent; `run:agent` when several runs are summarised), so the
comparison and the figures above it name agents alike. Past `MAX_PAIRS` pairs nothing is compared
and the page says how to compare a few.

`site_figures` builds both from one read of the store: the comparison pairs the summary's own
episode rows (`compare_sides`, as `arena compare` does after reading them again).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from arena.metrics.episode import EpisodeMetrics
from arena.metrics.paired import ALPHA, Comparison, Side, compare_sides
from arena.metrics.summary import Summary, SummaryOptions, build_summary
from arena.store import Store

MAX_PAIRS = 28  # every pair of 8 agents


def summary_sides(summary: Summary) -> list[Side]:
    """The summary's agents as sides: (run, agent as stored in the episode keys, label)."""
    runs = [r.id for r in summary.runs]
    if len(runs) == 1:
        return [Side(run_id=runs[0], agent=a, label=a) for a in summary.agents]
    sides = []
    for label in summary.agents:
        # run ids may hold ':' themselves: the longest run id that prefixes the label is its run
        run_id = max((r for r in runs if label.startswith(r + ":")), key=len, default=None)
        if run_id is not None:
            sides.append(Side(run_id=run_id, agent=label[len(run_id) + 1:], label=label))
    return sides


def side_groups(sides: list[Side]) -> list[list[Side]]:
    """The groups of sides whose every pair is compared (see the module docstring)."""
    runs = list(dict.fromkeys(s.run_id for s in sides))
    if len(runs) <= 1 or all(sum(s.run_id == r for s in sides) == 1 for r in runs):
        return [sides] if len(sides) >= 2 else []
    by_agent: dict[str, list[Side]] = {}
    for s in sides:
        by_agent.setdefault(s.agent, []).append(s)
    return [group for group in by_agent.values() if len(group) >= 2]


def site_comparison(summary: Summary, rows: list[EpisodeMetrics], options: SummaryOptions | None = None,
                    ) -> dict[str, Any]:
    """What the page is told: {"state": "present", "comparison": {...}} or {"state": "absent" |
    "skipped", "detail": why}. `rows`: the summary's episode rows (`include_episodes`)."""
    groups = side_groups(summary_sides(summary))
    pairs = sum(len(g) * (len(g) - 1) // 2 for g in groups)
    if not pairs:
        return {"state": "absent", "detail": "one agent: nothing to compare (a run with several agents, or "
                                              "`arena report RUN_A RUN_B --html DIR`, shows their comparison)"}
    if pairs > MAX_PAIRS:
        return {"state": "skipped", "detail": f"{pairs} pairs of agents are too many to compare every pair here; "
                                              "compare a few with `arena compare RUN:AGENT RUN:AGENT`"}
    options = options or SummaryOptions()
    by_label: dict[str, list[EpisodeMetrics]] = {}
    for r in rows:
        by_label.setdefault(r.agent, []).append(r)
    parts = [compare_sides(group, {s.label: by_label.get(s.label, []) for s in group}, k=options.gates.k,
                           alpha=ALPHA, seed=options.seed, draws=options.bootstrap) for group in groups]
    merged = Comparison(
        sides=[s for p in parts for s in p.sides], alpha=parts[0].alpha, k=min(p.k for p in parts),
        pairs=[pair for p in parts for pair in p.pairs], notes=list(dict.fromkeys(n for p in parts for n in p.notes)),
    )
    return {"state": "present", "detail": f"{pairs} pair{'s' if pairs > 1 else ''}",
            "comparison": merged.model_dump(mode="json")}


def site_figures(store: Store, run_ids: Sequence[str], options: SummaryOptions | None = None,
                 ) -> tuple[Summary, dict[str, Any]]:
    """The run summary of the runs (without per-episode rows: the site has its own) and the
    `site_comparison` of their agents."""
    options = (options or SummaryOptions()).model_copy(update={"include_episodes": False})
    ids = list(run_ids)
    with_rows = options.model_copy(update={"include_episodes": True})
    summary = build_summary(store, ids[0] if len(ids) == 1 else ids, with_rows)
    rows = summary.episode_metrics or []
    summary = summary.model_copy(update={"episode_metrics": None, "options": options})
    return summary, site_comparison(summary, rows, options)
