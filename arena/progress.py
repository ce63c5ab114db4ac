"""Progress of a long run: a rich progress bar on a terminal, with live success / fail / error
counts; plain periodic lines when the output is a log file or a CI console."""

from __future__ import annotations

import sys
import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from arena.types import EpisodeKey, EpisodeResult

LINE_EVERY = 30.0  # seconds between progress lines when there is no terminal


class RunProgress:
    def __init__(self, total: int, done: int = 0, *, disable: bool = False, interactive: bool | None = None) -> None:
        self.counts = {"success": 0, "fail": 0, "error": 0}
        self.total = total
        self.done = done
        self.disable = disable
        self.interactive = sys.stderr.isatty() if interactive is None else interactive
        self.started = time.monotonic()
        self._last_line = self.started
        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]episodes"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[green]{task.fields[success]} ok[/] [red]{task.fields[fail]} fail[/] "
                       "[magenta]{task.fields[error]} err[/]"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            disable=disable or not self.interactive,
            transient=False,
        )
        self.task = self.progress.add_task("run", total=total, completed=done, **self.counts)

    def update(self, key: EpisodeKey, result: EpisodeResult) -> None:
        self.counts[result.outcome] += 1
        self.done += 1
        self.progress.update(self.task, advance=1, **self.counts)
        now = time.monotonic()
        due = now - self._last_line >= LINE_EVERY or self.done == self.total
        if not self.disable and not self.interactive and due:
            self._last_line = now
            c = self.counts
            self.console.print(
                f"episodes {self.done}/{self.total}: {c['success']} ok, {c['fail']} fail, {c['error']} err, "
                f"{now - self.started:.0f}s", markup=False, highlight=False,
            )

    def __enter__(self) -> RunProgress:
        self.progress.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.progress.__exit__(exc_type, exc, tb)
