"""SQLite storage of runs, episodes and steps.

Steps are written as they happen, each in its own transaction (`add_step`), or those that arrive
together in one (`add_steps`, as the runner does), so a crash loses at most the steps in flight.
The planned episodes are written when a run starts; an episode is `pending` until an attempt
starts (`running`) and `done` once its result is stored. Resuming a run re-runs exactly
the episodes that are not `done`, so none is lost and none is run twice.

A run is executed by one process at a time: the executing process holds the run's lease (its
pid, host and process start time, refreshed by a heartbeat), and a second process asking for it
is refused while the holder lives. A run whose holder died without finishing shows as
`interrupted`. SQLite errors become `StoreError` here and nowhere else, with a line that says
what to fix: a full disk or a read-only file is the arena's failure, never the agent's.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from pydantic import BaseModel

from arena.errors import ConfigError, StoreError
from arena.types import EpisodeKey, EpisodeResult, StepRecord, TaskInfo

SCHEMA_VERSION = 2
LEASE_TTL = 30.0  # seconds without a heartbeat after which a lease counts as abandoned
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
    task_id TEXT,                      -- the readable task id (family@version/split/seed)
    task TEXT,                         -- TaskInfo JSON: template, difficulty, human minutes, the wording seen
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
CREATE TABLE IF NOT EXISTS leases (
    run_id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    proc_start TEXT NOT NULL,          -- the holder's process start time, so a reused pid is not mistaken for it
    heartbeat REAL NOT NULL
);
"""

P = ParamSpec("P")
R = TypeVar("R")


def translated(fn: Callable[P, R]) -> Callable[P, R]:
    """The one place where sqlite3 errors become `StoreError`s that say what to fix."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except sqlite3.Error as e:
            store = args[0] if args and isinstance(args[0], Store) else None
            raise store_error(e, store.path if store else "the store") from None

    return wrapper


def store_error(e: sqlite3.Error, path: str) -> StoreError:
    text = str(e)
    lowered = text.lower()
    if "full" in lowered:
        return StoreError(f"the store {path} cannot grow: {text}; free disk space (or pass --db on another disk), "
                          "then resume the run")
    if "readonly" in lowered or "read-only" in lowered:
        return StoreError(f"the store {path} is read-only: {text}; make it writable or pass --db with a writable "
                          "path")
    if "locked" in lowered or "busy" in lowered:
        return StoreError(f"the store {path} is locked by another process: {text}; wait for it, or use another --db")
    if "unable to open" in lowered or "disk i/o" in lowered:
        return StoreError(f"cannot open or write the store {path}: {text}; check the path and the disk")
    return StoreError(f"the store {path} failed: {type(e).__name__}: {text}")


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
    task_id: str | None = None
    task: TaskInfo | None = None


def _proc_start(pid: int) -> str:
    """A process's start time (clock ticks since boot), or "" where /proc does not tell."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _alive(host: str, pid: int, proc_start: str) -> bool | None:
    """Whether a lease holder lives: known on this host, unknown (None) on another."""
    if host != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return _proc_start(pid) == proc_start


class Store:
    @translated
    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        """Open (or create) the store; `read_only` opens an existing one for reports without writing."""
        self.path = str(path)
        self.read_only = read_only
        if read_only:
            if not Path(self.path).exists():
                raise ConfigError(f"no database at {self.path}; pass --db or run `arena run` first")
            self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30, isolation_level=None,
                                      check_same_thread=False)
            return
        if self.path != ":memory:":
            folder = Path(self.path).parent
            folder.mkdir(parents=True, exist_ok=True)
            if os.statvfs(folder).f_flag & os.ST_RDONLY:
                raise StoreError(f"the store {self.path} is on a read-only file system; pass --db with a writable "
                                 "path (or remount it read-write)")
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(episodes)")}
        if "faults" not in columns:  # a store written before fault rates were a plan dimension
            self.db.execute("ALTER TABLE episodes ADD COLUMN faults REAL NOT NULL DEFAULT 0")
        if "task" not in columns:
            self.db.execute("ALTER TABLE episodes ADD COLUMN task TEXT")
        self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ------------------------------------------------------------------ runs

    @translated
    def create_run(self, run_id: str, config: dict[str, Any], plan: list[EpisodeKey]) -> None:
        if self.get_run(run_id) is not None:
            raise ConfigError(f"run {run_id!r} already exists in {self.path}; pass --resume to finish it")
        now = time.time()
        with self._tx() as db:
            db.execute(
                "INSERT INTO runs (id, created, updated, status, config) VALUES (?, ?, ?, 'pending', ?)",
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

    @translated
    def get_run(self, run_id: str) -> RunInfo | None:
        row = self.db.execute(
            "SELECT id, created, updated, status, config FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
        if row is None:
            return None
        counts = self.db.execute(
            "SELECT count(*), coalesce(sum(status = 'done'), 0) FROM episodes WHERE run_id = ?", (run_id,)
        ).fetchone()
        status = row[3]
        if status == "running" and self.lease_holder(run_id) is None:
            status = "interrupted"  # its process died without saying so (SIGKILL, power loss)
        return RunInfo(
            id=row[0], created=row[1], updated=row[2], status=status, config=json.loads(row[4]),
            episodes=counts[0], done=counts[1],
        )

    @translated
    def list_runs(self) -> list[RunInfo]:
        ids = [r[0] for r in self.db.execute("SELECT id FROM runs ORDER BY created")]
        return [info for i in ids if (info := self.get_run(i)) is not None]

    @translated
    def set_run_status(self, run_id: str, status: str) -> None:
        self.db.execute("UPDATE runs SET status = ?, updated = ? WHERE id = ?", (status, time.time(), run_id))

    # ------------------------------------------------------------------ leases

    @translated
    def acquire(self, run_id: str) -> None:
        """Take the run's lease for this process, or refuse (`ConfigError`) while another holds it."""
        me = (socket.gethostname(), os.getpid(), _proc_start(os.getpid()))
        with self._tx() as db:
            row = db.execute("SELECT host, pid, proc_start, heartbeat FROM leases WHERE run_id = ?", (run_id,))
            held = row.fetchone()
            if held is not None and (held[0], held[1], held[2]) != me and self._holds(held):
                host, pid, _, beat = held
                raise ConfigError(
                    f"run {run_id!r} is being run right now by process {pid} on {host} (last heard from "
                    f"{time.time() - beat:.0f}s ago); wait for it to finish or stop it, then resume"
                )
            db.execute(
                "INSERT OR REPLACE INTO leases (run_id, host, pid, proc_start, heartbeat) VALUES (?, ?, ?, ?, ?)",
                (run_id, *me, time.time()),
            )

    @staticmethod
    def _holds(lease: tuple[Any, ...]) -> bool:
        host, pid, proc_start, beat = lease
        alive = _alive(host, pid, proc_start)
        return alive if alive is not None else time.time() - beat < LEASE_TTL

    @translated
    def heartbeat(self, run_id: str) -> None:
        self.db.execute("UPDATE leases SET heartbeat = ? WHERE run_id = ? AND pid = ?",
                        (time.time(), run_id, os.getpid()))

    @translated
    def release_run(self, run_id: str) -> None:
        self.db.execute("DELETE FROM leases WHERE run_id = ? AND pid = ?", (run_id, os.getpid()))

    @translated
    def lease_holder(self, run_id: str) -> tuple[str, int] | None:
        """(host, pid) of the live process executing the run, if any."""
        row = self.db.execute("SELECT host, pid, proc_start, heartbeat FROM leases WHERE run_id = ?", (run_id,))
        held = row.fetchone()
        return (held[0], held[1]) if held is not None and self._holds(held) else None

    # ------------------------------------------------------------------ episodes

    @translated
    def unfinished(self, run_id: str) -> list[EpisodeKey]:
        """Episodes still to run, in plan order: pending ones and any left `running` by a crash."""
        rows = self.db.execute(
            "SELECT agent, family, split, seed, level, trial, paraphrase, faults FROM episodes "
            "WHERE run_id = ? AND status != 'done' ORDER BY ord",
            (run_id,),
        )
        return [_key(r) for r in rows]

    @translated
    def retry_errors(self, run_id: str) -> int:
        """Put the run's `error` episodes back to pending (after the cause is fixed); returns how many."""
        cursor = self.db.execute(
            "UPDATE episodes SET status = 'pending', outcome = NULL, result = NULL, updated = ? "
            "WHERE run_id = ? AND status = 'done' AND outcome = 'error'",
            (time.time(), run_id),
        )
        return cursor.rowcount

    @translated
    def start_attempt(self, run_id: str, key: EpisodeKey, task_id: str, task: TaskInfo | None = None) -> int:
        """Mark an episode running and return the new attempt number (1-based)."""
        info = task.model_dump_json() if task is not None else None
        # One statement, so one implicit transaction: half the cost of BEGIN, UPDATE, SELECT, COMMIT.
        found = self.db.execute(
            "UPDATE episodes SET status = 'running', attempts = attempts + 1, task_id = ?, "
            "task = coalesce(?, task), updated = ? WHERE run_id = ? AND key = ? RETURNING attempts",
            (task_id, info, time.time(), run_id, key.id),
        ).fetchall()
        if not found:
            raise StoreError(f"episode {key.id} is not in the plan of run {run_id} in {self.path}")
        return int(found[0][0])

    @translated
    def add_step(self, run_id: str, key: EpisodeKey, attempt: int, record: StepRecord) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO steps (run_id, key, attempt, idx, record) VALUES (?, ?, ?, ?, ?)",
            (run_id, key.id, attempt, record.index, record.model_dump_json()),
        )

    @translated
    def add_steps(self, steps: list[tuple[str, EpisodeKey, int, StepRecord]]) -> None:
        """Several steps, each `(run_id, key, attempt, record)`, in one transaction: one commit each
        was most of what storing a step cost (about 0.2 ms) when hundreds of episodes run at once."""
        rows = [(run_id, key.id, attempt, record.index, record.model_dump_json()) for run_id, key, attempt, record
                in steps]
        with self._tx() as db:
            db.executemany("INSERT OR REPLACE INTO steps (run_id, key, attempt, idx, record) VALUES (?, ?, ?, ?, ?)",
                           rows)

    @translated
    def finish_episode(self, run_id: str, key: EpisodeKey, result: EpisodeResult) -> None:
        self.db.execute(
            "UPDATE episodes SET status = 'done', outcome = ?, result = ?, updated = ? WHERE run_id = ? AND key = ?",
            (result.outcome, result.model_dump_json(), time.time(), run_id, key.id),
        )

    @translated
    def release(self, run_id: str, key: EpisodeKey) -> None:
        """Put an interrupted episode back to pending so a resume runs it again."""
        self.db.execute(
            "UPDATE episodes SET status = 'pending', updated = ? WHERE run_id = ? AND key = ? AND status != 'done'",
            (time.time(), run_id, key.id),
        )

    @translated
    def release_running(self, run_id: str) -> None:
        """Put every episode still marked running back to pending (a run that stopped)."""
        self.db.execute(
            "UPDATE episodes SET status = 'pending', updated = ? WHERE run_id = ? AND status = 'running'",
            (time.time(), run_id),
        )

    @translated
    def episodes(self, run_id: str) -> list[StoredEpisode]:
        rows = self.db.execute(
            "SELECT agent, family, split, seed, level, trial, paraphrase, faults, status, attempts, result, task_id, "
            "task FROM episodes WHERE run_id = ? ORDER BY ord",
            (run_id,),
        )
        return [
            StoredEpisode(
                key=_key(r[:8]),
                status=r[8],
                attempts=r[9],
                result=EpisodeResult.model_validate_json(r[10]) if r[10] else None,
                task_id=r[11],
                task=TaskInfo.model_validate_json(r[12]) if r[12] else None,
            )
            for r in rows
        ]

    @translated
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

    @translated
    def run_steps(self, run_id: str) -> dict[str, list[StepRecord]]:
        """Every episode's steps (of its last attempt) in one query, by episode key id."""
        rows = self.db.execute(
            "SELECT s.key, s.record FROM steps s JOIN episodes e ON e.run_id = s.run_id AND e.key = s.key "
            "WHERE s.run_id = ? AND s.attempt = e.attempts ORDER BY s.key, s.idx",
            (run_id,),
        )
        found: dict[str, list[StepRecord]] = {}
        for key, record in rows:
            found.setdefault(key, []).append(StepRecord.model_validate_json(record))
        return found


def _key(row: tuple[Any, ...]) -> EpisodeKey:
    agent, family, split, seed, level, trial, paraphrase, faults = row
    return EpisodeKey(
        agent=agent, family=family, split=split, seed=seed, level=level, trial=trial, paraphrase=paraphrase,
        faults=faults,
    )
