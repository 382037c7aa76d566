"""The store effects of a round: pulled meetings and link changes, in one transaction.

The business rules of the writes are bridge.meeting_service's (the same as over CalDAV);
this module only turns plan()'s actions into those calls. A refusal (an override the
series does not have, a value too long) raises and rolls the whole transaction back.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from typing import Any

from sqlalchemy import Connection

from bridge import meeting_rights
from bridge.backends.base import RemoteEvent
from bridge.meeting_service import (
    load_meeting,
    remove_from_calendar,
    save_from_sync,
    stored_overrides,
)
from bridge.model import Meeting, Override, Participant
from bridge.store import Store
from bridge.store import links as link_store
from bridge.store import meetings as meeting_store
from bridge.store import users as user_store
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
        """Apply pulls and link changes: (UIDs of meetings a pull created, pulls applied)."""
        created: list[str] = []
        count = 0
        for action in actions:
            if isinstance(action, PullCreate):
                uid = action.uid or str(uuid.uuid4())
                meeting = self._new_meeting(tx.conn, uid, action.fields)
                self._save(tx, meeting, f"{uid}.ics", self._overrides_of(pulled))
                link_store.record(
                    tx, self.binding_id, uid, action.remote_id, action.etag, action.synced_hash
                )
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
                self._delete_for_user(tx, action.meeting_uid)
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

    def _new_meeting(self, conn: Connection, uid: str, fields: dict[str, Any]) -> Meeting:
        """A meeting made in the user's calendar: the user organises it; attendees who are
        CRM users become internal participants."""
        logins = user_store.login_by_email(conn)
        external: list[Participant] = []
        internal: list[str] = []
        for person in fields.get("external", []):
            login = logins.get(person.email.lower())
            if login is None:
                external.append(person)
            elif login != self.login and login not in internal:
                internal.append(login)
        values = {**fields, "external": external}
        return Meeting(uid=uid, organiser=self.login, internal_users=internal, **values)

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

    def _delete_for_user(self, tx: Tx, uid: str) -> None:
        """Deleted in the user's calendar: the organiser deletes the meeting, an attendee
        declines it (the others keep it) - as a DELETE over CalDAV does."""
        row = meeting_store.by_uid(tx.conn, uid)
        if row is None:
            return
        remove_from_calendar(
            tx,
            writer=self.login,
            meeting_id=row.id,
            horizon_days=self.store.index_horizon_days,
            max_occurrences=self.store.max_occurrences,
        )
