"""Links: (binding, meeting) <-> (remote id, remote etag, synced content hash)."""

from __future__ import annotations

import time

from sqlalchemy import Connection, Row, delete, insert, or_, select

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
    tx: Tx, binding_id: int, meeting_uid: str, remote_id: str, etag: str, synced_hash: str | None
) -> None:
    """Create or replace the link of ``meeting_uid`` (a stale link to either side goes)."""
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
        )
    )


def drop(tx: Tx, binding_id: int, meeting_uid: str) -> None:
    tx.conn.execute(
        delete(links).where(links.c.binding_id == binding_id, links.c.meeting_uid == meeting_uid)
    )
