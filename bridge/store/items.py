"""Calendar objects of a collection and their time index.

A row is either a generic item (its text and etag stored here) or a meeting's entry in
a member's meetings collection (text and etag live on the meeting). Time ranges are
answered from ``occurrences``: one row per expanded occurrence, scanned by
``(collection_id, start_utc)`` from ``start - max_span`` so a query reads only the
occurrences near its window; a series that goes on past what was expanded is found by
``open_from`` and left to Radicale's exact filter.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from bridge import ical
from bridge.store import collections as collection_store
from bridge.store import limits
from bridge.store.changes import Tx

# The listing reads live in items_read (on the DB-API cursor); their names stay here.
from bridge.store.items_read import Listed as Listed
from bridge.store.items_read import all_in as all_in
from bridge.store.items_read import get_many as get_many
from bridge.store.items_read import in_range as in_range
from bridge.store.schema import items, meetings, occurrences


@dataclass(frozen=True)
class ObjectIndex:
    """Where an object lies in time: overall range, occurrences, and whether they are exact."""

    start: int
    end: int
    exact: bool = False
    open_from: int | None = None
    occurrences: Sequence[tuple[int, int]] = field(default_factory=tuple)


def event_index(vcal: Any, *, horizon_days: int, max_occurrences: int) -> ObjectIndex | None:
    """The exact index of a VEVENT calendar: occurrences up to the horizon (see bridge.ical)."""
    horizon = int(time.time()) + horizon_days * 86400
    index = ical.index_times(vcal, horizon=horizon, max_occurrences=max_occurrences)
    if index is None:
        return None
    open_from = None if index.expanded_until >= ical.END_OF_TIME else index.expanded_until
    return ObjectIndex(
        start=index.start,
        end=index.end,
        exact=True,
        open_from=open_from,
        occurrences=tuple(index.occurrences),
    )


@dataclass(frozen=True)
class ItemData:
    href: str
    uid: str
    component: str
    index: ObjectIndex
    text: str | None = None
    etag: str | None = None
    meeting_id: int | None = None
    #: A meeting entry's attendee-only part (bridge.ical.parts); text is then its rendering.
    personal: str | None = None


def upsert(tx: Tx, collection_id: int, data: ItemData) -> None:
    """Create or replace the object at ``data.href`` and log the change."""
    values = {
        "uid": data.uid,
        "meeting_id": data.meeting_id,
        "text": data.text,
        "etag": data.etag,
        "personal": data.personal,
        "component": data.component,
        "start_utc": data.index.start,
        "end_utc": data.index.end,
        "exact": data.index.exact,
        # From open_from on, the occurrences rows are not authoritative: for an object
        # without an exact index that is from its start.
        "open_from": data.index.open_from if data.index.exact else data.index.start,
        "last_modified": time.time(),
    }
    limits.check(items, {"href": data.href, **values})
    existing = tx.conn.execute(
        select(items.c.id).where(items.c.collection_id == collection_id, items.c.href == data.href)
    ).scalar()
    if existing is None:
        item_id = tx.conn.execute(
            insert(items).values(collection_id=collection_id, href=data.href, **values)
        ).inserted_primary_key[0]
    else:
        item_id = existing
        tx.conn.execute(update(items).where(items.c.id == item_id).values(**values))
        tx.conn.execute(delete(occurrences).where(occurrences.c.item_id == item_id))
    # Occurrences are stored as bridge.ical computes them, which is Radicale's rule
    # (an event without an end covers [s, s + 1)), so one overlap test serves all.
    spans = list(data.index.occurrences) if data.index.exact else []
    if spans:
        tx.conn.execute(
            insert(occurrences),
            [
                {"item_id": item_id, "collection_id": collection_id, "start_utc": s, "end_utc": e}
                for s, e in spans
            ],
        )
    longest = max((e - s for s, e in spans), default=0)
    collection_store.touch(tx, collection_id, span=longest)
    tx.record(collection_id, data.href, "put", data.meeting_id, data.uid)


def _entry_at(tx: Tx, collection_id: int, href: str) -> Row | None:
    return tx.conn.execute(
        select(items.c.id, items.c.meeting_id, items.c.uid).where(
            items.c.collection_id == collection_id, items.c.href == href
        )
    ).first()


def remove(tx: Tx, collection_id: int, href: str) -> bool:
    """Delete the object at ``href``; log it. False if there was none."""
    row = _entry_at(tx, collection_id, href)
    if row is None:
        return False
    tx.conn.execute(delete(items).where(items.c.id == row.id))
    collection_store.touch(tx, collection_id)
    tx.record(collection_id, href, "delete", row.meeting_id, row.uid)
    return True


def rename(tx: Tx, collection_id: int, href: str, new_href: str) -> bool:
    """Give the object at ``href`` the name ``new_href``, keeping the row (and so its time
    index); logged as ``href`` deleted and ``new_href`` put. False if there was none."""
    row = _entry_at(tx, collection_id, href)
    if row is None:
        return False
    tx.conn.execute(
        update(items).where(items.c.id == row.id).values(href=new_href, last_modified=time.time())
    )
    collection_store.touch(tx, collection_id)
    tx.record(collection_id, href, "delete", row.meeting_id, row.uid)
    tx.record(collection_id, new_href, "put", row.meeting_id, row.uid)
    return True


def href_taken(conn: Connection, collection_id: int, href: str, meeting_id: int | None) -> bool:
    """Whether ``href`` in the collection holds an object other than the meeting's entry."""
    row = conn.execute(
        select(items.c.meeting_id).where(
            items.c.collection_id == collection_id, items.c.href == href
        )
    ).first()
    return row is not None and (meeting_id is None or row.meeting_id != meeting_id)


def hrefs_in(conn: Connection, collection_id: int) -> list[str]:
    query = select(items.c.href).where(items.c.collection_id == collection_id)
    return [row.href for row in conn.execute(query)]


def meeting_ids_in(conn: Connection, collection_id: int, meeting_ids: Iterable[int]) -> set[int]:
    """Which of ``meeting_ids`` have an entry in the collection."""
    wanted = sorted(set(meeting_ids))
    found: set[int] = set()
    for start in range(0, len(wanted), 500):
        query = select(items.c.meeting_id).where(
            items.c.collection_id == collection_id,
            items.c.meeting_id.in_(wanted[start : start + 500]),
        )
        found.update(row.meeting_id for row in conn.execute(query))
    return found


def has_uid(conn: Connection, collection_id: int, uid: str) -> bool:
    query = select(items.c.id).where(items.c.collection_id == collection_id, items.c.uid == uid)
    return conn.execute(query.limit(1)).first() is not None


def every_text(conn: Connection) -> list[tuple[str, str]]:
    """(href, iCalendar text) of every stored generic object and meeting (for verify)."""
    texts = conn.execute(select(items.c.href, items.c.text).where(items.c.text.isnot(None)))
    found = [(row.href, row.text) for row in texts]
    found += [
        (row.href, row.ical) for row in conn.execute(select(meetings.c.href, meetings.c.ical))
    ]
    return found
