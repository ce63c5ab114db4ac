"""What the site shows, read from the store: one row of figures per episode (the episode table),
the overview groups, and each episode's record (the trajectory pages).

The pages open from file://, where a page may not fetch() local files, so every piece of data is a
JavaScript file that hands its JSON to a function of the page (`ARENA.rows(3, [...])`), loaded by a
script tag when the page needs it:

    data/site.js                    ARENA.site({...}): runs, columns, facets, overview, chunk sizes
    data/rows/0000.js ...           ARENA.rows(i, [[...], ...]): CHUNK rows each, in column order
    data/episodes/<run>/<n>.js      ARENA.episode(id, record): one episode (arena.episode/1) + siblings
    data/summary.js                 ARENA.summary({...}): the run summary, when there is one
    data/comparison.js              ARENA.comparison({...}): the paired comparison of its agents, likewise

`SiteData.refresh()` re-reads the store and reads steps again only for episodes that changed, so
the live server (`arena view`) can call it on every page load of a store still being written.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from arena.errors import ConfigError
from arena.export import episode_figures
from arena.store import RunInfo, Store, StoredEpisode
from arena.trajectory import episode_record, numbered
from arena.types import EpisodeKey, EpisodeResult, StepRecord, TaskInfo

CHUNK = 1000  # episode rows per data file: the first page shows once the first file is in
# The episode table's columns: (name in the page, figure it shows).
COLUMNS: list[tuple[str, str]] = [
    ("id", "site_id"), ("key", "id"), ("run", "run_id"), ("n", "number"), ("agent", "agent"), ("family", "family"),
    ("template", "template"), ("level", "level"), ("split", "split"), ("seed", "seed"), ("trial", "trial"),
    ("paraphrase", "paraphrase"), ("fault_rate", "fault_rate"), ("faults", "faults_injected"),
    ("status", "status"), ("outcome", "outcome"), ("termination", "termination"), ("score", "score"),
    ("steps", "steps"), ("tool_errors", "tool_errors"), ("tokens", "tokens"), ("cost", "cost_usd"),
    ("seconds", "seconds"), ("failed", "failed_checks"), ("error", "error"),
]
FACETS = ["run", "agent", "family", "template", "level", "outcome", "termination"]
SLUG = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}")
Sink = Callable[[str, dict[str, Any]], None]


def js_call(function: str, *args: Any) -> str:
    """`ARENA.fn(arg, ...)` with JSON arguments: JSON is a JavaScript expression, and ASCII-only
    escapes keep any text an agent wrote inert, whatever the page's encoding."""
    return f"ARENA.{function}({', '.join(json.dumps(a, separators=(',', ':')) for a in args)});\n"


def run_slugs(run_ids: Sequence[str]) -> dict[str, str]:
    """A file-name-safe, unique folder name per run id (the id itself when it is safe)."""
    slugs: dict[str, str] = {}
    for run_id in run_ids:
        slug = run_id if SLUG.fullmatch(run_id) else "run-" + hashlib.sha256(run_id.encode()).hexdigest()[:10]
        base, i = slug, 1
        while slug in slugs.values():
            i += 1
            slug = f"{base}-{i}"
        slugs[run_id] = slug
    return slugs


@dataclass
class Entry:
    run_id: str
    number: int
    episode: StoredEpisode
    figures: dict[str, Any] = field(default_factory=dict)  # empty: to be read (again) with its steps


@dataclass
class RunState:
    stamp: tuple[Any, ...]  # episodes, last update, episodes running: unchanged means nothing to read
    since: float  # the latest `updated` seen


# The store has no query for "episodes changed since", which a live view of a large run needs (reading
# all 10,000 episodes' JSON every second would keep a core busy), so these two read the documented
# schema directly, and nothing else does.
def run_stamp(store: Store, run_id: str) -> tuple[Any, ...]:
    row = store.db.execute(
        "SELECT count(*), max(updated), coalesce(sum(status = 'running'), 0) FROM episodes WHERE run_id = ?",
        (run_id,),
    ).fetchone()
    return tuple(row)


def changed_since(store: Store, run_id: str, since: float) -> list[tuple[int, StoredEpisode]]:
    """The run's episodes whose row changed at or after `since`, with their plan number."""
    rows = store.db.execute(
        "SELECT ord, agent, family, split, seed, level, trial, paraphrase, faults, status, attempts, result, "
        "task_id, task FROM episodes WHERE run_id = ? AND updated >= ? ORDER BY ord", (run_id, since),
    )
    return [
        (r[0], StoredEpisode(
            key=EpisodeKey(agent=r[1], family=r[2], split=r[3], seed=r[4], level=r[5], trial=r[6], paraphrase=r[7],
                           faults=r[8]),
            status=r[9], attempts=r[10], result=EpisodeResult.model_validate_json(r[11]) if r[11] else None,
            task_id=r[12], task=TaskInfo.model_validate_json(r[13]) if r[13] else None,
        ))
        for r in rows
    ]


class SiteData:
    def __init__(self, store: Store, run_ids: Sequence[str] | None = None) -> None:
        """The site of the given runs, or (None) of every run in the store, new ones included."""
        self.store = store
        self.fixed_runs = list(run_ids) if run_ids is not None else None
        for run_id in self.fixed_runs or []:
            if store.get_run(run_id) is None:
                raise ConfigError(f"no run {run_id!r} in {store.path}; see `arena runs --db {store.path}`")
        self.runs: list[RunInfo] = []
        self.slugs: dict[str, str] = {}
        self.states: dict[str, RunState] = {}
        self.entries: dict[str, Entry] = {}
        self.order: list[str] = []
        self.by_task: dict[tuple[str, str, int], list[str]] = {}
        self.version = 0
        self.built = 0.0
        self._rows: tuple[int, list[list[Any]]] = (-1, [])
        self._site: tuple[tuple[Any, ...], dict[str, Any]] = ((), {})

    # ------------------------------------------------------------------ reading the store

    def refresh(self, sink: Sink | None = None, advance: Callable[[int], None] | None = None) -> bool:
        """Read what changed in the store since the last call; returns whether anything did. `sink`
        receives the record of every episode read anew (the static build writes its page data
        there); `advance` counts them."""
        ids = self.fixed_runs if self.fixed_runs is not None else [r.id for r in self.store.list_runs()]
        runs = [info for run_id in ids if (info := self.store.get_run(run_id)) is not None]
        changed = [r.id for r in runs] != [r.id for r in self.runs] or any(
            (r.status, r.done) != (old.status, old.done) for r, old in zip(runs, self.runs, strict=False))
        self.runs = runs
        self.slugs = run_slugs([r.id for r in runs])
        stale: dict[str, None] = {}  # site ids to read again with their steps, in order
        for info in runs:
            stamp = run_stamp(self.store, info.id)
            state = self.states.get(info.id)
            if state is not None and state.stamp == stamp and not stamp[2]:
                continue
            read_from = state.since if state is not None else float("-inf")
            for number, ep in (numbered(self.store, info.id) if state is None else
                               changed_since(self.store, info.id, read_from)):
                site_id = f"{self.slugs[info.id]}/{number}"
                self.entries[site_id] = Entry(info.id, number, ep)
                stale[site_id] = None
            slug = self.slugs[info.id] + "/"
            stale.update((sid, None) for sid, e in self.entries.items()  # their steps grow unannounced
                         if e.episode.status == "running" and sid.startswith(slug))
            self.states[info.id] = RunState(stamp, stamp[1] if stamp[1] is not None else read_from)
        if stale or changed:
            self.order = [sid for info in runs for sid in self._run_ids(info)]
            self.by_task = {}
            for site_id in self.order:
                k = self.entries[site_id].episode.key
                self.by_task.setdefault((k.family, k.split, k.seed), []).append(site_id)
        for site_id in stale:
            entry = self.entries[site_id]
            steps = self._steps(entry)
            figures = episode_figures(entry.run_id, entry.number, entry.episode, steps)
            entry.figures = {**figures, "site_id": site_id,
                             "tokens": (figures["input_tokens"] or 0) + (figures["output_tokens"] or 0)}
            if sink is not None:
                sink(site_id, self._record(site_id, entry, steps))
            if advance is not None:
                advance(1)
        if stale or changed:
            self.version += 1
            self.built = time.time()
        return bool(stale or changed)

    def _run_ids(self, info: RunInfo) -> list[str]:
        slug = self.slugs[info.id]
        return [f"{slug}/{n}" for n in range(info.episodes) if f"{slug}/{n}" in self.entries]

    def _steps(self, entry: Entry) -> list[StepRecord]:
        ep = entry.episode
        return self.store.steps(entry.run_id, ep.key, ep.attempts) if ep.attempts else []

    def _record(self, site_id: str, entry: Entry, steps: list[StepRecord]) -> dict[str, Any]:
        record = episode_record(entry.run_id, entry.number, entry.episode, steps)
        k = entry.episode.key
        record["site_id"] = site_id
        record["siblings"] = [self._sibling(sid) for sid in self.by_task.get((k.family, k.split, k.seed), [])
                              if sid != site_id]
        return record

    def _sibling(self, site_id: str) -> dict[str, Any]:
        e = self.entries[site_id]
        k, r = e.episode.key, e.episode.result
        return {"id": site_id, "run": e.run_id, "agent": k.agent, "level": k.level, "trial": k.trial,
                "paraphrase": k.paraphrase, "fault_rate": k.faults,
                "outcome": r.outcome if r else e.episode.status}

    def episode(self, site_id: str) -> dict[str, Any] | None:
        """One episode's record with its steps as stored now (for the live server, after `refresh`)."""
        entry = self.entries.get(site_id)
        return None if entry is None else self._record(site_id, entry, self._steps(entry))

    # ------------------------------------------------------------------ what the pages load

    def rows(self) -> list[list[Any]]:
        """The episode table, in plan order (made once per version of the data)."""
        if self._rows[0] != self.version:
            self._rows = (self.version, [[self.entries[sid].figures.get(f) for _, f in COLUMNS] for sid in self.order])
        return self._rows[1]

    def chunks(self) -> list[list[list[Any]]]:
        rows = self.rows()
        return [rows[i:i + CHUNK] for i in range(0, len(rows), CHUNK)]

    def site(self, *, live: bool = False, summary: dict[str, Any] | None = None,
             comparison: dict[str, Any] | None = None) -> dict[str, Any]:
        """`summary` and `comparison` say whether the page has them to load: {"state": "present" |
        "absent" | "invalid" | ..., "detail": ..., "version": ...}."""
        made = (self.version, live, json.dumps([summary, comparison], sort_keys=True))
        if self._site[0] == made:
            return self._site[1]
        figures = [self.entries[sid].figures for sid in self.order]
        names = dict(COLUMNS)
        facets = {name: sorted({str(v) for f in figures if (v := f.get(names[name])) is not None}) for name in FACETS}
        site = {
            "schema": "arena.site/1",
            "built": self.built,
            "live": live,
            "version": self.version,
            "runs": [run_entry(info, self.slugs[info.id]) for info in self.runs],
            "columns": [name for name, _ in COLUMNS],
            "chunk_size": CHUNK,
            "chunks": [len(c) for c in self.chunks()],
            "total": len(self.order),
            "facets": facets,
            "overview": {"by_level": overview(figures, family=False), "by_family": overview(figures, family=True)},
            "summary": summary or {"state": "absent", "detail": ""},
            "comparison": comparison or {"state": "absent", "detail": ""},
        }
        self._site = (made, site)
        return site


def run_entry(info: RunInfo, slug: str) -> dict[str, Any]:
    cfg = info.config
    return {
        "id": info.id, "slug": slug, "status": info.status, "created": info.created, "updated": info.updated,
        "episodes": info.episodes, "done": info.done, "agents": list(cfg.get("agents", [])),
        "families": list(cfg.get("families", [])), "levels": list(cfg.get("levels", ["agent"])),
        "trials": cfg.get("trials"), "sandbox": (cfg.get("sandbox") or {}).get("kind"),
    }


def overview(figures: list[dict[str, Any]], *, family: bool) -> list[dict[str, Any]]:
    """Outcome counts and plain rates per run, agent, level (and family), from the stored results.
    Rates leave error episodes out: an infrastructure failure is never the agent failing."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for f in figures:
        key = (f["run_id"], f["agent"], f["level"], f["family"] if family else None)
        groups.setdefault(key, []).append(f)
    found = []
    for (run_id, agent, level, fam), rows in groups.items():
        done = [r for r in rows if r["outcome"] is not None]
        scored = [r for r in done if r["outcome"] != "error"]
        successes = sum(r["outcome"] == "success" for r in scored)
        used = [r for r in done if r["tokens"]]

        def mean(name: str, pool: list[dict[str, Any]] = scored) -> float | None:
            return sum(r[name] for r in pool) / len(pool) if pool else None

        found.append({
            "run": run_id, "agent": agent, "level": level, "family": fam, "episodes": len(rows),
            "success": successes, "fail": len(scored) - successes, "error": len(done) - len(scored),
            "pending": len(rows) - len(done), "success_rate": successes / len(scored) if scored else None,
            "mean_score": mean("score"), "mean_steps": mean("steps"), "mean_seconds": mean("seconds"),
            "faults_injected": sum(r["faults_injected"] for r in rows),
            "tokens": sum(r["tokens"] for r in done),
            "cost_usd": None if not used or any(r["cost_usd"] is None for r in used)
            else sum(r["cost_usd"] for r in used),
        })
    return found
