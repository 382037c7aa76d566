"""The pure sync decision for one meeting on one binding, after vdirsyncer's _get_actions.

``plan(link, local, remote, rules, now, origin=...)`` compares the two sides with the link
(what both agreed on at the last sync) and returns small Action objects. It does no I/O;
bridge.sync.engine runs the actions. Every action carries the reason it was chosen.

Hashes live in one space: RemoteEvent.content_hash(). A link's synced_hash is the hash of
the event as last pushed (as the backend returned it) or pulled, and the local side is
compared by the hash of the event outbound sync would write for it now.

The decision table (L = local side, R = remote side, after echo suppression):

    link  L          R          actions
    no    any        invite     the remote is ignored (invariant 4); L decides alone
    no    present    tagged     RecordLink, then as "both changed" if contents differ (inv. 1)
    no    deleted    tagged     PushDelete of the orphaned copy (crm_to_calendar.sync_types)
    no    absent     tagged     Skip: never PullCreate a copy of ours (invariant 1)
    no    changed    —          PushCreate (create_types, window, private policy)
    no    —          changed    PullCreate (default type, create_types, window, private)
    yes   same       same       Skip (RecordLink if only the etag moved)
    yes   changed    same       PushUpdate (sync_types, window); private+skip: PushDelete
    yes   same       changed    PullUpdate (sync_types, window, private policy)
    yes   deleted    same       PushDelete + DropLink; filtered: DropLink
    yes   same       deleted    PullDelete + DropLink; filtered: DropLink (meeting stays)
    yes   deleted    deleted    DropLink
    yes   changed    changed    equal contents: RecordLink; else the conflict policy
    yes   deleted    changed    policy: CRM -> PushDelete + DropLink; calendar -> PullCreate
                                under the old uid (the meeting is restored)
    yes   changed    deleted    policy: CRM -> DropLink + PushCreate (re-created);
                                calendar -> PullDelete + DropLink

Conflicts (both sides changed, both directions allowed for the meeting): "crm-wins",
"calendar-wins", or "newest": the calendar wins only when its ``updated`` is strictly later
than the meeting's ``modified_at``; equal or unknown times -> the CRM wins. When only one
direction is allowed for the meeting, that direction wins whatever the policy. Delete
against modify follows the same rule: the side that wins decides, so under crm-wins a CRM
deletion deletes the calendar copy and a CRM modification re-creates a deleted copy;
under newest a later modification beats an earlier deletion and vice versa. A deletion's
time is the local side's ``modified_at`` (the engine gives the change log's time of the
delete) and the remote event's ``updated``; a remote deletion that carries no time (Google
guarantees only the id of a deleted event) is dated when the pull saw it: the remote side's
``seen_at`` (the list call), else ``now``.

What a failure means (quarantine one event or back off the binding) is decided, as purely,
in the sibling bridge.sync.plan_faults.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime
from typing import Any

from bridge.backends.base import RemoteEvent
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
    RemoteSide,
    Skip,
    State,
)
from bridge.sync.mapping import inbound_fields, is_redacted, meeting_to_remote
from bridge.sync.rules import SyncRules

__all__ = [
    "Action",
    "DropLink",
    "Link",
    "LocalSide",
    "PullCreate",
    "PullDelete",
    "PullUpdate",
    "PushCreate",
    "PushDelete",
    "PushUpdate",
    "RecordLink",
    "RemoteSide",
    "Skip",
    "State",
    "plan",
]

# Normalised side states.
SAME, CHANGED, DELETED, ABSENT = "same", "changed", "deleted", "absent"


def plan(
    link: Link | None,
    local: LocalSide,
    remote: RemoteSide,
    rules: SyncRules,
    now: datetime,
    *,
    origin: str,
) -> list[Action]:
    """The actions that bring one meeting and its calendar copy into agreement.

    ``origin`` names this binding as it appears in the store's ``origin`` column: a local
    change with that origin is our own pull coming back and is ignored (invariant 2).
    """
    return _Planner(link, local, remote, rules, now, origin).decide()


class _Planner:
    def __init__(
        self,
        link: Link | None,
        local: LocalSide,
        remote: RemoteSide,
        rules: SyncRules,
        now: datetime,
        origin: str,
    ) -> None:
        self.link, self.local, self.rules, self.now = link, local, rules, now
        self.meeting = local.meeting
        self.event = remote.event
        self.seen_at = remote.seen_at or now
        self.notes: list[str] = []
        self.pre: list[Action] = []
        self.r = self._remote_state(remote)
        self.l = self._local_state(origin)

    # -- normalising the inputs ----------------------------------------------------------

    def _remote_state(self, remote: RemoteSide) -> str:
        ev, link = remote.event, self.link
        if remote.known_invite or (ev is not None and ev.is_invite_copy):
            self.notes.append("the external invite copy is never synced back")
            invite_id = ev.remote_id if ev is not None else None
            if link is not None and invite_id is not None and link.remote_id == invite_id:
                self.pre.append(
                    DropLink(link.meeting_uid, link.remote_id, "link to an invite copy")
                )
                self.link = None
            self.event = None
            return SAME if self.link is not None else ABSENT
        if remote.state in (State.CREATED, State.CHANGED):
            assert ev is not None
            if ev.deleted:
                return DELETED
            if link is not None and ev.content_hash() == link.synced_hash:
                self.notes.append("remote change is the echo of what was synced")
                if ev.etag != link.remote_etag:
                    self.pre.append(
                        RecordLink(
                            link.meeting_uid, ev.remote_id, ev.etag, link.synced_hash, "new etag"
                        )
                    )
                return SAME
            return CHANGED
        if remote.state is State.DELETED or (remote.state is State.ABSENT and link is not None):
            return DELETED
        if remote.state is State.ABSENT:
            return ABSENT
        return SAME

    def _local_state(self, origin: str) -> str:
        state = self.local.state
        if state in (State.CREATED, State.CHANGED):
            if origin and self.local.origin == origin:
                self.notes.append("local change is this binding's own write")
                return SAME
            return CHANGED
        if state is State.DELETED or (state is State.ABSENT and self.link is not None):
            return DELETED
        return ABSENT if state is State.ABSENT else SAME

    # -- the table ---------------------------------------------------------------------

    def decide(self) -> list[Action]:
        actions = self.pre + (self._linked() if self.link is not None else self._unlinked())
        if not actions:
            actions = [Skip("; ".join(self.notes) or "nothing to do")]
        return actions

    def _unlinked(self) -> list[Action]:
        ev, m = self.event, self.meeting
        if ev is not None and ev.crm_meeting_id and self.r in (SAME, CHANGED):
            return self._adopt(ev)
        if self.l == CHANGED:
            assert m is not None
            previous = ev.remote_id if ev is not None and self.r == DELETED else None
            return self._push_create(m, previous)
        if self.r == CHANGED and ev is not None:
            return self._pull_create(ev)
        return []

    def _adopt(self, ev: RemoteEvent) -> list[Action]:
        """A copy of ours without a link: a crash, a lost cursor or a re-pairing."""
        uid = str(ev.crm_meeting_id)
        m = self.meeting
        if m is not None and m.uid != uid:
            return [Skip(f"remote event {ev.remote_id} is the copy of meeting {uid}, not {m.uid}")]
        if self.l == DELETED:
            reason = self._out("sync", m, ev)
            if reason:
                return [Skip(f"orphaned copy of deleted meeting {uid} kept: {reason}")]
            return [PushDelete(uid, ev.remote_id, ev.etag, "copy of a deleted meeting")]
        if m is None:
            return [Skip(f"tagged with meeting {uid} the store does not hold: never pulled")]
        link = Link(uid, ev.remote_id, ev.etag, None)
        actions: list[Action] = [
            RecordLink(uid, ev.remote_id, ev.etag, ev.content_hash(), "found our copy by its tag")
        ]
        return actions + self._both_changed(link, ev, m, adopting=True)

    def _linked(self) -> list[Action]:
        link, ev, m = self.link, self.event, self.meeting
        assert link is not None
        if ev is not None and ev.remote_id != link.remote_id:
            return [Skip(f"remote event {ev.remote_id} is not the linked {link.remote_id}")]
        etag = ev.etag if ev is not None and ev.etag else link.remote_etag
        key = (self.l, self.r)
        if key == (SAME, SAME):
            return []
        if key == (DELETED, DELETED):
            return [DropLink(link.meeting_uid, link.remote_id, "deleted on both sides")]
        if key == (DELETED, SAME):
            return self._push_delete(link, etag, m, ev)
        if key == (SAME, DELETED):
            return self._pull_delete(link, m)
        if key == (CHANGED, SAME):
            assert m is not None
            return self._push_update(link, etag, m, ev)
        if key == (SAME, CHANGED):
            assert ev is not None
            return self._pull_update(link, ev, m)
        if key == (CHANGED, CHANGED):
            assert ev is not None and m is not None
            return self._both_changed(link, ev, m, adopting=False)
        if key == (DELETED, CHANGED):
            assert ev is not None
            return self._deleted_vs_changed(link, ev, m)
        assert m is not None
        return self._changed_vs_deleted(link, m, ev)

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
        deleted_at = ev.updated if ev is not None and ev.updated is not None else self.seen_at
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
        if event is None or ev is None or ev.deleted:
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
