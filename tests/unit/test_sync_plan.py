"""bridge.sync.plan: one example per rule, then properties over every combination."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.backends.base import (
    BackendError,
    Deleted,
    NotFound,
    PreconditionFailed,
    Rejected,
    RemoteAttendee,
    RemoteEvent,
    ResyncRequired,
)
from bridge.backends.recurrence import series_span
from bridge.ical.errors import ICalError
from bridge.model import APPOINTMENT, MEETING, BusyStatus, Meeting, Participant, Recurrence
from bridge.store.errors import StoreError as TooLongLike
from bridge.sync import PULLS, PUSHES
from bridge.sync.mapping import inbound_fields, meeting_to_remote
from bridge.sync.plan import (
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
    plan,
)
from bridge.sync.plan_faults import (
    RETRY_BASE_SECONDS,
    RETRY_MAX_SECONDS,
    BackOff,
    Failure,
    Quarantine,
    Replan,
    failure_of,
    on_failure,
    retry_in,
    retry_now,
)
from bridge.sync.rules import DirectionRules, SyncRules

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
ORIGIN = "google:alice"
NOTE = "INTERNAL-NOTE-7f3a"
TYPES = (MEETING, APPOINTMENT, "call")


def make_meeting(**kw) -> Meeting:
    values = dict(
        uid="m1",
        start=NOW + DAY,
        end=NOW + DAY + HOUR,
        subject="Review",
        location="Room 1",
        description="Agenda",
        internal_notes=NOTE,
        internal_users=["alice", "bob"],
        external=[Participant("guest@example.org", "Guest")],
        custom_fields={"deal": NOTE},
    )
    values.update(kw)
    return Meeting(**values)


def make_event(**kw) -> RemoteEvent:
    values = dict(
        remote_id="r1",
        etag="e1",
        start=NOW + DAY,
        end=NOW + DAY + HOUR,
        crm_meeting_id="m1",
        subject="Review",
        location="Room 1",
        description="Agenda",
    )
    values.update(kw)
    return RemoteEvent(**values)


def out_hash(m: Meeting, policy: str = "full") -> str:
    event = meeting_to_remote(m, private_policy=policy)
    assert event is not None
    return event.content_hash()


def link_for(m: Meeting, **kw) -> Link:
    values = dict(meeting_uid=m.uid, remote_id="r1", remote_etag="e1", synced_hash=out_hash(m))
    values.update(kw)
    return Link(**values)


def rules(conflict: str = "crm-wins", out: dict | None = None, inb: dict | None = None):
    return SyncRules(
        crm_to_calendar=DirectionRules(**(out or {})),
        calendar_to_crm=DirectionRules(**(inb or {})),
        conflict_policy=conflict,
    )


def run(link, local, remote, sync_rules=None):
    return plan(link, local, remote, sync_rules or rules(), NOW, origin=ORIGIN)


def kinds(actions) -> list[type]:
    return [type(a) for a in actions]


CHANGED_LOCAL = LocalSide(State.CHANGED, make_meeting(), modified_at=NOW - HOUR)
UNCHANGED_REMOTE = RemoteSide(State.UNCHANGED)
NO_REMOTE = RemoteSide(State.ABSENT)


# --- CRM -> calendar ---------------------------------------------------------------------


def test_new_meeting_is_pushed_without_attendees_or_crm_only_fields():
    actions = run(None, LocalSide(State.CREATED, make_meeting()), NO_REMOTE)
    assert kinds(actions) == [PushCreate]
    create = actions[0]
    assert create.idempotency_key == "m1" and create.event.crm_meeting_id == "m1"
    assert create.event.attendees == () and NOTE not in repr(create.event)
    assert (create.event.subject, create.event.location) == ("Review", "Room 1")


def test_create_types_filter_creates_and_sync_types_filter_changes():
    only_meetings = rules(out={"create_types": frozenset({MEETING})})
    actions = run(None, LocalSide(State.CREATED, make_meeting()), NO_REMOTE, only_meetings)
    assert kinds(actions) == [Skip] and "create_types" in actions[0].reason
    m = make_meeting(subject="Moved")
    link = link_for(make_meeting())
    no_sync = rules(out={"sync_types": frozenset()})
    actions = run(link, LocalSide(State.CHANGED, m), UNCHANGED_REMOTE, no_sync)
    assert kinds(actions) == [Skip] and "sync_types" in actions[0].reason
    assert kinds(run(link, LocalSide(State.CHANGED, m), UNCHANGED_REMOTE)) == [PushUpdate]


@pytest.mark.parametrize(
    ("start", "recurrence", "pushed"),
    [
        (NOW - 31 * DAY, None, False),  # before the 30-day history window
        (NOW - 29 * DAY, None, True),
        (NOW + 364 * DAY, None, True),
        (NOW + 366 * DAY, None, False),  # beyond the 365-day forward window
        (NOW - 200 * DAY, Recurrence(rrule="FREQ=WEEKLY"), True),  # open series overlaps
        (NOW - 200 * DAY, Recurrence(rrule="FREQ=WEEKLY;UNTIL=20250901T000000Z"), False),
        (NOW - 200 * DAY, Recurrence(rrule="FREQ=WEEKLY;COUNT=40"), True),
        (NOW - 200 * DAY, Recurrence(rrule="FREQ=WEEKLY;COUNT=3"), False),
    ],
)
def test_windows_measure_the_whole_series(start, recurrence, pushed):
    m = make_meeting(start=start, end=start + HOUR, recurrence=recurrence)
    actions = run(None, LocalSide(State.CREATED, m), NO_REMOTE)
    assert kinds(actions) == ([PushCreate] if pushed else [Skip])
    if not pushed:
        assert "window" in actions[0].reason


def test_a_meeting_moved_out_of_the_window_still_moves_its_copy():
    old = make_meeting()
    moved = make_meeting(start=NOW + 400 * DAY, end=NOW + 400 * DAY + HOUR)
    copy = replace(meeting_to_remote(old, private_policy="full"), remote_id="r1")
    remote = RemoteSide(State.UNCHANGED, copy)
    actions = run(link_for(old), LocalSide(State.CHANGED, moved), remote)
    assert kinds(actions) == [PushUpdate]


@pytest.mark.parametrize("policy", ["full", "busy", "skip"])
def test_private_policy_outbound(policy):
    m = make_meeting(private=True)
    actions = run(
        None, LocalSide(State.CREATED, m), NO_REMOTE, rules(out={"private_policy": policy})
    )
    if policy == "skip":
        assert kinds(actions) == [Skip] and "private" in actions[0].reason
        return
    event = actions[0].event
    assert event.private
    if policy == "busy":
        assert (event.subject, event.location, event.description) == ("Busy", "", "")
    else:
        assert event.subject == "Review"


def test_a_meeting_turned_private_under_skip_removes_its_copy():
    link = link_for(make_meeting())
    local = LocalSide(State.CHANGED, make_meeting(private=True))
    actions = run(link, local, UNCHANGED_REMOTE, rules(out={"private_policy": "skip"}))
    assert kinds(actions) == [PushDelete, DropLink]


def test_a_change_invisible_in_the_calendar_is_not_pushed():
    m = make_meeting(internal_notes="other notes", custom_fields={})
    actions = run(link_for(make_meeting()), LocalSide(State.CHANGED, m), UNCHANGED_REMOTE)
    assert kinds(actions) == [Skip] and "not visible" in actions[0].reason


def test_local_deletion_deletes_the_copy_unless_filtered():
    link = link_for(make_meeting())
    deleted = LocalSide(State.DELETED, make_meeting())
    assert kinds(run(link, deleted, UNCHANGED_REMOTE)) == [PushDelete, DropLink]
    filtered = rules(out={"sync_types": frozenset({MEETING})})
    assert kinds(run(link, deleted, UNCHANGED_REMOTE, filtered)) == [DropLink]
    assert kinds(run(link, LocalSide(State.ABSENT), UNCHANGED_REMOTE)) == [PushDelete, DropLink]


# --- calendar -> CRM ---------------------------------------------------------------------


def untagged(**kw) -> RemoteSide:
    return RemoteSide(State.CREATED, make_event(crm_meeting_id=None, remote_id="r9", **kw))


@pytest.mark.parametrize(
    ("default", "attendees", "expected"),
    [
        (APPOINTMENT, (), APPOINTMENT),
        (APPOINTMENT, (RemoteAttendee("x@example.org"),), MEETING),
        (MEETING, (), APPOINTMENT),
        ("call", (RemoteAttendee("x@example.org"),), "call"),
    ],
)
def test_calendar_events_get_the_default_type_meeting_or_appointment_by_attendees(
    default, attendees, expected
):
    inbound = {"default_activity_type": default, "create_types": frozenset(TYPES)}
    actions = run(None, LocalSide(State.ABSENT), untagged(attendees=attendees), rules(inb=inbound))
    assert kinds(actions) == [PullCreate]
    assert actions[0].fields["activity_type"] == expected
    assert actions[0].fields["external"] == [Participant(a.email) for a in attendees]


def test_blank_default_type_or_filtered_type_is_not_imported():
    blank = rules(inb={"default_activity_type": ""})
    actions = run(None, LocalSide(State.ABSENT), untagged(), blank)
    assert kinds(actions) == [Skip] and "default_activity_type" in actions[0].reason
    no_appointments = rules(inb={"create_types": frozenset({MEETING})})
    actions = run(None, LocalSide(State.ABSENT), untagged(), no_appointments)
    assert kinds(actions) == [Skip] and "create_types" in actions[0].reason


@pytest.mark.parametrize("policy", ["full", "busy", "skip"])
def test_private_policy_inbound(policy):
    actions = run(
        None, LocalSide(State.ABSENT), untagged(private=True), rules(inb={"private_policy": policy})
    )
    if policy == "skip":
        assert kinds(actions) == [Skip]
    else:
        assert actions[0].fields["subject"] == ("Busy" if policy == "busy" else "Review")
        assert actions[0].fields["private"]


def test_remote_change_is_pulled_and_remote_deletion_deletes_unless_filtered():
    m = make_meeting()
    changed = RemoteSide(State.CHANGED, make_event(subject="New", etag="e2"))
    actions = run(link_for(m), LocalSide(State.UNCHANGED, m), changed)
    assert kinds(actions) == [PullUpdate] and actions[0].fields["subject"] == "New"
    assert "external" not in actions[0].fields  # participants are never touched by updates
    gone = RemoteSide(State.DELETED)
    assert kinds(run(link_for(m), LocalSide(State.UNCHANGED, m), gone)) == [PullDelete, DropLink]
    filtered = rules(inb={"sync_types": frozenset()})
    assert kinds(run(link_for(m), LocalSide(State.UNCHANGED, m), gone, filtered)) == [DropLink]
    old = make_meeting(start=NOW - 90 * DAY, end=NOW - 90 * DAY + HOUR)
    actions = run(link_for(old), LocalSide(State.UNCHANGED, old), gone)  # mailbox retention
    assert kinds(actions) == [DropLink] and "window" in actions[0].reason


def test_busy_text_never_overwrites_real_text_either_way():
    m = make_meeting(private=True)  # pushed busy-only: the calendar holds "Busy"
    busy_copy = meeting_to_remote(m, private_policy="busy")
    moved = replace(
        busy_copy, remote_id="r1", etag="e2", start=NOW + 2 * DAY, end=NOW + 2 * DAY + HOUR
    )
    sync_rules = rules(out={"private_policy": "busy"})
    actions = run(
        link_for(m), LocalSide(State.UNCHANGED, m), RemoteSide(State.CHANGED, moved), sync_rules
    )
    assert kinds(actions) == [PullUpdate]
    assert "subject" not in actions[0].fields and actions[0].fields["start"] == NOW + 2 * DAY
    # A calendar event imported busy-only: the CRM's "Busy" must not replace the real text.
    imported = make_meeting(private=True, subject="Busy", location="", description="")
    real = make_event(private=True, subject="Dentist")
    link = Link("m1", "r1", "e1", real.content_hash())
    moved_meeting = replace(imported, start=NOW + 3 * DAY, end=NOW + 3 * DAY + HOUR)
    actions = run(link, LocalSide(State.CHANGED, moved_meeting), RemoteSide(State.UNCHANGED, real))
    assert kinds(actions) == [PushUpdate] and actions[0].event.subject == "Dentist"


# --- echoes, invites, lost links ---------------------------------------------------------


def test_echoes_are_ignored():
    m = make_meeting()
    echo = RemoteSide(State.CHANGED, meeting_to_remote(m, private_policy="full"))
    echo = RemoteSide(State.CHANGED, replace(echo.event, remote_id="r1", etag="e1"))
    assert kinds(run(link_for(m), LocalSide(State.UNCHANGED, m), echo)) == [Skip]
    moved_etag = RemoteSide(State.CHANGED, replace(echo.event, etag="e2"))
    actions = run(link_for(m), LocalSide(State.UNCHANGED, m), moved_etag)
    assert kinds(actions) == [RecordLink] and actions[0].etag == "e2"
    own_write = LocalSide(State.CHANGED, make_meeting(subject="Pulled"), origin=ORIGIN)
    assert kinds(run(link_for(m), own_write, UNCHANGED_REMOTE)) == [Skip]


def test_invite_copies_are_never_pulled_by_tag_or_by_id():
    for remote in (
        RemoteSide(State.CREATED, make_event(is_invite_copy=True, remote_id="inv")),
        RemoteSide(
            State.CREATED, make_event(crm_meeting_id=None, remote_id="inv"), known_invite=True
        ),
    ):
        actions = run(None, LocalSide(State.ABSENT), remote)
        assert kinds(actions) == [Skip] and "invite" in actions[0].reason
    bad_link = Link("m1", "inv", "e1", "x")
    remote = RemoteSide(State.CHANGED, make_event(is_invite_copy=True, remote_id="inv"))
    actions = run(bad_link, CHANGED_LOCAL, remote)
    assert kinds(actions) == [DropLink, PushCreate]


def test_lost_link_is_recorded_never_pulled_as_new():
    m = make_meeting()
    copy = replace(meeting_to_remote(m, private_policy="full"), remote_id="r1", etag="e1")
    actions = run(None, LocalSide(State.UNCHANGED, m), RemoteSide(State.CHANGED, copy))
    assert kinds(actions) == [RecordLink]
    edited = RemoteSide(State.CHANGED, replace(copy, subject="Edited"))
    assert kinds(run(None, LocalSide(State.UNCHANGED, m), edited)) == [RecordLink, PushUpdate]
    cal_wins = rules("calendar-wins")
    assert kinds(run(None, LocalSide(State.UNCHANGED, m), edited, cal_wins)) == [
        RecordLink,
        PullUpdate,
    ]
    actions = run(None, LocalSide(State.ABSENT), edited)
    assert kinds(actions) == [Skip] and "never pulled" in actions[0].reason
    assert kinds(run(None, LocalSide(State.DELETED), edited)) == [PushDelete]


def test_new_meeting_with_a_copy_found_by_tag_is_linked_not_created():
    m = make_meeting()
    found = RemoteSide(
        State.UNCHANGED, replace(meeting_to_remote(m, private_policy="full"), remote_id="r1")
    )
    assert kinds(run(None, LocalSide(State.CREATED, m), found)) == [RecordLink]


def test_a_tagged_event_under_a_new_id_is_re_linked_not_skipped():
    """EWS ConvertId, a move, Graph without immutable ids: our copy is listed under another
    id than its link's, still carrying the tag. The link follows it."""
    m = make_meeting()
    link = link_for(m)
    moved = replace(meeting_to_remote(m, private_policy="full"), remote_id="r9", etag="e9")
    actions = run(link, LocalSide(State.UNCHANGED, m), RemoteSide(State.CHANGED, moved))
    assert kinds(actions) == [RecordLink]
    assert (actions[0].remote_id, actions[0].etag) == ("r9", "e9")
    assert actions[0].synced_hash == link.synced_hash and "re-linked" in actions[0].reason
    edited = replace(moved, subject="Edited in the calendar")
    actions = run(link, LocalSide(State.UNCHANGED, m), RemoteSide(State.CHANGED, edited))
    assert kinds(actions) == [RecordLink, PullUpdate]
    assert actions[1].remote_id == "r9" and actions[1].fields["subject"] == edited.subject
    local = LocalSide(State.CHANGED, replace(m, subject="Edited in the CRM"), modified_at=NOW)
    actions = run(link, local, RemoteSide(State.CHANGED, moved))
    assert kinds(actions) == [RecordLink, PushUpdate]
    assert actions[1].remote_id == "r9" and actions[1].etag == "e9"


def test_an_event_under_a_new_id_with_another_tag_is_not_re_linked():
    m = make_meeting()
    other = replace(meeting_to_remote(m, private_policy="full"), remote_id="r9", crm_meeting_id="x")
    actions = run(link_for(m), LocalSide(State.UNCHANGED, m), RemoteSide(State.CHANGED, other))
    assert kinds(actions) == [Skip] and "not the linked" in actions[0].reason


def test_this_bindings_own_writes_are_never_pushed_back():
    """Echo skipping lives in plan() alone: a change (or a deletion) the store holds with
    this binding's origin is our own pull coming back."""
    m = make_meeting()
    own = LocalSide(State.CHANGED, m, modified_at=NOW, origin=ORIGIN)
    assert kinds(run(link_for(m), own, UNCHANGED_REMOTE)) == [Skip]
    assert kinds(run(None, own, NO_REMOTE)) == [Skip]
    own_delete = LocalSide(State.DELETED, modified_at=NOW, origin=ORIGIN)
    assert kinds(run(link_for(m), own_delete, UNCHANGED_REMOTE)) == [Skip]
    crm_delete = LocalSide(State.DELETED, modified_at=NOW, origin="crm")
    assert kinds(run(link_for(m), crm_delete, UNCHANGED_REMOTE)) == [PushDelete, DropLink]


def test_a_remote_side_says_deleted_with_a_deleted_and_only_then():
    with pytest.raises(ValueError):
        RemoteSide(State.DELETED, make_event())
    with pytest.raises(ValueError):
        RemoteSide(State.CHANGED, Deleted("r1"))
    assert RemoteSide(State.DELETED, Deleted("r1")).event == Deleted("r1")


# --- conflicts ---------------------------------------------------------------------------


def both_changed(policy, local_at, remote_at, **rule_kw):
    m = make_meeting(subject="CRM edit")
    local = LocalSide(State.CHANGED, m, modified_at=local_at)
    remote = RemoteSide(State.CHANGED, make_event(subject="Calendar edit", updated=remote_at))
    return run(link_for(make_meeting()), local, remote, rules(policy, **rule_kw))


@pytest.mark.parametrize(
    ("policy", "local_at", "remote_at", "winner"),
    [
        ("crm-wins", NOW, NOW + HOUR, PushUpdate),
        ("calendar-wins", NOW + HOUR, NOW, PullUpdate),
        ("newest", NOW, NOW + HOUR, PullUpdate),
        ("newest", NOW + HOUR, NOW, PushUpdate),
        ("newest", NOW, NOW, PushUpdate),  # tie: the CRM wins
        ("newest", None, NOW, PushUpdate),  # unknown time: the CRM wins
    ],
)
def test_conflict_policies(policy, local_at, remote_at, winner):
    assert kinds(both_changed(policy, local_at, remote_at)) == [winner]


def test_only_the_direction_that_syncs_can_win():
    actions = both_changed("calendar-wins", NOW, NOW, inb={"sync_types": frozenset()})
    assert kinds(actions) == [PushUpdate]


def test_both_sides_changed_alike_just_record_the_link():
    m = make_meeting(subject="Same")
    remote = RemoteSide(State.CHANGED, make_event(subject="Same", etag="e5"))
    actions = run(link_for(make_meeting()), LocalSide(State.CHANGED, m), remote)
    assert kinds(actions) == [RecordLink] and actions[0].etag == "e5"


@pytest.mark.parametrize(
    ("policy", "deleted_at", "edited_at", "expected"),
    [
        ("crm-wins", NOW, NOW + HOUR, [PushDelete, DropLink]),
        ("calendar-wins", NOW + HOUR, NOW, [PullCreate]),
        ("newest", NOW, NOW + HOUR, [PullCreate]),  # the later edit restores the meeting
        ("newest", NOW + HOUR, NOW, [PushDelete, DropLink]),
        ("newest", NOW, NOW, [PushDelete, DropLink]),
    ],
)
def test_crm_deletion_against_calendar_modification(policy, deleted_at, edited_at, expected):
    local = LocalSide(State.DELETED, make_meeting(), modified_at=deleted_at)
    remote = RemoteSide(State.CHANGED, make_event(subject="Edited", updated=edited_at))
    actions = run(link_for(make_meeting()), local, remote, rules(policy))
    assert kinds(actions) == expected
    if expected == [PullCreate]:
        assert actions[0].uid == "m1" and actions[0].fields["activity_type"] == APPOINTMENT


@pytest.mark.parametrize(
    ("policy", "edited_at", "deleted_at", "expected"),
    [
        ("crm-wins", NOW, NOW + HOUR, [DropLink, PushCreate]),
        ("calendar-wins", NOW + HOUR, NOW, [PullDelete, DropLink]),
        ("newest", NOW, NOW + HOUR, [PullDelete, DropLink]),
        ("newest", NOW + HOUR, NOW, [DropLink, PushCreate]),
        ("newest", NOW, NOW, [DropLink, PushCreate]),
    ],
)
def test_crm_modification_against_calendar_deletion(policy, edited_at, deleted_at, expected):
    local = LocalSide(State.CHANGED, make_meeting(subject="Edited"), modified_at=edited_at)
    remote = RemoteSide(State.DELETED, Deleted("r1", deleted_at))
    actions = run(link_for(make_meeting()), local, remote, rules(policy))
    assert kinds(actions) == expected
    if PushCreate in expected:
        assert actions[1].idempotency_key not in ("m1", "")  # never the deleted copy's key


@pytest.mark.parametrize(
    ("edited_at", "expected"),
    [
        (NOW - HOUR, [PullDelete, DropLink]),  # edited before the pull saw the deletion
        (NOW + HOUR, [DropLink, PushCreate]),  # edited after it (a later plan of the same)
        (None, [DropLink, PushCreate]),  # an edit of unknown time: the CRM wins, as ever
    ],
)
def test_a_remote_deletion_without_a_time_is_dated_when_the_pull_saw_it(edited_at, expected):
    """Google guarantees only the id of a deleted event: under newest, the deletion counts
    as made at ``now``, the time the pull saw it (plan's ``now``)."""
    local = LocalSide(State.CHANGED, make_meeting(subject="Edited"), modified_at=edited_at)
    for remote in (
        RemoteSide(State.DELETED, Deleted("r1")),
        RemoteSide(State.DELETED),
        RemoteSide(State.ABSENT),
    ):
        actions = run(link_for(make_meeting()), local, remote, rules("newest"))
        assert kinds(actions) == expected, remote


@pytest.mark.parametrize(
    ("deleted_at", "expected"),
    [
        (NOW - 2 * HOUR, [PullCreate]),  # the calendar edit (NOW - HOUR) is later: restored
        (NOW - HOUR, [PushDelete, DropLink]),  # same time: the CRM wins
        (NOW, [PushDelete, DropLink]),  # the CRM deletion is later
    ],
)
def test_a_crm_deletion_is_decided_by_its_time(deleted_at, expected):
    """The engine gives plan() the time a meeting was deleted (the change log's ``at``)."""
    local = LocalSide(State.DELETED, None, modified_at=deleted_at)
    remote = RemoteSide(State.CHANGED, make_event(subject="Edited", updated=NOW - HOUR))
    assert kinds(run(link_for(make_meeting()), local, remote, rules("newest"))) == expected


def test_deleted_on_both_sides_drops_the_link():
    local = LocalSide(State.DELETED)
    assert kinds(run(link_for(make_meeting()), local, RemoteSide(State.DELETED))) == [DropLink]


# --- mapping and hashing -----------------------------------------------------------------


def test_content_hash_compares_only_synced_fields():
    e = make_event()
    same = replace(e, remote_id="x", etag="y", updated=NOW, attendees=(RemoteAttendee("a@b.c"),))
    assert e.content_hash() == same.content_hash()
    assert e.content_hash() != replace(e, subject="Other").content_hash()
    assert e.content_hash() != replace(e, busy=BusyStatus.FREE).content_hash()
    a = replace(
        e, recurrence=("RRULE:FREQ=WEEKLY;BYDAY=MO", "EXDATE:20260309T120000Z,20260316T120000Z")
    )
    b = replace(
        e,
        recurrence=(
            "EXDATE:20260316T120000Z",
            "rrule:BYDAY=MO;FREQ=WEEKLY",
            "EXDATE:20260309T120000Z",
        ),
    )
    assert a.content_hash() == b.content_hash()
    day = replace(
        e,
        all_day=True,
        start=datetime(2026, 3, 3, tzinfo=UTC),
        end=datetime(2026, 3, 4, tzinfo=UTC),
    )
    assert day.content_hash() == replace(day, timezone="Europe/Berlin").content_hash()


def test_mapping_round_trip_keeps_content_and_recurrence():
    m = make_meeting(
        recurrence=Recurrence(rrule="FREQ=DAILY;COUNT=5", exdates=[NOW + 2 * DAY]),
        busy=BusyStatus.OUT_OF_OFFICE,
    )
    event = meeting_to_remote(m, private_policy="full")
    fields = inbound_fields(event, private_policy="full", create=False)
    assert fields["recurrence"] == Recurrence(rrule="COUNT=5;FREQ=DAILY", exdates=[NOW + 2 * DAY])
    assert fields["busy"] is BusyStatus.OUT_OF_OFFICE and "external" not in fields
    assert inbound_fields(make_event(private=True), private_policy="skip", create=True) is None


def test_series_span():
    assert series_span(NOW, NOW + HOUR) == (NOW, NOW + HOUR)
    assert series_span(NOW, NOW + HOUR, ("RRULE:FREQ=DAILY",)) == (NOW, None)
    assert series_span(NOW, NOW + HOUR, ("RRULE:FREQ=DAILY;COUNT=3",)) == (
        NOW,
        NOW + 2 * DAY + HOUR,
    )
    assert series_span(NOW, NOW + HOUR, ("RDATE:20260101T120000Z",))[0] == datetime(
        2026, 1, 1, 12, tzinfo=UTC
    )


def test_sides_reject_inconsistent_inputs():
    with pytest.raises(ValueError):
        LocalSide(State.CHANGED)
    with pytest.raises(ValueError):
        RemoteSide(State.ABSENT, make_event())


# --- properties over every combination ---------------------------------------------------

OFFSETS = [-90, -45, -1, 0, 1, 10, 200, 400]  # days from NOW
TIMES = st.sampled_from([None, NOW - HOUR, NOW, NOW + HOUR])
RECURRENCES = [None, "FREQ=WEEKLY", "FREQ=WEEKLY;COUNT=5", "FREQ=DAILY;UNTIL=20260101T000000Z"]
type_sets = st.one_of(st.just(frozenset(TYPES)), st.frozensets(st.sampled_from(TYPES)))
rarely = st.sampled_from([False, False, False, True])


@st.composite
def meetings(draw) -> Meeting:
    start = NOW + draw(st.sampled_from(OFFSETS)) * DAY
    rule = draw(st.sampled_from(RECURRENCES))
    redacted = draw(st.booleans())
    return make_meeting(
        start=start,
        end=start + HOUR,
        activity_type=draw(st.sampled_from(TYPES)),
        private=draw(st.booleans()),
        recurrence=Recurrence(rrule=rule) if rule else None,
        subject="Busy" if redacted else draw(st.sampled_from(["Review", "Plan"])),
        location="" if redacted else "Room 1",
        description="" if redacted else "Agenda",
    )


@st.composite
def events(draw) -> RemoteEvent:
    start = NOW + draw(st.sampled_from(OFFSETS)) * DAY
    attendees = (RemoteAttendee("guest@example.org"),) if draw(st.booleans()) else ()
    return make_event(
        remote_id=draw(st.sampled_from(["r1", "r1", "r1", "r2"])),
        etag=draw(st.sampled_from(["e1", "e2"])),
        start=start,
        end=start + HOUR,
        crm_meeting_id=draw(st.sampled_from([None, "m1", "m1", "other"])),
        is_invite_copy=draw(rarely),
        subject=draw(st.sampled_from(["Review", "Plan", "Busy"])),
        private=draw(st.booleans()),
        attendees=attendees,
        updated=draw(TIMES),
        recurrence=draw(st.sampled_from([(), ("RRULE:FREQ=WEEKLY",)])),
    )


@st.composite
def direction_rules(draw) -> DirectionRules:
    return DirectionRules(
        history_days=draw(st.sampled_from([0, 30, 60, 60])),
        forward_days=draw(st.sampled_from([0, 30, 365, 365])),
        create_types=draw(type_sets),
        sync_types=draw(type_sets),
        default_activity_type=draw(st.sampled_from(["", APPOINTMENT, APPOINTMENT, "call"])),
        private_policy=draw(st.sampled_from(["full", "busy", "skip"])),
    )


@st.composite
def scenarios(draw):
    sync_rules = SyncRules(
        draw(direction_rules()),
        draw(direction_rules()),
        draw(st.sampled_from(["crm-wins", "calendar-wins", "newest"])),
    )
    m, ev = draw(meetings()), draw(events())
    lstate, rstate = draw(st.sampled_from(list(State))), draw(st.sampled_from(list(State)))
    has_meeting = lstate in (State.CREATED, State.CHANGED) or (
        lstate is not State.ABSENT and draw(st.booleans())
    )
    local = LocalSide(
        lstate,
        m if has_meeting else None,
        modified_at=draw(TIMES),
        origin=draw(st.sampled_from([ORIGIN, "caldav:alice", ""])),
    )
    has_event = rstate in (State.CREATED, State.CHANGED) or (
        rstate is not State.ABSENT and draw(st.booleans())
    )
    change = Deleted(ev.remote_id, ev.updated) if rstate is State.DELETED else ev
    remote = RemoteSide(rstate, change if has_event else None, known_invite=draw(rarely))
    link = None
    if draw(st.booleans()):
        synced = draw(st.sampled_from([None, "stale", "event", "meeting"]))
        if synced == "event":
            synced = ev.content_hash()
        elif synced == "meeting":
            synced = out_hash(m, "full")
        link = Link("m1", "r1", draw(st.sampled_from(["e1", "e2"])), synced)
    return link, local, remote, sync_rules


def is_invite(remote: RemoteSide) -> bool:
    ev = remote.event
    return remote.known_invite or (isinstance(ev, RemoteEvent) and ev.is_invite_copy)


PROPERTY = settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(scenarios())
def test_every_combination_is_decided_deterministically_with_reasons(case):
    link, local, remote, sync_rules = case
    actions = plan(link, local, remote, sync_rules, NOW, origin=ORIGIN)
    assert actions, "at least one action, possibly Skip"
    assert all(isinstance(a.reason, str) and a.reason for a in actions)
    assert actions == plan(link, local, remote, sync_rules, NOW, origin=ORIGIN)
    assert not (
        any(isinstance(a, PUSHES) for a in actions) and any(isinstance(a, PULLS) for a in actions)
    )
    if Skip in kinds(actions):  # a Skip explains why nothing else happened
        assert all(isinstance(a, (Skip, RecordLink, DropLink)) for a in actions)


@PROPERTY
@given(scenarios())
def test_no_duplicates_and_no_invite_copy_pulled(case):
    link, local, remote, sync_rules = case
    actions = plan(link, local, remote, sync_rules, NOW, origin=ORIGIN)
    for index, action in enumerate(actions):
        if isinstance(action, PushCreate):  # never a second copy beside a live link
            assert link is None or DropLink in kinds(actions[:index])
            assert not (
                link is None
                and isinstance(remote.event, RemoteEvent)
                and remote.event.crm_meeting_id == action.meeting_uid
                and remote.state is not State.DELETED
                and not is_invite(remote)
            )
        if isinstance(action, PullCreate) and action.uid is None:
            assert remote.event is not None and remote.event.crm_meeting_id is None
        if is_invite(remote) and remote.event is not None:
            if isinstance(action, (PullCreate, PullUpdate, RecordLink)):
                assert action.remote_id != remote.event.remote_id


@PROPERTY
@given(scenarios())
def test_pushes_carry_no_attendees_no_crm_only_fields_and_honour_filters(case):
    link, local, remote, sync_rules = case
    out = sync_rules.crm_to_calendar
    for action in plan(link, local, remote, sync_rules, NOW, origin=ORIGIN):
        if not isinstance(action, (PushCreate, PushUpdate)):
            continue
        m, event = local.meeting, action.event
        assert m is not None and event.attendees == () and NOTE not in repr(event)
        assert event.crm_meeting_id == m.uid
        if m.private:
            assert out.private_policy != "skip"
            if out.private_policy == "busy" and event.subject != "Busy":
                assert remote.event is not None and event.subject == remote.event.subject
        invite_link = link is not None and is_invite(remote)
        if isinstance(action, PushUpdate) or (link is not None and not invite_link):
            assert m.activity_type in out.sync_types  # a change (or a re-create) of a synced one
        else:
            assert m.activity_type in out.create_types


@PROPERTY
@given(scenarios())
def test_pulls_honour_filters_and_private_policy(case):
    link, local, remote, sync_rules = case
    inbound = sync_rules.calendar_to_crm
    for action in plan(link, local, remote, sync_rules, NOW, origin=ORIGIN):
        if isinstance(action, (PullCreate, PullUpdate)):
            ev = remote.event
            assert ev is not None and not ev.is_invite_copy and not remote.known_invite
            assert not (ev.private and inbound.private_policy == "skip")
            if ev.private and inbound.private_policy == "busy":
                assert action.fields.get("subject", "Busy") == "Busy"
        if isinstance(action, PullCreate) and action.uid is None:
            assert inbound.default_activity_type
            assert action.fields["activity_type"] in inbound.create_types


def echo_free(link, local, remote) -> bool:
    """True when neither side brings a change of its own."""
    local_quiet = local.state is State.UNCHANGED or (
        local.state in (State.CREATED, State.CHANGED) and local.origin == ORIGIN
    )
    ev = remote.event
    remote_quiet = remote.state is State.UNCHANGED or (
        remote.state in (State.CREATED, State.CHANGED)
        and ev.content_hash() == link.synced_hash
        and ev.remote_id == link.remote_id
    )
    return local_quiet and remote_quiet and not is_invite(remote)


@PROPERTY
@given(scenarios())
def test_an_echo_yields_no_effect(case):
    link, local, remote, sync_rules = case
    if link is None or not echo_free(link, local, remote):
        return
    actions = plan(link, local, remote, sync_rules, NOW, origin=ORIGIN)
    assert all(isinstance(a, (Skip, RecordLink)) for a in actions)


@PROPERTY
@given(scenarios())
def test_conflict_policy_decides_when_both_sides_changed(case):
    link, local, remote, sync_rules = case
    ev, m = remote.event, local.meeting
    if (
        link is None
        or local.state is not State.CHANGED
        or local.origin == ORIGIN
        or remote.state is not State.CHANGED
        or is_invite(remote)
        or ev.remote_id != link.remote_id
        or ev.content_hash() == link.synced_hash
    ):
        return
    actions = plan(link, local, remote, sync_rules, NOW, origin=ORIGIN)
    out_ok = sync_rules.outbound_refusal("sync", m, ev, NOW) is None
    in_ok = sync_rules.inbound_refusal("sync", m, ev, NOW) is None
    if out_ok and in_ok:
        if sync_rules.conflict_policy == "crm-wins":
            assert not any(isinstance(a, PULLS) for a in actions)
        if sync_rules.conflict_policy == "calendar-wins":
            assert not any(isinstance(a, PUSHES) for a in actions)
    if not out_ok:
        assert not any(isinstance(a, PUSHES) for a in actions)
    if not in_ok:
        assert not any(isinstance(a, PULLS) for a in actions)


@PROPERTY
@given(
    st.sampled_from([NOW - 2 * HOUR, NOW - HOUR, NOW, NOW + HOUR]),
    st.sampled_from([None, NOW - 2 * HOUR, NOW - HOUR, NOW]),
    st.sampled_from([None, NOW - HOUR, NOW, NOW + HOUR]),
    st.booleans(),
)
def test_newest_dates_a_remote_deletion_by_its_time_else_when_it_was_seen(
    edited_at, updated, seen_at, with_event
):
    """A CRM edit against a remote deletion under newest: the deletion's time is the
    event's ``updated``, else when the pull saw it (``seen_at``, else now); the later side
    wins, a tie goes to the CRM."""
    local = LocalSide(State.CHANGED, make_meeting(subject="Edited"), modified_at=edited_at)
    event = Deleted("r1", updated) if with_event else None
    remote = RemoteSide(State.DELETED, event, seen_at=seen_at)
    actions = run(link_for(make_meeting()), local, remote, rules("newest"))
    deleted_at = (updated if with_event else None) or seen_at or NOW
    if deleted_at > edited_at:
        assert kinds(actions) == [PullDelete, DropLink]
    else:
        assert kinds(actions) == [DropLink, PushCreate]
        assert actions[1].idempotency_key != "m1"


# -- failures: one event or the whole binding (bridge.sync.plan_faults) --------------------

FAILURE_EXAMPLES = [
    (Rejected("HTTP 400 invalid"), Failure.REJECTED),
    (Rejected("HTTP 403 forbiddenForNonOrganizer"), Failure.REJECTED),
    (ICalError("RECURRENCE-ID 20261110T090000Z is not an occurrence of the rule"), Failure.REFUSED),
    (TooLongLike("subject too long"), Failure.REFUSED),
    (PreconditionFailed("HTTP 412"), Failure.RACE),
    (NotFound("HTTP 404"), Failure.GONE),
    (BackendError("HTTP 503 backendError"), Failure.TRANSIENT),
    (BackendError("HTTP 429 rateLimitExceeded"), Failure.TRANSIENT),
    (BackendError("timed out"), Failure.TRANSIENT),
    (ResyncRequired("HTTP 410"), Failure.TRANSIENT),
]


@pytest.mark.parametrize(("error", "failure"), FAILURE_EXAMPLES)
def test_each_failure_has_its_kind(error, failure):
    assert failure_of(error) is failure


def test_an_unexpected_exception_is_no_sync_failure():
    assert failure_of(KeyError("x")) is None
    assert failure_of(ValueError("a bug, not a refusal")) is None


def test_the_decision_per_kind():
    assert isinstance(on_failure(Failure.TRANSIENT, 0, "503"), BackOff)
    assert isinstance(on_failure(Failure.RACE, 3, "412"), Replan)
    assert isinstance(on_failure(Failure.GONE, 0, "404"), Replan)
    first = on_failure(Failure.REJECTED, 0, "HTTP 403")
    assert first == Quarantine("rejected: HTTP 403", 1, 0.0, "crm")  # tried next round
    assert on_failure(Failure.REFUSED, 0, "x").held == "calendar"  # the pull waits
    second = on_failure(Failure.REFUSED, 1, "bad override")
    assert isinstance(second, Quarantine) and second.attempts == 2
    assert second.retry_in == RETRY_BASE_SECONDS


@PROPERTY
@given(st.sampled_from(list(Failure)), st.integers(min_value=0, max_value=10_000))
def test_only_an_events_own_fault_quarantines_it_and_backoff_grows(failure, before):
    decision = on_failure(failure, before, "why")
    assert decision.reason.endswith("why")
    if failure in (Failure.REJECTED, Failure.REFUSED):
        assert isinstance(decision, Quarantine)
        assert decision.attempts == before + 1
        assert 0 <= decision.retry_in <= RETRY_MAX_SECONDS
        assert decision.retry_in == retry_in(before + 1)
        assert retry_in(before + 2) >= decision.retry_in  # never sooner after a failure
    elif failure is Failure.TRANSIENT:
        assert isinstance(decision, BackOff)
    else:
        assert isinstance(decision, Replan)


@PROPERTY
@given(st.integers(min_value=1, max_value=200))
def test_retries_double_up_to_the_cap(attempts):
    delay = retry_in(attempts)
    if attempts == 1:
        assert delay == 0.0
    else:
        assert delay == min(RETRY_BASE_SECONDS * 2 ** (attempts - 2), RETRY_MAX_SECONDS)


@pytest.mark.parametrize(
    ("due", "local_changed", "echo", "now"),
    [
        (True, False, True, True),  # its time has come
        (False, True, True, True),  # the CRM changed the meeting since
        (False, False, False, True),  # the calendar changed the event since
        (False, False, True, False),  # only our own failed write shows: wait
    ],
)
def test_a_quarantined_event_is_tried_early_only_for_a_new_change(due, local_changed, echo, now):
    assert retry_now(due, local_changed, echo) is now


def test_a_pull_lists_the_union_of_both_directions_windows():
    sync_rules = rules(out={"history_days": 10, "forward_days": 30}, inb={"history_days": 60})
    window = sync_rules.window(NOW)
    assert (window.start, window.end) == (NOW - 60 * DAY, NOW + 365 * DAY)
