"""Progress of long work (a store move, a first sync): a rich progress bar when the
output is a terminal, plain lines otherwise (logs, CI, pipes)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol, TextIO


class Reporter(Protocol):
    def __call__(self, task: str, done: int, total: int) -> None:
        """``done`` of ``total`` units of ``task`` are finished (total 0: not known yet)."""


class PlainLines:
    """One line per task at its start, about every tenth of it or every few seconds, and
    at its end."""

    def __init__(self, stream: TextIO, unit: str, every_seconds: float = 5.0) -> None:
        self._stream = stream
        self._unit = unit
        self._every = every_seconds
        self._last: dict[str, tuple[int, float]] = {}

    def __call__(self, task: str, done: int, total: int) -> None:
        now = time.monotonic()
        previous = self._last.get(task)
        if previous is not None:
            shown, at = previous
            step = max(1, total // 10)
            if done == shown or (done < total and done - shown < step and now - at < self._every):
                return
        self._last[task] = (done, now)
        of = f"/{total}" if total else ""
        percent = f" ({100 * done // total}%)" if total else ""
        unit = f" {self._unit}" if self._unit else ""
        print(f"{task}: {done}{of}{unit}{percent}", file=self._stream, flush=True)


class RichBars:
    """A rich progress bar per task."""

    def __init__(self, progress: object) -> None:
        self._progress = progress
        self._tasks: dict[str, object] = {}

    def __call__(self, task: str, done: int, total: int) -> None:
        bars = self._progress
        if task not in self._tasks:
            self._tasks[task] = bars.add_task(task, total=total or None)  # type: ignore[attr-defined]
        bars.update(self._tasks[task], completed=done, total=total or None)  # type: ignore[attr-defined]


@contextmanager
def reporter(unit: str, stream: TextIO | None = None) -> Iterator[Reporter]:
    """A Reporter for the duration of the work, writing to ``stream`` (stderr)."""
    out = stream if stream is not None else sys.stderr
    if not out.isatty():
        yield PlainLines(out, unit)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(file=out)) as bars:
        yield RichBars(bars)
