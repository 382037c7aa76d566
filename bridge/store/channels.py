"""Push channels: a binding's current push subscription (Google events.watch channel, a
Graph subscription, ...) and its token's digest.

One row per binding (``binding_id`` is unique). While a channel is being opened its row
already holds the new channel id and token digest (``resource_id`` is still empty), so the
first notification Google sends is recognised even if it beats the watch answer.
Writes are compare-and-swap on the channel id a caller last saw, so a renewal that lost
a race with another one changes nothing.
"""

from __future__ import annotations

import time

from sqlalchemy import Connection, Row, delete, insert, select, update

from bridge.store.changes import Tx
from bridge.store.schema import bindings, channels

#: A stored channel: the channels columns.
ChannelRow = Row


def by_channel_id(conn: Connection, channel_id: str) -> Row | None:
    """The channel row Google names in X-Goog-Channel-ID, or None."""
    return conn.execute(select(channels).where(channels.c.channel_id == channel_id)).first()


def for_notice(conn: Connection, kind: str, channel_id: str) -> Row | None:
    """The channel a notification received at ``/webhooks/<kind>`` names, or None when no
    binding of that kind has it."""
    query = (
        select(channels)
        .join(bindings, bindings.c.id == channels.c.binding_id)
        .where(channels.c.channel_id == channel_id, bindings.c.kind == kind)
    )
    return conn.execute(query).first()


def for_binding(conn: Connection, binding_id: int) -> Row | None:
    return conn.execute(select(channels).where(channels.c.binding_id == binding_id)).first()


def all_channels(conn: Connection) -> list[Row]:
    return list(conn.execute(select(channels).order_by(channels.c.binding_id)))


def expiring(conn: Connection, before: float) -> list[Row]:
    """Channels whose expiration (epoch seconds) is earlier than ``before``."""
    query = select(channels).where(channels.c.expiration < before)
    return list(conn.execute(query.order_by(channels.c.expiration)))


def upsert(
    tx: Tx,
    binding_id: int,
    *,
    channel_id: str,
    resource_id: str,
    token_hash: str,
    expiration: float,
    replacing: str | None,
    last_message: int = 0,
) -> bool:
    """Make this the binding's channel, if its current one is still ``replacing``.

    ``replacing`` is the channel id the caller saw (None: it saw no channel). Returns
    False, writing nothing, when the row changed meanwhile. ``last_message`` starts a
    channel put (back) in place; confirming the current channel keeps its own.
    """
    current = for_binding(tx.conn, binding_id)
    seen = None if current is None else current.channel_id
    if seen != replacing:
        return False
    values = {
        "channel_id": channel_id,
        "resource_id": resource_id,
        "token_hash": token_hash,
        "expiration": expiration,
    }
    if current is None:
        tx.conn.execute(
            insert(channels).values(
                binding_id=binding_id, created_at=time.time(), last_message=last_message, **values
            )
        )
    elif current.channel_id == channel_id:  # the same channel, now confirmed: keep created_at
        tx.conn.execute(update(channels).where(channels.c.id == current.id).values(**values))
    else:
        tx.conn.execute(
            update(channels)
            .where(channels.c.id == current.id)
            .values(created_at=time.time(), last_message=last_message, **values)
        )
    return True


def accept_message(tx: Tx, channel_id: str, number: int) -> bool:
    """Record message ``number`` of the channel; False when it is not newer than the last.

    One conditional UPDATE, so of two deliveries of the same message exactly one wins.
    """
    result = tx.conn.execute(
        update(channels)
        .where(channels.c.channel_id == channel_id, channels.c.last_message < number)
        .values(last_message=number)
    )
    return result.rowcount == 1


def ask_renew(tx: Tx, binding_id: int, at: float) -> bool:
    """Note that a notice asked to renew the binding's channel now; False when it has none."""
    result = tx.conn.execute(
        update(channels).where(channels.c.binding_id == binding_id).values(renew_asked_at=at)
    )
    return result.rowcount == 1


def renew_asked(conn: Connection) -> list[int]:
    """The bindings whose channel a notice asked to renew (not taken yet)."""
    query = select(channels.c.binding_id).where(channels.c.renew_asked_at.is_not(None))
    return [row.binding_id for row in conn.execute(query.order_by(channels.c.binding_id))]


def take_renew_requests(tx: Tx) -> list[int]:
    """The bindings whose channel a notice asked to renew, each taken (cleared) by exactly
    one caller: a conditional UPDATE per binding, so of two channel keepers one gets it."""
    query = select(channels.c.binding_id, channels.c.renew_asked_at).where(
        channels.c.renew_asked_at.is_not(None)
    )
    taken = []
    for row in tx.conn.execute(query.order_by(channels.c.binding_id)).all():
        result = tx.conn.execute(
            update(channels)
            .where(
                channels.c.binding_id == row.binding_id,
                channels.c.renew_asked_at == row.renew_asked_at,
            )
            .values(renew_asked_at=None)
        )
        if result.rowcount == 1:
            taken.append(row.binding_id)
    return taken


def delete_channel(tx: Tx, channel_id: str) -> bool:
    """Forget a channel; False when it was not stored."""
    result = tx.conn.execute(delete(channels).where(channels.c.channel_id == channel_id))
    return result.rowcount == 1
