"""Reading a backend's changes in the suite, whatever the state of the engine seam.

Transitional (issue 7): the protocol's ``list_changes(cursor, window)`` yields ChangePages
and reports deletions as ``Deleted``; until every backend speaks it, the suite also reads
the old ``list_changes(cursor) -> (events, cursor)`` with ``RemoteEvent.deleted``. Drop the
old branch when the engine seam lands."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from typing import Any

from bridge.backends.base import Change, Deleted, Window

WINDOW = Window(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def _new_seam(backend: Any) -> bool:
    return len(inspect.signature(backend.list_changes).parameters) >= 2


def listed(backend: Any, cursor: str | None) -> tuple[list[Change], str | None]:
    """Every change since ``cursor`` (all pages) and the cursor to list from next."""
    if not _new_seam(backend):
        return backend.list_changes(cursor)
    changes: list[Change] = []
    new_cursor = None
    for page in backend.list_changes(cursor, WINDOW):
        changes.extend(page.changes)
        new_cursor = page.cursor or new_cursor
    return changes, new_cursor


def is_deleted(change: Change) -> bool:
    return isinstance(change, Deleted) or bool(getattr(change, "deleted", False))


class AfterList:
    """The backend, doing ``then()`` right after the round listed the remote delta (every
    page read), or ``before()`` as the round starts to list."""

    def __init__(self, backend: Any, then=lambda: None, before=lambda: None) -> None:
        self.backend, self.then, self.before = backend, then, before

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)

    def list_changes(self, *args: Any) -> Any:
        self.before()
        found = self.backend.list_changes(*args)
        if not isinstance(found, tuple):
            found = list(found)  # the pages, read now
        self.then()
        return found
