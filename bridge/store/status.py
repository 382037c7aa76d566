"""What every view of sync status reads (`bridge status`, the live page /status, /metrics):
one query per concern, shared by all of them.

``bindings_status`` is the one read of a binding's sync status: the binding row (with the
user's login), its push channel's expiry and its quarantine summary. ``waiting_changes``
counts the change-log rows a binding has not pushed yet (its lag); ``leases_held`` and
``open_channels`` are the gauges the metrics page reports.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Row, func, select

from bridge.store.quarantine import Summary, summaries
from bridge.store.schema import bindings, changes, channels, collections, users


@dataclass(frozen=True)
class BindingStatus:
    """A binding as the status views see it."""

    #: The bindings columns and the user's login (bridge.store.bindings.BindingRow).
    row: Row
    #: When its push channel ends (epoch seconds), or None without a channel.
    channel_expires_at: float | None
    #: Its quarantined events, or None when none are held.
    quarantined: Summary | None


def bindings_status(conn: Connection) -> list[BindingStatus]:
    """Every binding, by login and name, with its channel expiry and quarantine summary."""
    query = (
        select(bindings, users.c.login, channels.c.expiration.label("channel_expiration"))
        .join(users, users.c.id == bindings.c.user_id)
        .outerjoin(channels, channels.c.binding_id == bindings.c.id)
        .order_by(users.c.login, bindings.c.name)
    )
    held = summaries(conn)
    return [
        BindingStatus(row, row.channel_expiration, held.get(row.id)) for row in conn.execute(query)
    ]


def waiting_changes(conn: Connection) -> dict[int, int]:
    """Per binding that may sync: change-log rows in its user's calendars past its
    outbound position (what its next round still has to look at)."""
    query = (
        select(bindings.c.id, func.count(changes.c.seq))
        .select_from(bindings)
        .join(collections, collections.c.owner_id == bindings.c.user_id)
        .join(
            changes,
            (changes.c.collection_id == collections.c.id)
            & (changes.c.seq > bindings.c.outbound_seq),
        )
        .where(bindings.c.retired_at.is_(None))
        .group_by(bindings.c.id)
    )
    counts = dict(conn.execute(query).all())
    active = conn.execute(select(bindings.c.id).where(bindings.c.retired_at.is_(None)))
    return {row.id: int(counts.get(row.id, 0)) for row in active}


def leases_held(conn: Connection, now: float) -> int:
    """Bindings whose lease has not run out."""
    query = select(func.count()).select_from(bindings).where(bindings.c.lease_until > now)
    return int(conn.execute(query).scalar_one())


def open_channels(conn: Connection, now: float) -> int:
    """Push channels that have not expired."""
    query = select(func.count()).select_from(channels).where(channels.c.expiration > now)
    return int(conn.execute(query).scalar_one())
