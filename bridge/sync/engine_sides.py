"""Reading the two sides plan() compares: a meeting's link and its state in the store.

Reads only; bridge.sync.engine runs them in short read transactions.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from sqlalchemy import Connection, Row

from bridge.backends.base import Change, RemoteEvent
from bridge.meeting_service import load_meeting, stored_overrides
from bridge.store import changes as change_log
from bridge.store import items as item_store
from bridge.store import links as link_store
from bridge.store import meetings as meeting_store
from bridge.sync import Link, LocalSide, State


def when(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None


def link_of(row: Row | None) -> Link | None:
    if row is None:
        return None
    return Link(
        meeting_uid=row.meeting_uid,
        remote_id=row.remote_id,
        remote_etag=row.remote_etag,
        synced_hash=row.synced_hash,
        synced_at=when(row.synced_at),
    )


class SideReader:
    """The local side of meetings in one binding's user's calendar."""

    def __init__(self, binding_id: int, collection_id: int) -> None:
        self.binding_id = binding_id
        self.collection_id = collection_id

    def for_remote(self, conn: Connection, event: Change) -> tuple[Link | None, LocalSide]:
        """The link and local side of a listed change (by remote id, else by tag)."""
        tag = event.crm_meeting_id if isinstance(event, RemoteEvent) else None
        row = link_store.by_remote(conn, self.binding_id, event.remote_id)
        if row is None and tag:
            row = link_store.by_meeting(conn, self.binding_id, tag)
        link = link_of(row)
        uid = link.meeting_uid if link is not None else tag
        return link, self.local(conn, uid, link)

    def for_meeting(self, conn: Connection, uid: str) -> tuple[Link | None, LocalSide]:
        link = link_of(link_store.by_meeting(conn, self.binding_id, uid))
        return link, self.local(conn, uid, link)

    def for_push(
        self, conn: Connection, change: change_log.Change
    ) -> tuple[Link | None, LocalSide]:
        """A local change to push: a put is a changed meeting, a delete a deleted one,
        dated and attributed by the change log (plan() skips this binding's own)."""
        link = link_of(link_store.by_meeting(conn, self.binding_id, change.uid or ""))
        if change.op == "delete":
            if link is None:
                return None, LocalSide(State.ABSENT)
            deleted = LocalSide(State.DELETED, modified_at=when(change.at), origin=change.origin)
            return link, deleted
        local = self.local(conn, change.uid, None)
        if local.state is State.UNCHANGED:
            local = dataclasses.replace(local, state=State.CHANGED)
        return link, local

    def local(self, conn: Connection, uid: str | None, link: Link | None) -> LocalSide:
        """The meeting as plan() sees it: changed since the link's sync or not; deleted
        (dated by the change log's delete row, if still there) when it left the calendar."""
        row = self.my_meeting(conn, uid)
        if row is None:
            if link is None:
                return LocalSide(State.ABSENT)
            gone = change_log.deleted_at(conn, self.collection_id, link.meeting_uid)
            return LocalSide(State.DELETED, modified_at=when(gone))
        meeting = load_meeting(conn, row)
        synced = link.synced_at.timestamp() if link and link.synced_at else None
        changed = synced is None or row.modified_at > synced
        return LocalSide(
            State.CHANGED if changed else State.UNCHANGED,
            meeting,
            modified_at=when(row.modified_at),
            origin=row.origin,
            overrides=tuple(stored_overrides(row)),
        )

    def my_meeting(self, conn: Connection, uid: str | None) -> Row | None:
        """The meeting if it is in this binding's user's calendar."""
        if not uid:
            return None
        row = meeting_store.by_uid(conn, uid)
        if row is None:
            return None
        mine = item_store.meeting_ids_in(conn, self.collection_id, [row.id])
        return row if row.id in mine else None
