"""Invites: the Invite action's external copy per (binding, meeting) and what was sent.

The store keeps the rows; what goes into a copy, when it counts as out of date and what
may be sent is bridge.invite's. ``state``: ``pending`` (written before the remote create,
so a crash leaves the idempotency key to retry with and the copy is never lost track of),
``sent`` (the service mailed it), ``held`` (created unsent, for the organiser to send from
their calendar) and ``cancelled``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from bridge.store import limits
from bridge.store.changes import Tx
from bridge.store.errors import Conflict
from bridge.store.schema import invites

PENDING, SENT, HELD, CANCELLED = "pending", "sent", "held", "cancelled"
STATES = (PENDING, SENT, HELD, CANCELLED)
LIVE = (PENDING, SENT, HELD)


class AlreadyLive(Conflict):
    """The meeting's invite on this binding is already sent, held or being sent."""


@dataclass(frozen=True)
class Invite:
    """One row, decoded."""

    id: int
    binding_id: int
    meeting_uid: str
    remote_id: str | None
    remote_etag: str
    idempotency_key: str
    sent_hash: str
    sent_fields: dict[str, Any]
    recipients: tuple[str, ...]
    sequence: int
    state: str
    template: str
    language: str
    created_at: float
    sent_at: float | None

    @property
    def live(self) -> bool:
        return self.state in LIVE


def _decode(row: Row | None) -> Invite | None:
    if row is None:
        return None
    return Invite(
        id=row.id,
        binding_id=row.binding_id,
        meeting_uid=row.meeting_uid,
        remote_id=row.remote_id,
        remote_etag=row.remote_etag,
        idempotency_key=row.idempotency_key,
        sent_hash=row.sent_hash,
        sent_fields=json.loads(row.sent_fields),
        recipients=tuple(json.loads(row.recipients)),
        sequence=row.sequence,
        state=row.state,
        template=row.template,
        language=row.language,
        created_at=row.created_at,
        sent_at=row.sent_at,
    )


def for_meeting(conn: Connection, binding_id: int, meeting_uid: str) -> Invite | None:
    query = select(invites).where(
        invites.c.binding_id == binding_id, invites.c.meeting_uid == meeting_uid
    )
    return _decode(conn.execute(query).first())


def by_remote(conn: Connection, binding_id: int, remote_id: str) -> Invite | None:
    query = select(invites).where(
        invites.c.binding_id == binding_id, invites.c.remote_id == remote_id
    )
    return _decode(conn.execute(query).first())


def is_invite_copy(conn: Connection, binding_id: int, remote_id: str) -> bool:
    """Whether ``remote_id`` is (or was) an external copy of this binding: sync never
    imports it, cancelled or not."""
    query = select(invites.c.id).where(
        invites.c.binding_id == binding_id, invites.c.remote_id == remote_id
    )
    return conn.execute(query).first() is not None


def live_by_meeting(conn: Connection, meeting_uid: str) -> list[Invite]:
    """Every binding's live invite of ``meeting_uid`` (the meeting itself may be gone)."""
    query = select(invites).where(
        and_(invites.c.meeting_uid == meeting_uid, invites.c.state.in_(LIVE))
    )
    return [i for i in (_decode(r) for r in conn.execute(query.order_by(invites.c.id))) if i]


def live_for_binding(conn: Connection, binding_id: int) -> list[Invite]:
    query = select(invites).where(
        and_(invites.c.binding_id == binding_id, invites.c.state.in_(LIVE))
    )
    return [i for i in (_decode(r) for r in conn.execute(query.order_by(invites.c.id))) if i]


def _values(
    *,
    sent_hash: str,
    sent_fields: dict[str, Any],
    recipients: tuple[str, ...] | list[str],
    sequence: int,
    state: str,
) -> dict[str, object]:
    if state not in STATES:
        raise ValueError(f"unknown invite state {state!r}")
    return {
        "sent_hash": sent_hash,
        "sent_fields": json.dumps(sent_fields, sort_keys=True, ensure_ascii=False),
        "recipients": json.dumps(list(recipients), ensure_ascii=False),
        "sequence": sequence,
        "state": state,
    }


def begin(
    tx: Tx,
    binding_id: int,
    meeting_uid: str,
    *,
    idempotency_key: str,
    sent_hash: str,
    sent_fields: dict[str, Any],
    recipients: tuple[str, ...] | list[str],
    template: str,
    language: str,
) -> Invite:
    """Record a copy about to be created (``pending``, SEQUENCE 0); a cancelled invite of
    the same meeting is replaced. Before any remote call (invariant 7).

    Atomic against a concurrent send: the row is read FOR UPDATE; a sent or held invite
    is refused (``AlreadyLive``); a pending one keeps its idempotency key (the caller's
    is ignored), so both senders create the same copy, never two."""
    values = _values(
        sent_hash=sent_hash,
        sent_fields=sent_fields,
        recipients=recipients,
        sequence=0,
        state=PENDING,
    )
    values |= {
        "remote_id": None,
        "remote_etag": "",
        "idempotency_key": idempotency_key,
        "template": template,
        "language": language,
        "created_at": time.time(),
        "sent_at": None,
    }
    limits.check(invites, {"meeting_uid": meeting_uid, **values})
    locked = select(invites).where(
        invites.c.binding_id == binding_id, invites.c.meeting_uid == meeting_uid
    )
    old = _decode(tx.conn.execute(locked.with_for_update()).first())
    if old is not None and old.state in (SENT, HELD):
        raise AlreadyLive(f"an invite is already {old.state}: update or cancel it")
    if old is not None and old.state == PENDING:
        values["idempotency_key"] = old.idempotency_key
    if old is None:
        try:
            with tx.conn.begin_nested():
                tx.conn.execute(
                    insert(invites).values(binding_id=binding_id, meeting_uid=meeting_uid, **values)
                )
        except IntegrityError:  # a concurrent send inserted it first
            raise AlreadyLive("another send of this invite is under way") from None
    else:
        tx.conn.execute(update(invites).where(invites.c.id == old.id).values(**values))
    made = for_meeting(tx.conn, binding_id, meeting_uid)
    assert made is not None
    return made


def created(tx: Tx, invite_id: int, *, remote_id: str, etag: str, mailed: bool) -> None:
    """The remote create succeeded: the copy's id and etag; sent or held."""
    limits.check(invites, {"remote_id": remote_id, "remote_etag": etag})
    tx.conn.execute(
        update(invites)
        .where(invites.c.id == invite_id)
        .values(
            remote_id=remote_id,
            remote_etag=etag,
            state=SENT if mailed else HELD,
            sent_at=time.time(),
        )
    )


def updated(
    tx: Tx,
    invite_id: int,
    *,
    etag: str,
    mailed: bool,
    sent_hash: str,
    sent_fields: dict[str, Any],
    recipients: tuple[str, ...] | list[str],
    sequence: int,
) -> None:
    """An update went out: what the copy now carries, its new SEQUENCE and etag."""
    values = _values(
        sent_hash=sent_hash,
        sent_fields=sent_fields,
        recipients=recipients,
        sequence=sequence,
        state=SENT if mailed else HELD,
    )
    values |= {"remote_etag": etag, "sent_at": time.time()}
    limits.check(invites, values)
    tx.conn.execute(update(invites).where(invites.c.id == invite_id).values(**values))


def cancelled(tx: Tx, invite_id: int) -> None:
    tx.conn.execute(
        update(invites)
        .where(invites.c.id == invite_id)
        .values(state=CANCELLED, sent_at=time.time())
    )


def refresh_etag(tx: Tx, invite_id: int, etag: str) -> None:
    tx.conn.execute(update(invites).where(invites.c.id == invite_id).values(remote_etag=etag))
