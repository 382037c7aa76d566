"""The change log: one append-only row per (collection, href) touched by a transaction.

All rows written by one transaction share one seq, allocated at the end of the
transaction (``Tx.flush``, just before its commit) under a row lock on the
``change_seq`` counter that the commit releases; concurrent writers therefore commit in
seq order and a reader that has seen seq N has seen every change up to N. CalDAV sync
tokens and outbound sync cursors are positions in this log.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection, delete, func, insert, select, update

from bridge.store import limits
from bridge.store.schema import changes, collections, counters


@dataclass
class _Pending:
    op: str
    meeting_id: int | None
    uid: str | None


@dataclass
class Tx:
    """A write transaction: its connection, its origin and the changes it logged.

    The change rows wait in ``pending`` until ``flush`` (right before the commit), which
    allocates the transaction's one seq and writes them: the counter's row lock is held
    only from there to the commit, so seq order is commit order while writers to
    different collections run side by side until then.
    """

    conn: Connection
    origin: str = ""
    seq: int | None = None
    pending: dict[tuple[int, str], _Pending] = field(default_factory=dict)
    locked: set[int] = field(default_factory=set)

    def record(
        self,
        collection_id: int,
        href: str,
        op: str,
        meeting_id: int | None = None,
        uid: str | None = None,
    ) -> None:
        """Log that ``href`` in ``collection_id`` was put or deleted by this transaction."""
        limits.check(changes, {"href": href, "uid": uid, "origin": self.origin})
        key = (collection_id, href)
        self.pending.pop(key, None)  # the last operation on a href wins, in order
        self.pending[key] = _Pending(op, meeting_id, uid)

    def mark(self) -> tuple[dict[tuple[int, str], _Pending], set[int]]:
        """What a savepoint restores if it rolls back (see ``undo``)."""
        return dict(self.pending), set(self.locked)

    def undo(self, mark: tuple[dict[tuple[int, str], _Pending], set[int]]) -> None:
        self.pending, self.locked = dict(mark[0]), set(mark[1])

    def flush(self) -> int | None:
        """Allocate this transaction's seq and write its change rows; call it last."""
        if not self.pending:
            return self.seq
        if self.seq is None:
            self.conn.execute(
                update(counters)
                .where(counters.c.name == "change_seq")
                .values(value=counters.c.value + 1)
            )
            self.seq = self.conn.execute(
                select(counters.c.value).where(counters.c.name == "change_seq")
            ).scalar_one()
        at = time.time()
        self.conn.execute(
            insert(changes),
            [
                {
                    "seq": self.seq,
                    "collection_id": collection_id,
                    "href": href,
                    "op": entry.op,
                    "meeting_id": entry.meeting_id,
                    "uid": entry.uid,
                    "origin": self.origin,
                    "at": at,
                }
                for (collection_id, href), entry in self.pending.items()
            ],
        )
        self.pending = {}
        return self.seq

    def lock_collections(self, collection_ids: Iterable[int]) -> bool:
        """Take the write lock of each collection (its row), in id order, for the rest of
        the transaction; True if it took any it did not hold yet. On SQLite
        the transaction already holds the database's one writer lock (BEGIN IMMEDIATE)
        and SQLite has no row locks: nothing to do (False)."""
        wanted = sorted(set(collection_ids) - self.locked)
        if not wanted or self.conn.dialect.name == "sqlite":
            return False
        self.conn.execute(
            select(collections.c.id)
            .where(collections.c.id.in_(wanted))
            .order_by(collections.c.id)
            .with_for_update()
        ).all()
        self.locked.update(wanted)
        return True


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


def changed_hrefs(
    conn: Connection, collection_id: int, since: int, upto: int | None = None
) -> list[str]:
    """Distinct hrefs touched in the collection after position ``since`` (and up to
    ``upto``, the position the answer's new token names): O(changes)."""
    query = select(changes.c.href).where(
        changes.c.collection_id == collection_id, changes.c.seq > since
    )
    if upto is not None:
        # Each statement of a READ COMMITTED transaction sees the latest commits: without
        # the bound, a change committed after ``upto`` was read would be listed now and
        # again from the new token.
        query = query.where(changes.c.seq <= upto)
    rows = conn.execute(query.group_by(changes.c.href))
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
