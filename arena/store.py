"""SQLite storage of runs, episodes and steps.

Steps are written as they happen, each in its own transaction, so a crash loses at most the step
in flight. The planned episodes are written when a run starts; an episode is `pending` until an
attempt starts (`running`) and `done` once its result is stored. Resuming a run re-runs exactly
the episodes that are not `done`, so none is lost and none is run twice.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from arena.errors import ConfigError
from arena.types import EpisodeKey, EpisodeResult, StepRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    status TEXT NOT NULL,              -- running | finished | interrupted
    config TEXT NOT NULL               -- the resolved run config, JSON (never secrets)
);
CREATE TABLE IF NOT EXISTS episodes (
    run_id TEXT NOT NULL REFERENCES runs(id),
    key TEXT NOT NULL,                 -- EpisodeKey.id
    ord INTEGER NOT NULL,              -- position in the plan
    agent TEXT NOT NULL, family TEXT NOT NULL, split TEXT NOT NULL, seed INTEGER NOT NULL,
    level TEXT NOT NULL, trial INTEGER NOT NULL, paraphrase INTEGER NOT NULL,
    faults REAL NOT NULL DEFAULT 0,    -- rate of injected tool faults
    task_id TEXT,
    status TEXT NOT NULL,              -- pending | running | done
    attempts INTEGER NOT NULL DEFAULT 0,
    outcome TEXT,                      -- success | fail | error
    result TEXT,                       -- EpisodeResult JSON
    updated REAL NOT NULL,
    PRIMARY KEY (run_id, key)
);
CREATE TABLE IF NOT EXISTS steps (
    run_id TEXT NOT NULL,
    key TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    record TEXT NOT NULL,              -- StepRecord JSON
    PRIMARY KEY (run_id, key, attempt, idx)
);
"""


class RunInfo(BaseModel):
    id: str
    created: float
    updated: float
    status: str
    config: dict[str, Any]
    episodes: int = 0
    done: int = 0


class StoredEpisode(BaseModel):
    key: EpisodeKey
    status: str
    attempts: int
    result: EpisodeResult | None


class Store:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ------------------------------------------------------------------ runs

    def create_run(self, run_id: str, config: dict[str, Any], plan: list[EpisodeKey]) -> None:
        if self.get_run(run_id) is not None:
            raise ConfigError(f"run {run_id!r} already exists in {self.path}; pass --resume to finish it")
        now = time.time()
        with self._tx() as db:
            db.execute(
                "INSERT INTO runs (id, created, updated, status, config) VALUES (?, ?, ?, 'running', ?)",
                (run_id, now, now, json.dumps(config, sort_keys=True)),
            )
            db.executemany(
                "INSERT INTO episodes (run_id, key, ord, agent, family, split, seed, level, trial, paraphrase,"
                " faults, status, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
                [
                    (run_id, k.id, i, k.agent, k.family, k.split, k.seed, k.level, k.trial, k.paraphrase, k.faults,
                     now)
                    for i, k in enumerate(plan)
                ],
            )

    def get_run(self, run_id: str) -> RunInfo | None:
        row = self.db.execute(
            "SELECT id, created, updated, status, config FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
        if row is None:
            return None
        counts = self.db.execute(
            "SELECT count(*), coalesce(sum(status = 'done'), 0) FROM episodes WHERE run_id = ?", (run_id,)
        ).fetchone()
        return RunInfo(
            id=row[0], created=row[1], updated=row[2], status=row[3], config=json.loads(row[4]),
            episodes=counts[0], done=counts[1],
        )

    def list_runs(self) -> list[RunInfo]:
        ids = [r[0] for r in self.db.execute("SELECT id FROM runs ORDER BY created")]
        return [info for i in ids if (info := self.get_run(i)) is not None]

    def set_run_status(self, run_id: str, status: str) -> None:
        self.db.execute("UPDATE runs SET status = ?, updated = ? WHERE id = ?", (status, time.time(), run_id))

    # ------------------------------------------------------------------ episodes

    def unfinished(self, run_id: str) -> list[EpisodeKey]:
        """Episodes still to run, in plan order: pending ones and any left `running` by a crash."""
        rows = self.db.execute(
            "SELECT agent, family, split, seed, level, trial, paraphrase, faults FROM episodes "
            "WHERE run_id = ? AND status != 'done' ORDER BY ord",
            (run_id,),
        )
        return [_key(r) for r in rows]

    def start_attempt(self, run_id: str, key: EpisodeKey, task_id: str) -> int:
        """Mark an episode running and return the new attempt number (1-based)."""
        with self._tx() as db:
            db.execute(
                "UPDATE episodes SET status = 'running', attempts = attempts + 1, task_id = ?, updated = ? "
                "WHERE run_id = ? AND key = ?",
                (task_id, time.time(), run_id, key.id),
            )
            (attempt,) = db.execute(
                "SELECT attempts FROM episodes WHERE run_id = ? AND key = ?", (run_id, key.id)
            ).fetchone()
        return int(attempt)

    def add_step(self, run_id: str, key: EpisodeKey, attempt: int, record: StepRecord) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO steps (run_id, key, attempt, idx, record) VALUES (?, ?, ?, ?, ?)",
            (run_id, key.id, attempt, record.index, record.model_dump_json()),
        )

    def finish_episode(self, run_id: str, key: EpisodeKey, result: EpisodeResult) -> None:
        self.db.execute(
            "UPDATE episodes SET status = 'done', outcome = ?, result = ?, updated = ? WHERE run_id = ? AND key = ?",
            (result.outcome, result.model_dump_json(), time.time(), run_id, key.id),
        )

    def release(self, run_id: str, key: EpisodeKey) -> None:
        """Put an interrupted episode back to pending so a resume runs it again."""
        self.db.execute(
            "UPDATE episodes SET status = 'pending', updated = ? WHERE run_id = ? AND key = ? AND status != 'done'",
            (time.time(), run_id, key.id),
        )

    def episodes(self, run_id: str) -> list[StoredEpisode]:
        rows = self.db.execute(
            "SELECT agent, family, split, seed, level, trial, paraphrase, faults, status, attempts, result "
            "FROM episodes WHERE run_id = ? ORDER BY ord",
            (run_id,),
        )
        return [
            StoredEpisode(
                key=_key(r[:8]),
                status=r[8],
                attempts=r[9],
                result=EpisodeResult.model_validate_json(r[10]) if r[10] else None,
            )
            for r in rows
        ]

    def steps(self, run_id: str, key: EpisodeKey, attempt: int | None = None) -> list[StepRecord]:
        """The steps of one attempt (by default the last one) in order."""
        if attempt is None:
            row = self.db.execute(
                "SELECT attempts FROM episodes WHERE run_id = ? AND key = ?", (run_id, key.id)
            ).fetchone()
            attempt = row[0] if row else 0
        rows = self.db.execute(
            "SELECT record FROM steps WHERE run_id = ? AND key = ? AND attempt = ? ORDER BY idx",
            (run_id, key.id, attempt),
        )
        return [StepRecord.model_validate_json(r[0]) for r in rows]


def _key(row: tuple[Any, ...]) -> EpisodeKey:
    agent, family, split, seed, level, trial, paraphrase, faults = row
    return EpisodeKey(
        agent=agent, family=family, split=split, seed=seed, level=level, trial=trial, paraphrase=paraphrase,
        faults=faults,
    )
