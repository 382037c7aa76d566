"""The change log: one append-only row per (collection, href) touched by a transaction.

All rows written by one transaction share one seq, allocated under a row lock on the
``change_seq`` counter; concurrent writers therefore commit in seq order and a reader
that has seen seq N has seen every change up to N. CalDAV sync tokens and outbound sync
cursors are positions in this log.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection, delete, func, insert, select, update

from bridge.store import limits
from bridge.store.schema import changes, counters


@dataclass
class Tx:
    """A write transaction: its connection, its origin and (lazily) its change seq."""

    conn: Connection
    origin: str = ""
    seq: int | None = None
    touched: set[tuple[int, str]] = field(default_factory=set)

    def allocate_seq(self) -> int:
        if self.seq is None:
            self.conn.execute(
                update(counters)
                .where(counters.c.name == "change_seq")
                .values(value=counters.c.value + 1)
            )
            self.seq = self.conn.execute(
                select(counters.c.value).where(counters.c.name == "change_seq")
            ).scalar_one()
        return self.seq

    def record(
        self,
        collection_id: int,
        href: str,
        op: str,
        meeting_id: int | None = None,
        uid: str | None = None,
    ) -> None:
        """Log that ``href`` in ``collection_id`` was put or deleted by this transaction."""
        seq = self.allocate_seq()
        if (collection_id, href) in self.touched:
            self.conn.execute(
                update(changes)
                .where(
                    changes.c.seq == seq,
                    changes.c.collection_id == collection_id,
                    changes.c.href == href,
                )
                .values(op=op, uid=uid)
            )
            return
        self.touched.add((collection_id, href))
        limits.check(changes, {"href": href, "uid": uid, "origin": self.origin})
        self.conn.execute(
            insert(changes).values(
                seq=seq,
                collection_id=collection_id,
                href=href,
                op=op,
                meeting_id=meeting_id,
                uid=uid,
                origin=self.origin,
                at=time.time(),
            )
        )


def latest_seq(conn: Connection, collection_id: int) -> int:
    """Highest seq that touched the collection (0 if none is left in the log)."""
    found = conn.execute(
        select(func.max(changes.c.seq)).where(changes.c.collection_id == collection_id)
    ).scalar()
    return int(found or 0)


def max_seq(conn: Connection) -> int:
    """The last position allocated in the whole log."""
    return int(
        conn.execute(select(counters.c.value).where(counters.c.name == "change_seq")).scalar_one()
    )


def position(conn: Connection, collection_id: int) -> int:
    """The collection's current log position: its last change, or the floor if the
    pruning took all of its rows (a full sync at the floor has seen everything)."""
    return max(latest_seq(conn, collection_id), floor(conn))


def floor(conn: Connection) -> int:
    """Highest pruned seq: a position at or below it can no longer be synced from."""
    return int(
        conn.execute(select(counters.c.value).where(counters.c.name == "change_floor")).scalar_one()
    )


def changed_hrefs(conn: Connection, collection_id: int, since: int) -> list[str]:
    """Distinct hrefs touched in the collection after position ``since``: O(changes)."""
    rows = conn.execute(
        select(changes.c.href)
        .where(changes.c.collection_id == collection_id, changes.c.seq > since)
        .group_by(changes.c.href)
    )
    return [row.href for row in rows]


@dataclass(frozen=True)
class Change:
    seq: int
    href: str
    op: str
    meeting_id: int | None
    uid: str | None
    origin: str
    at: float = 0.0  # when it was committed (epoch seconds)


def latest_changes(conn: Connection, collection_id: int, since: int) -> list[Change]:
    """The last change of each href touched after ``since``, in seq order."""
    rows = conn.execute(
        select(
            changes.c.seq,
            changes.c.href,
            changes.c.op,
            changes.c.meeting_id,
            changes.c.uid,
            changes.c.origin,
            changes.c.at,
        )
        .where(changes.c.collection_id == collection_id, changes.c.seq > since)
        .order_by(changes.c.seq, changes.c.id)
    )
    last: dict[str, Change] = {}
    for row in rows:
        last.pop(row.href, None)
        last[row.href] = Change(
            row.seq, row.href, row.op, row.meeting_id, row.uid, row.origin, row.at
        )
    return list(last.values())


def deleted_at(conn: Connection, collection_id: int, uid: str) -> float | None:
    """When the object ``uid`` last left the collection (a delete row), if the log still
    holds it: sync dates a CRM deletion by it."""
    return conn.execute(
        select(func.max(changes.c.at)).where(
            changes.c.collection_id == collection_id,
            changes.c.uid == uid,
            changes.c.op == "delete",
        )
    ).scalar()


def prune(conn: Connection, older_than: float) -> int:
    """Delete rows logged before ``older_than`` (epoch seconds); return the new floor."""
    cutoff = conn.execute(select(func.max(changes.c.seq)).where(changes.c.at < older_than)).scalar()
    if cutoff is None:
        return floor(conn)
    conn.execute(delete(changes).where(changes.c.seq <= cutoff))
    conn.execute(
        update(counters)
        .where(counters.c.name == "change_floor", counters.c.value < cutoff)
        .values(value=cutoff)
    )
    return floor(conn)


def forget_collection(conn: Connection, collection_ids: Iterable[int]) -> None:
    ids = list(collection_ids)
    if ids:
        conn.execute(delete(changes).where(changes.c.collection_id.in_(ids)))
