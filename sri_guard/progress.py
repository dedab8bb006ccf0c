"""A progress bar on stderr for long `scan`, `pin` and `check` runs on a terminal.

The fetcher tells a `fetch.Progress` when each fetch starts and ends; this one draws that
with rich: fetches done out of fetches asked for (the total grows as pages reveal their
subresources), how many failed, and the time so far. The CLI creates it only when stderr is
a terminal and `--quiet` is off, so cron jobs and pipes get the report and nothing else.
"""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


class TerminalProgress:
    """Fetch counts and failures as a rich progress bar; use as a context manager."""

    def __init__(self, console: Console | None = None) -> None:
        self._bar = Progress(
            SpinnerColumn(),
            TextColumn("fetched"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
        )
        self._task: TaskID = self._bar.add_task("fetched", total=0, failed=0)
        self._asked = 0
        self._failed = 0

    def __enter__(self) -> TerminalProgress:
        return self  # drawn from the first fetch on: a config error shows no empty bar

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._asked:
            self._bar.stop()  # leaves the final counts on the terminal, above the report

    def started(self, url: str) -> None:
        """One more fetch to wait for."""
        if not self._asked:
            self._bar.start()
        self._asked += 1
        self._bar.update(self._task, total=self._asked)

    def finished(self, url: str, ok: bool) -> None:
        """One fetch done (or failed)."""
        if not ok:
            self._failed += 1
        self._bar.update(self._task, advance=1, failed=self._failed)
