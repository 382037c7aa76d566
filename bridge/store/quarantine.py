"""Quarantine: events one binding could not sync, set aside and retried with back-off.

The store only keeps the rows; what counts as a poisoned event and when to retry it is
decided by bridge.sync.plan_faults.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from bridge.store.changes import Tx
from bridge.store.schema import quarantine

MEETING, REMOTE = "meeting", "remote"
REASON_CHARS = 2000


@dataclass(frozen=True)
class Summary:
    """What `bridge status` shows for a binding: how many, and the latest reason."""

    count: int
    latest_reason: str
    latest_at: float


def find(conn: Connection, binding_id: int, kind: str, key: str) -> Row | None:
    query = select(quarantine).where(
        quarantine.c.binding_id == binding_id,
        quarantine.c.kind == kind,
        quarantine.c.item_key == key,
    )
    return conn.execute(query).first()


def for_binding(conn: Connection, binding_id: int) -> list[Row]:
    query = select(quarantine).where(quarantine.c.binding_id == binding_id)
    return list(conn.execute(query.order_by(quarantine.c.id)))


def due(conn: Connection, binding_id: int, now: float) -> list[Row]:
    """Entries whose next try has come, oldest try first."""
    query = select(quarantine).where(
        quarantine.c.binding_id == binding_id, quarantine.c.next_try_at <= now
    )
    return list(conn.execute(query.order_by(quarantine.c.next_try_at, quarantine.c.id)))


def put(
    tx: Tx,
    binding_id: int,
    kind: str,
    key: str,
    *,
    remote_id: str | None,
    reason: str,
    held: str,
    attempts: int,
    now: float,
    next_try_at: float,
) -> None:
    """Create or update the entry of (kind, key) after a failed attempt."""
    values = {
        "reason": reason[:REASON_CHARS],
        "held": held,
        "attempts": attempts,
        "last_failed_at": now,
        "next_try_at": next_try_at,
    }
    existing = find(tx.conn, binding_id, kind, key)
    if existing is not None:
        if remote_id is not None:
            values["remote_id"] = remote_id
        tx.conn.execute(update(quarantine).where(quarantine.c.id == existing.id).values(values))
        return
    tx.conn.execute(
        insert(quarantine).values(
            binding_id=binding_id,
            kind=kind,
            item_key=key,
            remote_id=remote_id,
            first_failed_at=now,
            **values,
        )
    )


def clear(tx: Tx, binding_id: int, kind: str, key: str) -> None:
    tx.conn.execute(
        delete(quarantine).where(
            quarantine.c.binding_id == binding_id,
            quarantine.c.kind == kind,
            quarantine.c.item_key == key,
        )
    )


def summaries(conn: Connection) -> dict[int, Summary]:
    """Per binding with quarantined events: their count and the latest failure's reason."""
    counts = dict(
        conn.execute(
            select(quarantine.c.binding_id, func.count()).group_by(quarantine.c.binding_id)
        ).all()
    )
    out: dict[int, Summary] = {}
    rows = conn.execute(
        select(quarantine.c.binding_id, quarantine.c.reason, quarantine.c.last_failed_at).order_by(
            quarantine.c.last_failed_at, quarantine.c.id
        )
    )
    for row in rows:  # the last row per binding is its latest failure
        out[row.binding_id] = Summary(counts[row.binding_id], row.reason, row.last_failed_at)
    return out
