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
    other any        tagged     a tagged event whose id is not the link's (moved, converted
                                id): RecordLink under the new id, then as linked
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
delete) and the remote ``Deleted.deleted_at``; a remote deletion that carries no time (Google
guarantees only the id of a deleted event) is dated when the pull saw it: the remote side's
``seen_at`` (the list call), else ``now``.

Echoes are skipped here and only here: a local change whose origin is this binding (our
own pull, including a deletion it made) counts as unchanged, so the push never re-pushes it.

The outcomes (what each cell does under the rules and the conflict policy) are built in
bridge.sync.plan_outcomes. What a failure means (quarantine one event or back off the
binding) is decided, as purely, in the sibling bridge.sync.plan_faults.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from bridge.backends.base import Deleted, RemoteEvent
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
from bridge.sync.plan_outcomes import Outcomes
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


class _Planner(Outcomes):
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
        self.event = remote.event if isinstance(remote.event, RemoteEvent) else None
        self.gone = remote.event if isinstance(remote.event, Deleted) else None
        self.seen_at = remote.seen_at or now
        self.notes: list[str] = []
        self.pre: list[Action] = []
        self.r = self._remote_state(remote)
        self.l = self._local_state(origin)

    # -- normalising the inputs ----------------------------------------------------------

    def _remote_state(self, remote: RemoteSide) -> str:
        link = self.link
        ev = self.event
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
            link = self._relink(link, ev)
            if link is not None and ev.content_hash() == link.synced_hash:
                self.notes.append("remote change is the echo of what was synced")
                if ev.etag != link.remote_etag and ev.remote_id == link.remote_id:
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

    def _relink(self, link: Link | None, ev: RemoteEvent) -> Link | None:
        """A copy of ours listed under another id than its link's (moved, converted id):
        the link follows it (EWS ConvertId, moves; Graph without immutable ids)."""
        if link is None or ev.remote_id == link.remote_id or ev.crm_meeting_id != link.meeting_uid:
            return link
        why = f"re-linked by tag: {link.remote_id} is now {ev.remote_id}"
        self.pre.append(RecordLink(link.meeting_uid, ev.remote_id, ev.etag, link.synced_hash, why))
        self.link = replace(link, remote_id=ev.remote_id, remote_etag=ev.etag)
        return self.link

    def _local_state(self, origin: str) -> str:
        state = self.local.state
        if state in (State.CREATED, State.CHANGED, State.DELETED):
            if origin and self.local.origin == origin:
                self.notes.append("local change is this binding's own write")
                return SAME
        if state in (State.CREATED, State.CHANGED):
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
            previous = self.gone.remote_id if self.gone is not None else None
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
