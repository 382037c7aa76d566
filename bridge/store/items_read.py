"""The hot reads of calendar objects, on the DB-API cursor of the SQLAlchemy connection.

A CalDAV listing reads tens to thousands of item rows joined to their meeting; built as
SQLAlchemy result rows, the row handling cost more than SQLite itself. These reads run
the same SQL on the same connection, in the same transaction, as ``bridge.store.items``
did through SQLAlchemy Core, and return plain named tuples (``Listed``) with the column
names the readers use (on bridge.store.dbapi).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import Connection
from sqlalchemy.exc import NoResultFound

from bridge.store.dbapi import fetch


class Listed(NamedTuple):
    """One item row with its meeting's renderings (NULL for a generic object)."""

    id: int
    href: str
    uid: str
    meeting_id: int | None
    text: str | None
    etag: str | None
    component: str
    start_utc: int
    end_utc: int
    open_from: int | None
    last_modified: float
    meeting_ical: str | None
    meeting_etag: str | None
    busy_ical: str | None
    busy_etag: str | None


_TEXT_COLUMNS = {"text": "i.text", "meeting_ical": "m.ical", "busy_ical": "m.busy_ical"}
_COLUMNS = {
    "id": "i.id",
    "href": "i.href",
    "uid": "i.uid",
    "meeting_id": "i.meeting_id",
    "text": "i.text",
    "etag": "i.etag",
    "component": "i.component",
    "start_utc": "i.start_utc",
    "end_utc": "i.end_utc",
    "open_from": "i.open_from",
    "last_modified": "i.last_modified",
    "meeting_ical": "m.ical",
    "meeting_etag": "m.etag",
    "busy_ical": "m.busy_ical",
    "busy_etag": "m.busy_etag",
}
assert tuple(_COLUMNS) == Listed._fields


def _select(texts: bool) -> str:
    """Item rows joined to their meeting; with ``texts=False`` each text column reads ''
    where a text is stored and NULL where none (reading the large columns was most of a
    listing's cost)."""
    columns = [
        column
        if texts or name not in _TEXT_COLUMNS
        else f"CASE WHEN {column} IS NOT NULL THEN '' END"
        for name, column in _COLUMNS.items()
    ]
    return (
        f"SELECT {', '.join(columns)} FROM items i "
        "LEFT OUTER JOIN meetings m ON m.id = i.meeting_id"
    )


_SELECT = {True: _select(True), False: _select(False)}


def _listed(rows: Iterable[tuple]) -> list[Listed]:
    return list(map(Listed._make, rows))


def get_many(
    conn: Connection, collection_id: int, hrefs: Iterable[str], *, texts: bool = True
) -> dict[str, Listed]:
    """The objects of the collection at these hrefs, by href (absent ones left out)."""
    wanted = list(dict.fromkeys(hrefs))
    if len(wanted) > 2000:  # most of a collection (an initial sync): one pass over it
        every = {row.href: row for row in all_in(conn, collection_id, texts=texts)}
        return {href: every[href] for href in wanted if href in every}
    found: dict[str, Listed] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        sql = f"{_SELECT[texts]} WHERE i.collection_id = ? AND i.href IN ({marks})"
        found.update((row.href, row) for row in _listed(fetch(conn, sql, [collection_id, *chunk])))
    return found


def all_in(conn: Connection, collection_id: int, *, texts: bool = True) -> list[Listed]:
    return _listed(fetch(conn, f"{_SELECT[texts]} WHERE i.collection_id = ?", [collection_id]))


_EXACT = (
    f"{_SELECT[True]} WHERE i.id IN (SELECT DISTINCT o.item_id FROM occurrences o "
    "WHERE o.collection_id = ? AND o.start_utc < ? AND o.start_utc >= ? AND o.end_utc > ?)"
)
_LOOSE = f"{_SELECT[True]} WHERE i.collection_id = ? AND i.open_from < ? AND i.end_utc > ?"


def in_range(
    conn: Connection, collection_id: int, start: int, end: int
) -> list[tuple[Listed, bool]]:
    """Objects that may overlap [start, end): (row, exact) where exact means "certainly does".

    Indexed objects come from their occurrences (read from the covering index
    ``ix_occurrences_window``, scanned from ``start - max_span``); objects without an
    exact index (other component types) by their overall range; open-ended series past
    their expansion by ``open_from``. Inexact rows still need Radicale's filter.
    """
    spans = fetch(conn, "SELECT max_span FROM collections WHERE id = ?", [collection_id])
    if not spans:
        raise NoResultFound(f"no collection {collection_id}")
    max_span = spans[0][0]
    exact_rows = _listed(fetch(conn, _EXACT, [collection_id, end, start - max_span, start]))
    seen = {row.id for row in exact_rows}
    result = [(row, True) for row in exact_rows]
    loose = _listed(fetch(conn, _LOOSE, [collection_id, end, start]))
    result += [(row, False) for row in loose if row.id not in seen]
    return result
