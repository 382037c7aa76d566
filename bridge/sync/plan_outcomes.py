"""The outcomes of bridge.sync.plan's decision table: what each cell of the table does,
under the sync rules (window, types, private policy) and the conflict policy.

``Outcomes`` is the half of plan's planner that builds actions; plan.py normalises the two
sides and picks the cell. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime
from typing import Any

from bridge.backends.base import Deleted, RemoteEvent
from bridge.model import Meeting
from bridge.sync import (
    Action,
    DropLink,
    Link,
    LocalSide,
    PullCreate,
    PullDelete,
    PullUpdate,
    PushCreate,
    PushDelete,
    PushUpdate,
    RecordLink,
    Skip,
)
from bridge.sync.mapping import inbound_fields, is_redacted, meeting_to_remote
from bridge.sync.rules import SyncRules


class Outcomes:
    """The actions of each outcome; the state is set by bridge.sync.plan._Planner."""

    link: Link | None
    local: LocalSide
    rules: SyncRules
    now: datetime
    meeting: Meeting | None
    event: RemoteEvent | None
    gone: Deleted | None
    seen_at: datetime

    # -- outcomes ----------------------------------------------------------------------

    def _both_changed(
        self, link: Link, ev: RemoteEvent, m: Meeting, *, adopting: bool
    ) -> list[Action]:
        out = self._outbound(m, ev)
        if out is not None and out.content_hash() == ev.content_hash():
            if adopting:
                return []
            return [RecordLink(m.uid, ev.remote_id, ev.etag, ev.content_hash(), "sides agree")]
        side, why = self._winner(self._out("sync", m, ev), self._in("sync", m, ev), ev.updated)
        if side == "crm":
            return self._push_update(link, ev.etag or link.remote_etag, m, ev, why)
        if side == "calendar":
            return self._pull_update(link, ev, m, why)
        return [Skip(why)]

    def _deleted_vs_changed(self, link: Link, ev: RemoteEvent, m: Meeting | None) -> list[Action]:
        side, why = self._winner(self._out("sync", m, ev), self._in("sync", m, ev), ev.updated)
        if side == "crm":
            return self._push_delete(link, ev.etag or link.remote_etag, m, ev, why)
        if side == "calendar":
            fields = self._fields(ev, create=True)
            assert fields is not None
            fields["activity_type"] = m.activity_type if m else self.rules.inbound_type(ev)
            return [
                PullCreate(
                    ev.remote_id,
                    ev.etag,
                    ev.content_hash(),
                    fields,
                    f"deleted in the CRM, changed in the calendar: {why}; restored",
                    uid=link.meeting_uid,
                )
            ]
        return [DropLink(link.meeting_uid, link.remote_id, why)]

    def _changed_vs_deleted(self, link: Link, m: Meeting, ev: RemoteEvent | None) -> list[Action]:
        gone = self.gone
        deleted_at = gone.deleted_at if gone and gone.deleted_at else self.seen_at
        out, inb = self._out("sync", m, None), self._in("delete", m, None)
        side, why = self._winner(out, inb, deleted_at)
        drop = DropLink(link.meeting_uid, link.remote_id, f"deleted in the calendar: {why}")
        if side == "crm":
            return [drop, *self._push_create(m, link.remote_id, why)]
        if side == "calendar":
            return [PullDelete(m.uid, f"changed in the CRM, deleted in the calendar: {why}"), drop]
        return [drop]

    def _winner(
        self, out_reason: str | None, in_reason: str | None, remote_at: datetime | None
    ) -> tuple[str, str]:
        if out_reason and in_reason:
            return "none", f"{out_reason}; {in_reason}"
        if in_reason:
            return "crm", f"only the CRM side syncs ({in_reason})"
        if out_reason:
            return "calendar", f"only the calendar side syncs ({out_reason})"
        policy = self.rules.conflict_policy
        if policy == "crm-wins":
            return "crm", "both changed: crm-wins"
        if policy == "calendar-wins":
            return "calendar", "both changed: calendar-wins"
        local_at = self.local.modified_at
        if local_at is not None and remote_at is not None and remote_at > local_at:
            return "calendar", "both changed: newest is the calendar's"
        return "crm", "both changed: newest is the CRM's (ties and unknown times go to the CRM)"

    def _push_create(self, m: Meeting, previous: str | None, why: str = "") -> list[Action]:
        reason = None if why else self._out("create", m, None)
        if reason:
            return [Skip(f"not created in the calendar: {reason}")]
        event = self._outbound(m, None)
        if event is None:
            return [Skip("not created in the calendar: private meetings are not synced")]
        key = m.uid
        if previous is not None:  # a re-create must not collide with the deleted copy's id
            key = f"{m.uid}/{hashlib.sha256(previous.encode()).hexdigest()[:16]}"
        return [PushCreate(m.uid, event, key, why or "new in the CRM")]

    def _push_update(
        self, link: Link, etag: str, m: Meeting, ev: RemoteEvent | None, why: str = ""
    ) -> list[Action]:
        if not why:
            reason = self._out("sync", m, ev)
            if reason:
                return [Skip(f"CRM change not synced: {reason}")]
        event = self._outbound(m, ev)
        if event is None:
            return [
                PushDelete(m.uid, link.remote_id, etag, "now private, and private is not synced"),
                DropLink(m.uid, link.remote_id, "private meetings are not synced"),
            ]
        if not why and event.content_hash() == link.synced_hash:
            return [Skip("the CRM change is not visible in the calendar")]
        return [PushUpdate(m.uid, link.remote_id, etag, event, why or "changed in the CRM")]

    def _push_delete(
        self, link: Link, etag: str, m: Meeting | None, ev: RemoteEvent | None, why: str = ""
    ) -> list[Action]:
        reason = None if why else self._out("sync", m, ev)
        if reason:
            return [DropLink(link.meeting_uid, link.remote_id, f"copy kept: {reason}")]
        return [
            PushDelete(link.meeting_uid, link.remote_id, etag, why or "deleted in the CRM"),
            DropLink(link.meeting_uid, link.remote_id, "the meeting is gone"),
        ]

    def _pull_create(self, ev: RemoteEvent) -> list[Action]:
        reason = self._in("create", None, ev)
        if reason:
            return [Skip(f"not imported: {reason}")]
        fields = self._fields(ev, create=True)
        assert fields is not None
        fields["activity_type"] = self.rules.inbound_type(ev)
        return [PullCreate(ev.remote_id, ev.etag, ev.content_hash(), fields, "new in the calendar")]

    def _pull_update(
        self, link: Link, ev: RemoteEvent, m: Meeting | None, why: str = ""
    ) -> list[Action]:
        if not why:
            reason = self._in("sync", m, ev)
            if reason:
                return [Skip(f"calendar change not synced: {reason}")]
        fields = self._fields(ev, create=False)
        assert fields is not None
        redacted = is_redacted(fields["subject"], fields["location"], fields["description"])
        if redacted and m is not None and not is_redacted(m.subject, m.location, m.description):
            for name in ("subject", "location", "description"):  # "Busy" never overwrites text
                del fields[name]
        uid = link.meeting_uid
        return [
            PullUpdate(
                uid, ev.remote_id, ev.etag, ev.content_hash(), fields, why or "changed in calendar"
            )
        ]

    def _pull_delete(self, link: Link, m: Meeting | None) -> list[Action]:
        reason = self._in("delete", m, None)
        if reason:
            return [DropLink(link.meeting_uid, link.remote_id, f"meeting kept: {reason}")]
        return [
            PullDelete(link.meeting_uid, "deleted in the calendar"),
            DropLink(link.meeting_uid, link.remote_id, "the copy is gone"),
        ]

    # -- rules -------------------------------------------------------------------------

    def _outbound(self, m: Meeting, ev: RemoteEvent | None) -> RemoteEvent | None:
        policy = self.rules.crm_to_calendar.private_policy
        event = meeting_to_remote(m, private_policy=policy, overrides=self.local.overrides)
        if event is None or ev is None:
            return event
        if m.private and is_redacted(m.subject, m.location, m.description):
            # The CRM only holds the busy-only view of the calendar's own text: keep that text.
            return replace(
                event, subject=ev.subject, location=ev.location, description=ev.description
            )
        return event

    def _fields(self, ev: RemoteEvent, *, create: bool) -> dict[str, Any] | None:
        policy = self.rules.calendar_to_crm.private_policy
        return inbound_fields(ev, private_policy=policy, create=create)

    def _out(self, kind: str, m: Meeting | None, ev: RemoteEvent | None) -> str | None:
        return self.rules.outbound_refusal(kind, m, ev, self.now)

    def _in(self, kind: str, m: Meeting | None, ev: RemoteEvent | None) -> str | None:
        return self.rules.inbound_refusal(kind, m, ev, self.now)
