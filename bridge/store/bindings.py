"""Bindings: a user's connection to one calendar backend, its cursors, status and lease.

A lease is a row-level claim taken with one conditional UPDATE, so two worker processes
never run the same binding. It names its holder (host, pid, pid space) and is kept alive
by heartbeats (``beat``); a lease whose heartbeat stopped, or whose holder the caller saw
dead, can be taken over. Whether a holder is alive is decided by bridge.sync.lease.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, and_, or_, select, update

from bridge.store.binding_config import BindingRecord, sync
from bridge.store.changes import Tx
from bridge.store.schema import bindings, changes, collections, users

__all__ = ["BindingRecord", "BindingRow", "sync"]

#: A binding as the functions here return it: the bindings columns and the user's login.
BindingRow = Row


def _select() -> Any:
    return select(bindings, users.c.login).join(users, users.c.id == bindings.c.user_id)


def get(conn: Connection, binding_id: int) -> Row | None:
    return conn.execute(_select().where(bindings.c.id == binding_id)).first()


def by_login(conn: Connection, login: str, name: str | None = None) -> list[Row]:
    query = _select().where(users.c.login == login)
    if name is not None:
        query = query.where(bindings.c.name == name)
    return list(conn.execute(query.order_by(bindings.c.name)))


def all_bindings(conn: Connection) -> list[Row]:
    return list(conn.execute(_select().order_by(users.c.login, bindings.c.name)))


def due(
    conn: Connection,
    now: float,
    space: str | None = None,
    *,
    limit: int | None = None,
    skip: Iterable[int] = (),
    skip_accounts: Iterable[str] = (),
) -> list[Row]:
    """Bindings whose next run is due and whose lease is free or expired, longest waiting
    first (``limit``: at most that many); a retired binding never runs.

    A range of the index on next_run_at read in its order: a pass costs the due bindings
    it takes, not a scan of every binding. With ``space``, also those leased by a holder
    in that pid space: the caller can see whether that holder still lives. ``skip``: ids
    the caller will not run now (running, refused by its configuration); ``skip_accounts``:
    remote accounts whose bindings it will not run now (their rounds are all taken).
    """
    free = [bindings.c.lease_until.is_(None), bindings.c.lease_until < now]
    if space is not None:
        free.append(bindings.c.lease_space == space)
    live = bindings.c.retired_at.is_(None)
    query = _select().where(bindings.c.next_run_at <= now, or_(*free), live)
    skipped = list(skip)
    if skipped:
        query = query.where(bindings.c.id.notin_(skipped))
    full = list(skip_accounts)
    if full:
        query = query.where(or_(bindings.c.account.is_(None), bindings.c.account.notin_(full)))
    query = query.order_by(bindings.c.next_run_at, bindings.c.id)
    if limit is not None:
        query = query.limit(limit)
    return list(conn.execute(query))


def active_ids(conn: Connection) -> list[int]:
    """The ids of the bindings that may sync (not retired)."""
    query = select(bindings.c.id).where(bindings.c.retired_at.is_(None))
    return [row.id for row in conn.execute(query)]


def touched_since(conn: Connection, seq: int, own_origin: Callable[[int], str]) -> list[int]:
    """The bindings whose user's calendars changed after log position ``seq`` by another
    writer than the binding itself (``own_origin(binding_id)``: its pulls' origin).

    Reads the changes after ``seq`` as a range of the index on seq first, then their
    collections by key and their owners' bindings by user: the cost follows the new
    changes, not the size of the log, the collections or the bindings.
    """
    recent = conn.execute(
        select(changes.c.collection_id, changes.c.origin).where(changes.c.seq > seq).distinct()
    ).all()
    if not recent:
        return []
    owner_of = {
        row.id: row.owner_id
        for row in conn.execute(
            select(collections.c.id, collections.c.owner_id).where(
                collections.c.id.in_({r.collection_id for r in recent}),
                collections.c.owner_id.isnot(None),
            )
        )
    }
    writers = {(owner_of[r.collection_id], r.origin) for r in recent if r.collection_id in owner_of}
    owners = {owner for owner, _ in writers}
    if not owners:
        return []
    rows = conn.execute(
        select(bindings.c.id, bindings.c.user_id).where(bindings.c.user_id.in_(owners))
    )
    return [
        row.id
        for row in rows
        if any(owner == row.user_id and origin != own_origin(row.id) for owner, origin in writers)
    ]


@dataclass(frozen=True)
class Holder:
    """Who takes a lease: a token unique to one scheduler, and where it runs."""

    owner: str
    host: str = ""
    pid: int | None = None
    space: str | None = None


def account_rounds(
    conn: Connection, account: str, *, besides: int | None = None, lock: bool = False
) -> int:
    """How many rounds the remote ``account`` runs now: live leases of its bindings (but
    ``besides``), held by any process. ``lock``: lock the account's rows (FOR UPDATE)."""
    query = (
        select(bindings.c.id, bindings.c.lease_until)
        .where(bindings.c.account == account)
        .order_by(bindings.c.id)
    )
    rows = conn.execute(query.with_for_update() if lock else query).all()
    now = time.time()
    return sum(
        1 for r in rows if r.id != besides and r.lease_until is not None and r.lease_until > now
    )


def account_full(tx: Tx, account: str | None, limit: int, *, besides: int) -> bool:
    """Whether the remote ``account`` already runs ``limit`` rounds (see
    ``account_rounds``) besides the binding ``besides``. False for no account (None).

    Locks the account's rows first (MariaDB: FOR UPDATE, in index order; SQLite: the
    write transaction holds the database), so called in the transaction that then takes
    the lease, two processes never both take the last free slot.
    """
    if account is None:
        return False
    return account_rounds(tx.conn, account, besides=besides, lock=True) >= limit


def take_lease(
    tx: Tx,
    binding_id: int,
    holder: Holder | str,
    seconds: float,
    *,
    next_run_at: float | None = None,
    dead_owner: str | None = None,
) -> bool:
    """Claim the binding for ``holder`` for ``seconds`` (renewed by ``beat``); False if
    someone else holds it.

    One conditional UPDATE: it succeeds when the lease is free, expired (no heartbeat for
    its length), already this holder's, or held by ``dead_owner`` - a holder the caller
    found dead - so of several processes racing for it, exactly one wins.

    ``next_run_at`` schedules the following round already now, so a push notification that
    arrives during this round (it sets next_run_at to 0) is not overwritten when it ends.
    """
    if isinstance(holder, str):
        holder = Holder(holder)
    now = time.time()
    takeable = [
        bindings.c.lease_until.is_(None),
        bindings.c.lease_until < now,
        bindings.c.lease_owner == holder.owner,
    ]
    if dead_owner is not None:
        takeable.append(bindings.c.lease_owner == dead_owner)
    extra = {} if next_run_at is None else {"next_run_at": next_run_at}
    result = tx.conn.execute(
        update(bindings)
        .where(bindings.c.id == binding_id, bindings.c.retired_at.is_(None), or_(*takeable))
        .values(
            lease_owner=holder.owner,
            lease_until=now + seconds,
            lease_host=holder.host[:255] or None,
            lease_pid=holder.pid,
            lease_space=holder.space,
            lease_since=now,
            lease_beat=now,
            **extra,
        )
    )
    return result.rowcount == 1


def beat(tx: Tx, binding_id: int, owner: str, seconds: float) -> bool:
    """The holder's heartbeat: its lease now runs ``seconds`` from now. False if the lease
    is no longer ``owner``'s (it expired and was taken over)."""
    now = time.time()
    result = tx.conn.execute(
        update(bindings)
        .where(bindings.c.id == binding_id, bindings.c.lease_owner == owner)
        .values(lease_beat=now, lease_until=now + seconds)
    )
    return result.rowcount == 1


def release_lease(tx: Tx, binding_id: int, owner: str) -> None:
    tx.conn.execute(
        update(bindings)
        .where(and_(bindings.c.id == binding_id, bindings.c.lease_owner == owner))
        .values(
            lease_owner=None,
            lease_until=None,
            lease_host=None,
            lease_pid=None,
            lease_space=None,
            lease_since=None,
            lease_beat=None,
        )
    )


def set_remote_cursor(tx: Tx, binding_id: int, cursor: str | None) -> None:
    tx.conn.execute(
        update(bindings).where(bindings.c.id == binding_id).values(remote_cursor=cursor)
    )


def advance_remote_cursor(tx: Tx, binding_id: int, cursor: str | None, *, was: str | None) -> bool:
    """Store the cursor a round ended with, if the stored one is still ``was`` (the one the
    round started from); False, writing nothing, when it changed meanwhile (a push notice
    asked for a resync: :func:`drop_remote_cursor`), so that resync is not lost."""
    same = bindings.c.remote_cursor.is_(None) if was is None else bindings.c.remote_cursor == was
    result = tx.conn.execute(
        update(bindings).where(bindings.c.id == binding_id, same).values(remote_cursor=cursor)
    )
    return result.rowcount == 1


def drop_remote_cursor(tx: Tx, binding_id: int) -> None:
    """Forget the binding's change cursor: its next round lists every event (a resync)."""
    set_remote_cursor(tx, binding_id, None)


def set_outbound_seq(tx: Tx, binding_id: int, seq: int) -> None:
    tx.conn.execute(
        update(bindings)
        .where(bindings.c.id == binding_id, bindings.c.outbound_seq < seq)
        .values(outbound_seq=seq)
    )


def record_success(tx: Tx, binding_id: int) -> None:
    """A round succeeded (its next run was set when the lease was taken)."""
    tx.conn.execute(
        update(bindings)
        .where(bindings.c.id == binding_id)
        .values(last_success_at=time.time(), failures=0)
    )


def record_failure(tx: Tx, binding_id: int, error: str, *, next_run_at: float) -> None:
    tx.conn.execute(
        update(bindings)
        .where(bindings.c.id == binding_id)
        .values(
            last_error=error[:2000],
            last_error_at=time.time(),
            failures=bindings.c.failures + 1,
            next_run_at=next_run_at,
        )
    )


def request_run(tx: Tx, binding_ids: Iterable[int]) -> None:
    """Make the bindings due now (a local change arrived, a push channel was opened)."""
    ids = list(binding_ids)
    if ids:
        tx.conn.execute(update(bindings).where(bindings.c.id.in_(ids)).values(next_run_at=0))


def request_run_by(tx: Tx, binding_id: int, when: float) -> bool:
    """Make the binding due at ``when`` at the latest (a push notification arrived).

    Only ever brings the next run forward: a binding already due by then, or a round
    already asked for, absorbs the request, so a flood of notifications makes one round
    (plus at most one after a round that was running). A binding backing off after
    failures keeps its back-off. Returns whether it changed anything.
    """
    result = tx.conn.execute(
        update(bindings)
        .where(
            bindings.c.id == binding_id,
            bindings.c.next_run_at > when,
            bindings.c.failures == 0,
        )
        .values(next_run_at=when)
    )
    return result.rowcount == 1
