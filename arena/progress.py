"""A rich progress bar for long runs, with live success / fail / error counts."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from arena.types import EpisodeKey, EpisodeResult


class RunProgress:
    def __init__(self, total: int, done: int = 0, *, disable: bool = False) -> None:
        self.counts = {"success": 0, "fail": 0, "error": 0}
        self.progress = Progress(
            TextColumn("[bold]episodes"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[green]{task.fields[success]} ok[/] [red]{task.fields[fail]} fail[/] "
                       "[magenta]{task.fields[error]} err[/]"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            disable=disable,
            transient=False,
        )
        self.task = self.progress.add_task("run", total=total, completed=done, **self.counts)

    def update(self, key: EpisodeKey, result: EpisodeResult) -> None:
        self.counts[result.outcome] += 1
        self.progress.update(self.task, advance=1, **self.counts)

    def __enter__(self) -> RunProgress:
        self.progress.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.progress.__exit__(exc_type, exc, tb)
