"""Metrics of stored runs, computed from the stored steps and results (the trajectory is the source
of truth), so a stored run can be re-scored with new metric code or a new price table.

- `episode`: one row of figures per episode (outcome, why it ended, cost, reflection, level figures);
- `reflection`, `effects`: errors, recovery, blind repeats, loops, verification, reflect calls;
- `reliability`: pass^k, pass@k, consistency, robustness under faults and to paraphrase;
- `groups`: the figures of a group of episodes (agent x level x family and coarser);
- `autonomy`: gates per level and the certified level; `horizon`: METR's time horizon;
- `cost`: re-pricing and the cost-vs-success frontier; `paired`, `sides`: paired comparisons;
- `summary`: the one summary every report reads; `stats`: intervals and tests.
"""

from arena.metrics.autonomy import Certification, GateConfig, GateResult, certify
from arena.metrics.episode import EpisodeMetrics, episode_metrics
from arena.metrics.groups import Group
from arena.metrics.horizon import Horizon, fit_horizon, fit_logistic
from arena.metrics.legacy import Aggregate, aggregate
from arena.metrics.paired import CompareRow, Comparison, PairComparison, Side, compare_sides
from arena.metrics.reflection import EpisodeReflection, ReflectionConfig, reflect_on
from arena.metrics.sides import compare, resolve_sides
from arena.metrics.stats import Rate, clustered_rate, pass_at_k, pass_hat_k, wilson
from arena.metrics.summary import Summary, SummaryOptions, build_summary, summarize

__all__ = [
    "Aggregate",
    "Certification",
    "CompareRow",
    "Comparison",
    "EpisodeMetrics",
    "EpisodeReflection",
    "GateConfig",
    "GateResult",
    "Group",
    "Horizon",
    "PairComparison",
    "Rate",
    "ReflectionConfig",
    "Side",
    "Summary",
    "SummaryOptions",
    "aggregate",
    "build_summary",
    "certify",
    "clustered_rate",
    "compare",
    "compare_sides",
    "episode_metrics",
    "fit_horizon",
    "fit_logistic",
    "pass_at_k",
    "pass_hat_k",
    "reflect_on",
    "resolve_sides",
    "summarize",
    "wilson",
]
