"""The REST API's reads of meetings by calendar and time (bridge.api.meetings): the same
time index CalDAV's calendar-query uses (bridge.store.items.in_range)."""

from __future__ import annotations

from sqlalchemy import Connection, Row, select

from bridge.store import items as item_store
from bridge.store.collections import by_path
from bridge.store.schema import meetings
from bridge.store.users import meetings_path


def meetings_collection(conn: Connection, login: str) -> int | None:
    """The id of ``login``'s meetings calendar, or None for an unknown login."""
    row = by_path(conn, meetings_path(login))
    return row.id if row is not None else None


def in_window(conn: Connection, collection_id: int, start: int, end: int) -> list[tuple[Row, bool]]:
    """The meeting rows with an entry in calendar ``collection_id`` that may overlap
    [start, end) (epoch seconds), earliest entry first, then by UID: (row, exact), where
    exact means "certainly does" (an open-ended series past its indexed occurrences is
    not exact: its iCalendar decides)."""
    hits = item_store.in_range(conn, collection_id, start, end)
    entries = [(row, exact) for row, exact in hits if row.meeting_id]
    if not entries:
        return []
    order = {row.meeting_id: (row.start_utc or 0) for row, _ in entries}
    sure = {row.meeting_id: exact for row, exact in entries}
    found = conn.execute(select(meetings).where(meetings.c.id.in_(list(order)))).all()
    ordered = sorted(found, key=lambda row: (order[row.id], row.uid))
    return [(row, sure[row.id]) for row in ordered]
