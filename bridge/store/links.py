"""Links: (binding, meeting) <-> (remote id, remote etag, synced content hash), and whether
the remote event still waits for its CRM tag (``tag_pending``)."""

from __future__ import annotations

import time

from sqlalchemy import Connection, Row, delete, insert, or_, select, update

from bridge.store.changes import Tx
from bridge.store.schema import links


def by_meeting(conn: Connection, binding_id: int, meeting_uid: str) -> Row | None:
    query = select(links).where(
        links.c.binding_id == binding_id, links.c.meeting_uid == meeting_uid
    )
    return conn.execute(query).first()


def by_remote(conn: Connection, binding_id: int, remote_id: str) -> Row | None:
    query = select(links).where(links.c.binding_id == binding_id, links.c.remote_id == remote_id)
    return conn.execute(query).first()


def record(
    tx: Tx,
    binding_id: int,
    meeting_uid: str,
    remote_id: str,
    etag: str,
    synced_hash: str | None,
    *,
    tag_pending: bool | None = None,
) -> None:
    """Create or replace the link of ``meeting_uid`` (a stale link to either side goes).

    ``tag_pending``: None keeps the flag of the link being replaced when it is the same
    pairing (same meeting, same remote id), else False."""
    if tag_pending is None:
        old = by_meeting(tx.conn, binding_id, meeting_uid)
        tag_pending = bool(old is not None and old.remote_id == remote_id and old.tag_pending)
    tx.conn.execute(
        delete(links).where(
            links.c.binding_id == binding_id,
            or_(links.c.meeting_uid == meeting_uid, links.c.remote_id == remote_id),
        )
    )
    tx.conn.execute(
        insert(links).values(
            binding_id=binding_id,
            meeting_uid=meeting_uid,
            remote_id=remote_id,
            remote_etag=etag,
            synced_hash=synced_hash,
            synced_at=time.time(),
            tag_pending=tag_pending,
        )
    )


def tag_pending(conn: Connection, binding_id: int) -> list[Row]:
    """The binding's links whose remote event still waits for its CRM tag."""
    query = select(links).where(links.c.binding_id == binding_id, links.c.tag_pending.is_(True))
    return list(conn.execute(query.order_by(links.c.id)))


def tag_written(tx: Tx, binding_id: int, meeting_uid: str, etag: str | None) -> None:
    """The tag is written (``etag``: the event's new etag) or given up (None: etag kept)."""
    values: dict[str, object] = {"tag_pending": False}
    if etag is not None:
        values["remote_etag"] = etag
    tx.conn.execute(
        update(links)
        .where(links.c.binding_id == binding_id, links.c.meeting_uid == meeting_uid)
        .values(**values)
    )


def drop(tx: Tx, binding_id: int, meeting_uid: str) -> None:
    tx.conn.execute(
        delete(links).where(links.c.binding_id == binding_id, links.c.meeting_uid == meeting_uid)
    )
