"""The store effects of a round: pulled meetings and link changes, in one transaction.

The business rules of the writes are bridge.meeting_service's (the same as over CalDAV);
this module only turns plan()'s actions into those calls. A refusal (an override the
series does not have, a value too long) raises and rolls the whole transaction back.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid

from sqlalchemy import Connection

from bridge import meeting_rights
from bridge.backends.base import RemoteEvent
from bridge.meeting_service import (
    delete_from_calendar_by_uid,
    load_meeting,
    new_from_calendar,
    save_from_sync,
    stored_overrides,
)
from bridge.model import Meeting, Override
from bridge.store import Store
from bridge.store import links as link_store
from bridge.store import meetings as meeting_store
from bridge.store.changes import Tx
from bridge.sync import Action, DropLink, PullCreate, PullDelete, PullUpdate, RecordLink
from bridge.sync.mapping import redact
from bridge.sync.rules import SyncRules

log = logging.getLogger("bridge.sync")


class PullApplier:
    """Applies pulls and link changes for one binding (its user is ``login``)."""

    def __init__(self, store: Store, binding_id: int, login: str, rules: SyncRules) -> None:
        self.store = store
        self.binding_id = binding_id
        self.login = login
        self.rules = rules

    def apply(
        self, tx: Tx, actions: list[Action], pulled: RemoteEvent | None
    ) -> tuple[list[str], int]:
        """Apply pulls and link changes: (UIDs of meetings a pull created whose calendar
        event waits for its tag, pulls applied). Their links are recorded tag-pending."""
        created: list[str] = []
        count = 0
        for action in actions:
            if isinstance(action, PullCreate):
                uid = action.uid or str(uuid.uuid4())
                meeting = new_from_calendar(tx.conn, self.login, uid, action.fields)
                self._save(tx, meeting, f"{uid}.ics", self._overrides_of(pulled))
                untagged = pulled is None or pulled.crm_meeting_id != uid
                link_store.record(
                    tx,
                    self.binding_id,
                    uid,
                    action.remote_id,
                    action.etag,
                    action.synced_hash,
                    tag_pending=untagged,
                )
                if untagged:
                    created.append(uid)
                count += 1
            elif isinstance(action, (PullUpdate, RecordLink)):
                if isinstance(action, PullUpdate):
                    row = meeting_store.by_uid(tx.conn, action.meeting_uid)
                    stored = load_meeting(tx.conn, row) if row is not None else None
                    if stored is not None and self._may_edit(tx.conn, stored):
                        meeting = dataclasses.replace(stored, **action.fields)
                        self._save(tx, meeting, row.href, self._overrides_of(pulled))
                    count += 1
                link_store.record(
                    tx,
                    self.binding_id,
                    action.meeting_uid,
                    action.remote_id,
                    action.etag,
                    action.synced_hash,
                )
            elif isinstance(action, PullDelete):
                delete_from_calendar_by_uid(
                    tx,
                    writer=self.login,
                    uid=action.meeting_uid,
                    horizon_days=self.store.index_horizon_days,
                    max_occurrences=self.store.max_occurrences,
                )
                count += 1
            elif isinstance(action, DropLink):
                link_store.drop(tx, self.binding_id, action.meeting_uid)
        return created, count

    def _may_edit(self, conn: Connection, meeting: Meeting) -> bool:
        """An edit in the user's own calendar changes the meeting only if the user may
        (bridge.meeting_rights): an attendee's edit of their copy stays in their copy."""
        if meeting_rights.may_edit(meeting_rights.role_of(conn, self.login, meeting)):
            return True
        log.info("binding %s: %s is not %s's to change", self.binding_id, meeting.uid, self.login)
        return False

    def _overrides_of(self, pulled: RemoteEvent | None) -> list[Override]:
        """The calendar's moved or changed occurrences, redacted as the policy says."""
        if pulled is None:
            return []
        if pulled.private and self.rules.calendar_to_crm.private_policy == "busy":
            pulled = redact(pulled)
        return list(pulled.overrides)

    def _save(
        self, tx: Tx, meeting: Meeting, href: str, overrides: list[Override] | None = None
    ) -> None:
        if overrides is None:  # a change that is not about them keeps the stored ones
            row = meeting_store.by_uid(tx.conn, meeting.uid)
            overrides = stored_overrides(row) if row is not None else []
        save_from_sync(
            tx,
            meeting,
            href=href,
            horizon_days=self.store.index_horizon_days,
            max_occurrences=self.store.max_occurrences,
            overrides=overrides,
        )
