"""The stored one-episode run behind an MCP server.

Nothing is written before the first `tools/call`: a client that only lists tools leaves no trace.
The run is held by one process at a time (the store's lease, as for `arena run`), and a server
given the `--run-id` of an earlier one picks the run up as `arena run --resume` would: a done
episode is reported, an interrupted one (or one that ended in an arena error) is played again.
"""

from __future__ import annotations

from arena.config import RunConfig, restore, stored_config
from arena.errors import ConfigError
from arena.store import Store, StoredEpisode
from arena.types import EpisodeKey, EpisodeResult, StepRecord, Task, TaskInfo

AGENT_NAME = "mcp"


def describe(key: EpisodeKey) -> str:
    """The task of a key the way it is asked for on the command line."""
    return f"{key.family} --seed {key.seed} --split {key.split} --level {key.level}"


class ServedRun:
    """The run and its one episode in the store, as seen by the server that plays it."""

    def __init__(self, store: Store, run_id: str, config: RunConfig, task: Task, *, transport: str,
                 previous: StoredEpisode | None) -> None:
        self.store = store
        self.run_id = run_id
        self.config = config
        self.key = config.plan()[0]
        self.task = task
        self.transport = transport
        self.previous = previous
        self.exists = previous is not None
        self.attempt = 0  # the attempt being played; 0 until the first tool call
        self._held = False

    @classmethod
    def open(cls, store: Store, run_id: str, config: RunConfig, task: Task, *, transport: str) -> ServedRun:
        """The run `run_id` for this task: new, or an earlier server's run of the very same task.
        Refuses a run of another task, a run `arena run` made, and a run another process holds."""
        key = config.plan()[0]
        previous = None
        info = store.get_run(run_id)
        if info is not None:
            if AGENT_NAME not in info.config.get("agent_configs", {}):
                raise ConfigError(f"run {run_id!r} in {store.path} was not made by `arena serve-mcp`; "
                                  "pass another --run-id (or none for a new one)")
            try:
                stored_keys = restore(info.config).plan()
            except ValueError as e:
                raise ConfigError(f"run {run_id!r} in {store.path} cannot be read back ({e}); "
                                  "pass another --run-id") from None
            if stored_keys != [key]:
                raise ConfigError(
                    f"run {run_id!r} in {store.path} serves `{describe(stored_keys[0])}`, not `{describe(key)}`: "
                    "serve the same task again, or pass another --run-id"
                )
            previous = next(e for e in store.episodes(run_id) if e.key == key)
        return cls(store, run_id, config, task, transport=transport, previous=previous)

    @property
    def finished(self) -> EpisodeResult | None:
        """The stored result of an earlier server's episode, when there is nothing left to play."""
        p = self.previous
        if p is not None and p.status == "done" and p.result is not None and p.result.outcome != "error":
            return p.result
        return None

    @property
    def next_attempt(self) -> int:
        return (self.previous.attempts if self.previous is not None else 0) + 1

    def hold(self) -> None:
        """Take the run's lease (refused while another live process serves or runs it); an
        episode that ended in an arena error is put back to pending, to be played again."""
        self.store.acquire(self.run_id)
        self._held = True
        if self.previous is not None and self.previous.status == "done":
            self.store.retry_errors(self.run_id)

    def release(self) -> None:
        if self._held:
            self.store.release_run(self.run_id)
            self._held = False

    def heartbeat(self) -> None:
        if self._held:
            self.store.heartbeat(self.run_id)

    # ------------------------------------------------------------ the episode's life

    def begin(self) -> int:
        """At the first tool call: store the run if it is new and start an attempt."""
        if not self.exists:
            agent = {AGENT_NAME: {"kind": "mcp", "transport": self.transport}}
            self.store.create_run(self.run_id, stored_config(self.config, agent), [self.key])
            self.exists = True
        self.store.set_run_status(self.run_id, "running")
        self.attempt = self.store.start_attempt(self.run_id, self.key, self.task.id, TaskInfo.of(self.task))
        return self.attempt

    def add_step(self, record: StepRecord) -> None:
        self.store.add_step(self.run_id, self.key, self.attempt, record)

    def finish(self, result: EpisodeResult) -> None:
        self.store.finish_episode(self.run_id, self.key, result)
        self.store.set_run_status(self.run_id, "finished")

    def interrupt(self) -> None:
        """The server stopped mid-episode: its steps stay stored and it goes back to pending."""
        self.store.release(self.run_id, self.key)
        self.store.set_run_status(self.run_id, "interrupted")
