"""Reading a backend's changes in the suite: every page of ``list_changes``, and a wrapper
that acts around a round's listing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from bridge.backends.base import Change, ChangePage, Deleted, Window

WINDOW = Window(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def listed(backend: Any, cursor: str | None) -> tuple[list[Change], str | None]:
    """Every change since ``cursor`` (all pages) and the cursor to list from next."""
    changes: list[Change] = []
    new_cursor = None
    for page in backend.list_changes(cursor, WINDOW):
        changes.extend(page.changes)
        new_cursor = page.cursor or new_cursor
    return changes, new_cursor


def is_deleted(change: Change) -> bool:
    return isinstance(change, Deleted)


class AfterList:
    """The backend, doing ``then()`` right after the round listed the remote delta (every
    page read), or ``before()`` as the round starts to list; ``window_seen`` gets the
    window the engine asked with."""

    def __init__(
        self,
        backend: Any,
        then: Callable[[], None] = lambda: None,
        before: Callable[[], None] = lambda: None,
        window_seen: Callable[[Window], None] = lambda _: None,
    ) -> None:
        self.backend, self.then, self.before, self.window_seen = backend, then, before, window_seen

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)

    def list_changes(self, cursor: str | None, window: Window) -> Iterator[ChangePage]:
        self.before()
        self.window_seen(window)
        pages = list(self.backend.list_changes(cursor, window))  # every page, read now
        self.then()
        return iter(pages)
