"""What the site shows, read from the store: one row of figures per episode (the episode table),
the overview groups, and each episode's record (the trajectory pages).

The pages open from file://, where a page may not fetch() local files, so every piece of data is a
JavaScript file that hands its JSON to a function of the page (`ARENA.rows(3, [...])`), loaded by a
script tag when the page needs it:

    data/site.js                    ARENA.site({...}): runs, columns, facets, overview, chunk sizes
    data/rows/0000.js ...           ARENA.rows(i, [[...], ...]): CHUNK rows each, in column order
    data/episodes/<run>/<n>.js      ARENA.episode(id, record): one episode (arena.episode/1) + siblings
    data/summary.js                 ARENA.summary({...}): the run summary, when there is one

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
from arena.types import StepRecord

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
    figures: dict[str, Any] = field(default_factory=dict)
    seen: tuple[Any, ...] = ()  # what the figures were read from: status, attempts, done


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
        self.entries: dict[str, Entry] = {}
        self.order: list[str] = []
        self.by_task: dict[tuple[str, str, int], list[str]] = {}
        self.version = 0
        self.built = 0.0

    # ------------------------------------------------------------------ reading the store

    def refresh(self, sink: Sink | None = None, advance: Callable[[int], None] | None = None) -> bool:
        """Re-read the store; returns whether anything changed. `sink` receives the record of every
        episode read anew (the static build writes its page data there); `advance` counts them."""
        ids = self.fixed_runs if self.fixed_runs is not None else [r.id for r in self.store.list_runs()]
        self.runs = [info for run_id in ids if (info := self.store.get_run(run_id)) is not None]
        self.slugs = run_slugs([r.id for r in self.runs])
        entries: dict[str, Entry] = {}
        for info in self.runs:
            for number, ep in numbered(self.store, info.id):
                site_id = f"{self.slugs[info.id]}/{number}"
                entries[site_id] = self._carry(self.entries.get(site_id), info.id, number, ep)
        by_task: dict[tuple[str, str, int], list[str]] = {}
        for site_id, entry in entries.items():
            k = entry.episode.key
            by_task.setdefault((k.family, k.split, k.seed), []).append(site_id)
        stale = [sid for sid, e in entries.items() if not e.figures]
        changed = bool(stale) or list(entries) != self.order
        self.entries, self.order, self.by_task = entries, list(entries), by_task
        for site_id in stale:
            entry = entries[site_id]
            steps = self._steps(entry)
            entry.figures = {**episode_figures(entry.run_id, entry.number, entry.episode, steps), "site_id": site_id}
            entry.figures["tokens"] = (entry.figures["input_tokens"] or 0) + (entry.figures["output_tokens"] or 0)
            if sink is not None:
                sink(site_id, self._record(site_id, entry, steps))
            if advance is not None:
                advance(1)
        if changed:
            self.version += 1
            self.built = time.time()
        return changed

    def _carry(self, old: Entry | None, run_id: str, number: int, ep: StoredEpisode) -> Entry:
        seen = (ep.status, ep.attempts, ep.result is not None)
        if old is not None and old.seen == seen and ep.status != "running":  # a running one gains steps
            old.episode = ep
            return old
        return Entry(run_id, number, ep, seen=seen)

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
        return [[self.entries[sid].figures.get(f) for _, f in COLUMNS] for sid in self.order]

    def chunks(self) -> list[list[list[Any]]]:
        rows = self.rows()
        return [rows[i:i + CHUNK] for i in range(0, len(rows), CHUNK)]

    def site(self, *, live: bool = False, summary: dict[str, Any] | None = None) -> dict[str, Any]:
        """`summary` says whether the page has a summary to load: {"state": "present" | "absent" |
        "invalid", "detail": ...}."""
        figures = [self.entries[sid].figures for sid in self.order]
        facets = {name: sorted({str(f.get(dict(COLUMNS)[name])) for f in figures
                                if f.get(dict(COLUMNS)[name]) is not None}) for name in FACETS}
        return {
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
        }


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
