"""Two-way sync of alice's CRM meetings with her Google Calendar (the emulator), through
the real google-api-python-client, on SQLite and MariaDB. Invariants 1, 2, 3 and 7."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, update

from bridge.store import binding_secrets
from bridge.store import links as link_store
from bridge.store.schema import bindings, links
from tests.support.sync_world import CALENDAR, USERS, make_world


@pytest.fixture
def world(db_url, google_emulator):
    w = make_world(db_url, google_emulator)
    yield w
    w.store.dispose()


def _tag(event: dict) -> str | None:
    return event.get("extendedProperties", {}).get("private", {}).get("crmMeetingId")


def test_crm_meeting_reaches_google_silently_and_once(world):
    world.crm_meeting("m-1", "Quarterly review", description="Agenda", internal_notes="secret")
    report = world.round()
    assert report.pushed == 1
    events = world.google_events()
    assert len(events) == 1
    event = events[0]
    assert event["summary"] == "Quarterly review" and _tag(event) == "m-1"
    assert "attendees" not in event  # invariant 3: sync never invites anyone
    assert "secret" not in str(event)  # invariant 5: internal notes never leave
    assert all(send == "none" for _, _, send in world.google.sent_updates)
    # An idle round writes nothing.
    world.google.reset_counters()
    idle = world.round()
    assert idle.pushed == 0 and idle.pulled == 0
    for method in ("POST", "PUT", "PATCH", "DELETE"):  # (a token refresh is not a write)
        assert world.google.http_requests(method=method, path_contains="/calendar/v3") == 0
    assert world.google.http_requests(path_contains="/calendar/v3") == 1  # one list call


def test_crm_changes_and_deletion_follow(world):
    world.crm_meeting("m-2", "First title")
    world.round()
    world.crm_meeting("m-2", "Second title")
    assert world.round().pushed == 1
    assert world.google_events()[0]["summary"] == "Second title"
    from bridge.store import meetings as meeting_store

    meeting_id = world.meeting("m-2").id
    world.store.write(lambda tx: meeting_store.delete_meeting(tx, meeting_id), origin="crm")
    world.round()
    assert world.google_events() == []
    assert world.link_count() == 0


def test_event_made_in_google_comes_into_the_crm_and_gets_tagged(world):
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    made = world.google.seed(
        CALENDAR,
        {
            "summary": "Lunch with Bob",
            "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + timedelta(hours=1)).isoformat()},
            "attendees": [{"email": "bob@example.com"}, {"email": "eve@outside.example"}],
        },
    )
    report = world.round()
    assert report.pulled == 1
    uid = _tag(world.google.event(CALENDAR, made["id"]))
    assert uid, "the new meeting's id is written back onto the Google event"
    row = world.meeting(uid)
    assert row.subject == "Lunch with Bob"
    assert world.store.read(lambda c: link_store.by_meeting(c, world.binding_id, uid)) is not None
    # Bob (a CRM user) became an internal participant: the meeting is in his calendar too.
    from bridge.meeting_service import load_meeting

    meeting = world.store.read(lambda c: load_meeting(c, world.meeting(uid)))
    assert meeting.internal_users == ["bob"]
    assert [p.email for p in meeting.external] == ["eve@outside.example"]
    assert all(send == "none" for _, _, send in world.google.sent_updates)

    # Changed in Google: the CRM follows. The tag write and our own pull are echoes.
    world.google.edit(CALENDAR, made["id"], summary="Lunch with Bob (moved)")
    world.round()
    assert world.meeting(uid).subject == "Lunch with Bob (moved)"
    quiet = world.round()
    assert quiet.pulled == 0 and quiet.pushed == 0

    # Deleted in Google by its organiser: deleted in the CRM.
    world.google.remove(CALENDAR, made["id"])
    world.round()
    assert world.meeting(uid) is None


def test_lost_sync_token_resyncs_without_duplicates(world):
    for n in range(3):
        world.crm_meeting(f"r-{n}", f"Meeting {n}")
    world.round()
    world.google.expire_sync_tokens(CALENDAR)
    report = world.round()
    assert report.resync
    assert len(world.google_events()) == 3
    assert world.meeting_count() == 3


def test_re_pairing_a_binding_makes_no_duplicates(world):
    for n in range(3):
        world.crm_meeting(f"p-{n}", f"Meeting {n}")
    world.round()

    def forget(tx):  # a new pairing: no links, no cursors
        tx.conn.execute(delete(links))
        tx.conn.execute(update(bindings).values(remote_cursor=None, outbound_seq=0))

    world.store.write(forget)
    world.round()
    assert len(world.google_events()) == 3
    assert world.meeting_count() == 3
    assert world.link_count() == 3


def test_initial_push_is_batched(world):
    for n in range(120):
        world.crm_meeting(f"b-{n:03d}", f"Batch {n}")
    world.google.reset_counters()
    report = world.round()
    assert report.pushed == 120
    assert len(world.google_events()) == 120
    assert world.link_count() == 120
    # 120 creates in batches of 50: 3 HTTP requests, plus one list call (and a token refresh).
    assert world.google.http_requests(path_contains="/batch/") == 3
    assert world.google.http_requests(method="POST", path_contains="/calendar/v3/calendars") == 0


def test_meeting_lands_once_in_each_internal_participants_calendar(db_url, google_emulator):
    """Alice and Bob both sync with Google; Carol books a meeting on Bob's behalf."""
    from bridge.store import bindings as binding_store
    from bridge.store import users as user_store
    from bridge.sync.engine import Engine

    world = make_world(db_url, google_emulator)
    try:
        bob_user = google_emulator.add_user("bob@example.com")

        def add_bob_and_carol(tx):
            user_store.sync(
                tx,
                [
                    *[user_store.UserRecord(u.login, u.email, u.display_name) for u in USERS],
                    user_store.UserRecord("carol", "carol@example.com", "Carol"),
                ],
            )
            alice = binding_store.by_login(tx.conn, "alice", "google")[0]
            settings = __import__("json").loads(alice.settings)
            binding_store.sync(
                tx,
                [binding_store.BindingRecord("bob", "google", "google", settings)],
                world.keyring,
            )
            bob = binding_store.by_login(tx.conn, "bob", "google")[0]
            binding_secrets.set_secret(
                tx, bob.id, {"refresh_token": bob_user.refresh_token}, world.keyring
            )
            return bob.id

        bob_binding = world.store.write(add_bob_and_carol)
        world.crm_meeting("shared", "Shared", organiser="alice", internal_users=["bob"])
        world.crm_meeting("behalf", "For Bob", organiser="bob", booked_by="carol")

        def bob_round():
            row = world.store.read(lambda c: binding_store.get(c, bob_binding))
            return Engine(world.store, bob_binding, world.backend_for(row), world.rules).run()

        for _ in range(2):  # twice: the second round must change nothing
            world.round()
            bob_round()
        alice_titles = sorted(e["summary"] for e in google_emulator.events("alice@example.com"))
        bob_titles = sorted(e["summary"] for e in google_emulator.events("bob@example.com"))
        assert alice_titles == ["Shared"]
        assert bob_titles == ["For Bob", "Shared"]
        for event in google_emulator.events("bob@example.com"):
            assert "attendees" not in event
    finally:
        world.store.dispose()


def _instances(world, master_id: str) -> dict[str, dict]:
    return {
        e["originalStartTime"]["dateTime"]: e
        for e in world.google.events(CALENDAR, include_cancelled=True)
        if e.get("recurringEventId") == master_id
    }


def test_recurring_series_with_moved_and_cancelled_occurrences_both_ways(world):
    from bridge.meeting_service import save_from_sync
    from bridge.model import Meeting, Override, Recurrence

    first = datetime(2027, 3, 1, 9, tzinfo=UTC)  # Mondays 09:00 UTC
    week = timedelta(days=7)
    meeting = Meeting(
        uid="series",
        start=first,
        end=first + timedelta(hours=1),
        organiser="alice",
        subject="Weekly sync",
        activity_type="meeting",
        recurrence=Recurrence(
            rrule="FREQ=WEEKLY;COUNT=6",
            exdates=[first + week],
            overrides=["2027-03-15T09:00:00+00:00"],
        ),
    )
    moved = Override(
        "2027-03-15T09:00:00+00:00",
        first + 2 * week + timedelta(hours=5),
        first + 2 * week + timedelta(hours=6),
        "Weekly sync (afternoon)",
    )
    world.store.write(
        lambda tx: save_from_sync(
            tx, meeting, href="series.ics", horizon_days=800, max_occurrences=500, overrides=[moved]
        ),
        origin="crm",
    )
    world.round()
    masters = [e for e in world.google_events() if not e.get("recurringEventId")]
    assert len(masters) == 1
    master = masters[0]
    assert any(line.startswith("RRULE:") for line in master["recurrence"])
    assert any("EXDATE" in line and "20270308" in line for line in master["recurrence"])
    instance = _instances(world, master["id"])["2027-03-15T09:00:00Z"]
    assert instance["start"]["dateTime"].startswith("2027-03-15T14:00:00")
    assert instance["summary"] == "Weekly sync (afternoon)"
    assert world.round().pushed == 0  # the series round-trips as an echo

    # In Google: the fourth occurrence moves to Tuesday, the fifth is cancelled.
    fourth = f"{master['id']}_20270322T090000Z"
    world.google.edit(
        CALENDAR,
        fourth,
        start={"dateTime": "2027-03-23T10:00:00Z"},
        end={"dateTime": "2027-03-23T11:00:00Z"},
    )
    world.google.edit(CALENDAR, f"{master['id']}_20270329T090000Z", status="cancelled")
    assert world.round().pulled == 1

    from bridge.store import collections as collection_store
    from bridge.store import items as item_store
    from bridge.store import users as user_store

    def occurrences_on(day: datetime) -> list[str]:
        start = int(day.timestamp())
        path = user_store.meetings_path("alice")
        cid = world.store.read(lambda c: collection_store.by_path(c, path)).id
        found = world.store.read(lambda c: item_store.in_range(c, cid, start, start + 86400))
        return [row.uid for row, _ in found]

    assert occurrences_on(datetime(2027, 3, 22, tzinfo=UTC)) == []  # moved away
    assert occurrences_on(datetime(2027, 3, 23, tzinfo=UTC)) == ["series"]  # to Tuesday
    assert occurrences_on(datetime(2027, 3, 29, tzinfo=UTC)) == []  # cancelled
    assert occurrences_on(datetime(2027, 3, 15, tzinfo=UTC)) == ["series"]  # still moved
    assert occurrences_on(datetime(2027, 3, 8, tzinfo=UTC)) == []  # still excluded
    quiet = world.round()
    assert quiet.pulled == 0 and quiet.pushed == 0


@pytest.mark.parametrize(
    ("policy", "winner"), [("crm-wins", "CRM title"), ("calendar-wins", "Google title")]
)
def test_both_sides_changed_follows_the_conflict_policy(db_url, google_emulator, policy, winner):
    from bridge.sync.rules import SyncRules

    world = make_world(db_url, google_emulator, SyncRules(conflict_policy=policy))
    try:
        world.crm_meeting("c-1", "Original")
        world.round()
        remote_id = world.google_events()[0]["id"]
        world.google.edit(CALENDAR, remote_id, summary="Google title")
        world.crm_meeting("c-1", "CRM title")
        world.round()
        world.round()  # settles: the loser's copy is overwritten, then all is an echo
        assert world.google_events()[0]["summary"] == winner
        assert world.meeting("c-1").subject == winner
        quiet = world.round()
        assert quiet.pulled == 0 and quiet.pushed == 0
    finally:
        world.store.dispose()


def test_all_day_and_multi_day_meetings(world):
    from bridge.model import BusyStatus

    day = datetime(2027, 1, 11, tzinfo=UTC)
    world.crm_meeting(
        "trip",
        "Trade fair",
        start=day,
        end=day + timedelta(days=3),
        all_day=True,
        busy=BusyStatus.FREE,
    )
    world.round()
    event = world.google_events()[0]
    assert event["start"] == {"date": "2027-01-11"} and event["end"] == {"date": "2027-01-14"}
    assert event.get("transparency") == "transparent"
    assert world.round().pulled == 0


def test_remote_edit_between_pull_and_push_is_a_412_then_resolved(world):
    """Google changes the event after the round listed it: the push's If-Match fails (412),
    nothing is lost, and the next round applies the conflict policy (crm-wins)."""
    from bridge.sync.engine import Engine

    world.crm_meeting("race", "Original")
    world.round()
    remote_id = world.google_events()[0]["id"]
    world.crm_meeting("race", "CRM edit")

    class EditAfterList:
        def __init__(self, backend):
            self.backend = backend

        def __getattr__(self, name):
            return getattr(self.backend, name)

        def list_changes(self, cursor, window):
            found = list(self.backend.list_changes(cursor, window))  # every page listed
            world.google.edit(CALENDAR, remote_id, summary="Google edit")
            return iter(found)

    racing = Engine(world.store, world.binding_id, EditAfterList(world.backend()), world.rules)
    report = racing.run()
    assert any("changed remotely" in e for e in report.errors)
    assert world.google_events()[0]["summary"] == "Google edit"  # our stale write was refused
    world.round()
    world.round()
    assert world.google_events()[0]["summary"] == "CRM edit"
    assert world.meeting("race").subject == "CRM edit"


def test_google_edit_keeps_what_the_phone_stored(world):
    """A meeting made on a phone (alarm, categories, attendee answers) is edited in Google:
    the CRM takes the new title and keeps everything else the phone put there."""
    from bridge import ical
    from bridge.meeting_service import save_from_caldav
    from bridge.store import collections as collection_store
    from bridge.store.items import event_index

    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//phone//EN\r\nBEGIN:VEVENT\r\n"
        "UID:phone-2\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20270105T100000Z\r\n"
        "DTEND:20270105T110000Z\r\nSUMMARY:From the phone\r\nCATEGORIES:Sales\r\n"
        "ORGANIZER:mailto:alice@example.com\r\n"
        "ATTENDEE;PARTSTAT=ACCEPTED;CN=Eve:mailto:eve@outside.example\r\n"
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Soon\r\nTRIGGER:-PT10M\r\nEND:VALARM\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    vcal = ical.parse_calendar(text)
    index = event_index(vcal, horizon_days=800, max_occurrences=100)
    calendar = world.store.read(lambda c: collection_store.by_path(c, "alice/meetings")).id
    world.store.write(
        lambda tx: save_from_caldav(
            tx,
            writer="alice",
            collection_id=calendar,
            href="phone-2.ics",
            vcal=vcal,
            text=text,
            index=index,
        ),
        origin="caldav:alice",
    )
    world.round()
    remote_id = world.google_events()[0]["id"]
    world.google.edit(CALENDAR, remote_id, summary="Renamed in Google")
    world.round()
    stored = world.meeting("phone-2").ical
    assert "SUMMARY:Renamed in Google" in stored
    assert "CATEGORIES:Sales" in stored and "BEGIN:VALARM" in stored
    assert "PARTSTAT=ACCEPTED" in stored
    quiet = world.round()
    assert quiet.pulled == 0 and quiet.pushed == 0


def test_attendee_deleting_in_google_declines_like_a_caldav_delete(world):
    """Alice is an attendee of Bob's meeting; she deletes it in her Google calendar: she
    declines (Bob keeps the meeting and sees her answer), it leaves her calendar."""
    world.crm_meeting("bobs-1", "Bob's review", organiser="bob", internal_users=["alice"])
    world.round()
    (event,) = world.google_events()
    world.google.remove(CALENDAR, event["id"])
    world.round()
    row = world.meeting("bobs-1")
    assert row is not None
    assert "PARTSTAT=DECLINED:mailto:alice@example.com" in row.ical.replace("\r\n ", "")
    from bridge.store import collections as collection_store
    from bridge.store import items as item_store

    def entries(login):
        return world.store.read(
            lambda c: [
                r.uid
                for r in item_store.all_in(c, collection_store.by_path(c, f"{login}/meetings").id)
            ]
        )

    assert entries("alice") == []
    assert entries("bob") == ["bobs-1"]


def test_attendee_editing_in_google_does_not_change_the_organisers_meeting(world):
    """Alice attends Bob's meeting; her edit in her own Google calendar stays there."""
    world.crm_meeting("bobs-2", "Bob's plan", organiser="bob", internal_users=["alice"])
    world.round()
    (event,) = world.google_events()
    world.google.edit(CALENDAR, event["id"], summary="Alice's title")
    world.round()
    assert world.meeting("bobs-2").subject == "Bob's plan"
    # Bob's next change still reaches her calendar.
    world.crm_meeting("bobs-2", "Bob's plan v2", organiser="bob", internal_users=["alice"])
    world.round()
    assert world.google_events()[0]["summary"] == "Bob's plan v2"


def test_a_new_kind_starts_a_clean_pairing_matched_by_tag(world, monkeypatch):
    """A binding moved to another kind (here one registered by the test) and back drops
    the old pairing whole (links, cursor, outbound position, credentials); the next round
    lists everything and finds the tagged copy: no duplicate, no stale link."""
    from bridge.backends import kinds
    from bridge.backends.settings_schema import KindSchema, Setting
    from bridge.store import bindings as binding_store

    monkeypatch.setattr(kinds, "_KINDS", dict(kinds._KINDS))
    kinds.register(KindSchema("othercal", {"mailbox": Setting(str, identity=True)}))
    world.crm_meeting("kind-1", "Moves with the mailbox")
    world.round()
    copy_ids = {e["id"] for e in world.google_events()}
    assert len(copy_ids) == 1 and world.link_count() == 1
    row = world.store.read(lambda c: binding_store.get(c, world.binding_id))
    settings = binding_secrets.open_settings(row, world.keyring)

    def configure(kind: str, backend: dict, *, adopt: bool) -> None:
        keys = tuple(kinds.schema_for(kind).identity(backend))
        record = binding_store.BindingRecord("alice", "google", kind, backend, {}, keys)
        world.store.write(lambda tx: binding_store.sync(tx, [record], world.keyring, adopt=adopt))

    def stored():
        return world.store.read(lambda c: binding_store.get(c, world.binding_id))

    configure("othercal", {"mailbox": "alice@example.com"}, adopt=False)  # only compared
    assert stored().kind == "google" and world.link_count() == 1

    configure("othercal", {"mailbox": "alice@example.com"}, adopt=True)
    moved = stored()
    assert moved.kind == "othercal" and world.link_count() == 0
    assert moved.remote_cursor is None and moved.outbound_seq == 0 and moved.secret is None

    configure("google", settings, adopt=True)
    assert stored().kind == "google" and stored().remote_cursor is None
    token = world.google.oauth.grant(CALENDAR)  # authorized again for the new pairing
    world.store.write(
        lambda tx: binding_secrets.set_secret(
            tx, world.binding_id, {"refresh_token": token}, world.keyring
        )
    )
    world.round()
    assert {e["id"] for e in world.google_events()} == copy_ids  # no duplicate
    link = world.store.read(lambda c: link_store.by_meeting(c, world.binding_id, "kind-1"))
    assert link is not None and link.remote_id in copy_ids  # the tagged copy, found again
    assert world.link_count() == 1 and world.meeting_count() == 1


# -- deletions carry their time (policy newest); a copy gone on update goes back to plan --
# Backend-neutral: to move to tests/contract/ with the backend seam.


def _newest_world(db_url, google_emulator):
    from bridge.sync.rules import SyncRules

    return make_world(db_url, google_emulator, SyncRules(conflict_policy="newest"))


def _delete_in_crm(world, uid: str) -> None:
    from bridge.store import meetings as meeting_store

    meeting_id = world.meeting(uid).id
    world.store.write(lambda tx: meeting_store.delete_meeting(tx, meeting_id), origin="crm")


@pytest.mark.parametrize("later", ["calendar edit", "crm deletion"])
def test_newest_weighs_a_crm_deletion_by_when_it_happened(db_url, google_emulator, later):
    """The change log dates the deletion: a later calendar edit restores the meeting, an
    earlier one loses to it (it used to lose always: the deletion had no time)."""
    import time

    world = _newest_world(db_url, google_emulator)
    try:
        world.crm_meeting("d-1", "Original")
        world.round()
        remote_id = world.google_events()[0]["id"]
        steps = [
            lambda: _delete_in_crm(world, "d-1"),
            lambda: world.google.edit(CALENDAR, remote_id, summary="Edited in Google"),
        ]
        for step in steps if later == "calendar edit" else steps[::-1]:
            step()
            time.sleep(0.05)
        world.round()
        world.round()
        if later == "calendar edit":
            assert world.meeting("d-1").subject == "Edited in Google"
            assert [e["summary"] for e in world.google_events()] == ["Edited in Google"]
        else:
            assert world.meeting("d-1") is None and world.google_events() == []
        quiet = world.round()
        assert quiet.pulled == 0 and quiet.pushed == 0
    finally:
        world.store.dispose()


class _AfterList:
    """The backend, doing ``then()`` right after the round listed the remote delta."""

    def __init__(self, backend, then):
        self.backend, self.then = backend, then

    def __getattr__(self, name):
        return getattr(self.backend, name)

    def list_changes(self, cursor, window):
        found = list(self.backend.list_changes(cursor, window))  # every page listed
        self.then()
        return iter(found)


@pytest.mark.parametrize("crm_edit", ["before the pull", "after the pull listed"])
def test_newest_dates_a_google_deletion_when_the_pull_saw_it(db_url, google_emulator, crm_edit):
    """Google's deleted events carry only their id: the deletion counts as made when the
    pull listed it. A CRM edit before that loses (the meeting is deleted); one after it
    wins (the copy is made again, under plan's re-create key)."""
    import hashlib
    import time

    from bridge.backends.google.backend import event_id_for
    from bridge.sync.engine import Engine

    world = _newest_world(db_url, google_emulator)
    try:
        world.crm_meeting("g-1", "Original")
        world.round()
        old_id = world.google_events()[0]["id"]
        if crm_edit == "before the pull":
            world.crm_meeting("g-1", "Edited in the CRM")
            time.sleep(0.05)
            world.google.remove(CALENDAR, old_id)
            world.round()
        else:
            world.google.remove(CALENDAR, old_id)
            then = lambda: world.crm_meeting("g-1", "Edited in the CRM")  # noqa: E731
            backend = _AfterList(world.backend(), then)
            Engine(world.store, world.binding_id, backend, world.rules).run()
        world.round()
        if crm_edit == "before the pull":
            assert world.meeting("g-1") is None and world.google_events() == []
        else:
            key = f"g-1/{hashlib.sha256(old_id.encode()).hexdigest()[:16]}"
            (event,) = world.google_events()
            assert event["id"] == event_id_for(key) and event["summary"] == "Edited in the CRM"
            assert world.meeting("g-1").subject == "Edited in the CRM"
        quiet = world.round()
        assert quiet.pulled == 0 and quiet.pushed == 0
    finally:
        world.store.dispose()


def test_a_copy_gone_on_update_goes_back_to_plan(world):
    """Google answers 404 to our update (the copy went after the round listed): plan
    decides again with the calendar side deleted, and under crm-wins makes the copy anew
    under its own re-create key - not under the meeting's first key, which would bring
    the deleted copy back."""
    import hashlib

    from bridge.backends.google.backend import event_id_for
    from bridge.sync.engine import Engine

    world.crm_meeting("u-1", "Original")
    world.round()
    old_id = world.google_events()[0]["id"]
    world.crm_meeting("u-1", "Edited in the CRM")

    def vanish():
        world.google.remove(CALENDAR, old_id)
        world.google.faults.error(404, "notFound", times=1, api="events.patch", path=old_id)

    Engine(world.store, world.binding_id, _AfterList(world.backend(), vanish), world.rules).run()
    key = f"u-1/{hashlib.sha256(old_id.encode()).hexdigest()[:16]}"
    (event,) = world.google_events()
    assert event["id"] == event_id_for(key) != old_id
    assert event["summary"] == "Edited in the CRM"
    assert (
        world.store.read(lambda c: link_store.by_meeting(c, world.binding_id, "u-1")).remote_id
        == (event["id"])
    )
    quiet = world.round()
    assert quiet.pulled == 0 and quiet.pushed == 0


def _seed_event(world, summary: str, **extra) -> dict:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    return world.google.seed(
        CALENDAR,
        {
            "summary": summary,
            "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + timedelta(hours=1)).isoformat()},
            **extra,
        },
    )


def test_our_own_pulls_are_never_pushed_back(world):
    """Echo skipping is plan()'s alone: the meeting a pull made (origin this binding) is in
    the change log, and the push of the next rounds writes nothing for it."""
    _seed_event(world, "Made in Google")
    assert world.round().pulled == 1
    world.google.reset_counters()
    again = world.round()
    assert again.pushed == 0 and again.pulled == 0
    for call in ("events.insert", "events.patch", "events.update", "events.delete", "batch"):
        assert world.google.calls[call] == 0, call


def test_a_tagged_event_moved_to_a_new_id_is_re_linked(world):
    """The copy disappears under its id and comes back under another with the same tag (a
    move; EWS ConvertId; Graph without immutable ids): the link follows it, the meeting
    stays, nothing is created twice. The old id's deletion is listed first."""
    world.crm_meeting("mv-1", "Moving")
    world.round()
    [old] = world.google_events()
    world.google.remove(CALENDAR, old["id"])
    keep = {k: old[k] for k in ("summary", "start", "end", "extendedProperties")}
    moved = world.google.seed(CALENDAR, {**keep, "id": "movedcopy0001"})
    report = world.round()
    assert report.pushed == 0, report
    link = world.store.read(lambda c: link_store.by_meeting(c, world.binding_id, "mv-1"))
    assert link is not None and link.remote_id == moved["id"]
    assert world.meeting("mv-1") is not None and world.link_count() == 1
    assert [e["id"] for e in world.google_events()] == [moved["id"]]
    world.google.edit(CALENDAR, moved["id"], summary="Renamed after the move")
    world.round()
    assert world.meeting("mv-1").subject == "Renamed after the move"
    world.crm_meeting("mv-1", "CRM edit after the move")
    world.round()
    assert world.google.event(CALENDAR, moved["id"])["summary"] == "CRM edit after the move"
    assert len(world.google_events()) == 1


def test_a_refused_tag_write_leaves_the_link_and_says_so(world):
    """The tag is written alone (a patch of extendedProperties.private, no notification);
    when Google refuses it (403: the user only attends the event), the meeting and its
    link stay, the event stays untagged, the round says so and nothing repeats."""
    made = _seed_event(world, "Not mine to tag")
    world.google.faults.error(403, "forbiddenForNonOrganizer", times=1, api="events.patch")
    report = world.round()
    assert report.pulled == 1
    assert any("could not tag" in e for e in report.errors), report.errors
    assert _tag(world.google.event(CALENDAR, made["id"])) is None
    assert world.link_count() == 1 and world.meeting_count() == 1
    assert world.store.read(lambda c: link_store.tag_pending(c, world.binding_id)) == []
    world.google.reset_counters()
    quiet = world.round()
    assert quiet.pulled == 0 and quiet.pushed == 0 and quiet.errors == []
    assert world.google.calls["events.patch"] == 0 and world.meeting_count() == 1


def test_the_tag_write_back_is_the_tag_alone(world):
    made = _seed_event(world, "Phone meeting", description="from the phone")
    world.google.reset_counters()
    world.round()
    assert world.google.calls["events.patch"] == 1 and world.google.calls["events.update"] == 0
    event = world.google.event(CALENDAR, made["id"])
    assert _tag(event) and event["description"] == "from the phone"
    assert all(send == "none" for _, _, send in world.google.sent_updates)


def test_the_engine_lists_with_the_window_of_the_bindings_rules(world):
    from bridge.sync.engine import Engine

    seen = []

    class Recording:
        def __init__(self, backend):
            self.backend = backend

        def __getattr__(self, name):
            return getattr(self.backend, name)

        def list_changes(self, cursor, window):
            seen.append(window)
            return self.backend.list_changes(cursor, window)

    now = datetime.now(UTC)
    Engine(world.store, world.binding_id, Recording(world.backend()), world.rules).run()
    [window] = seen
    expected = world.rules.window(now)
    assert abs((window.start - expected.start).total_seconds()) < 60
    assert abs((window.end - expected.end).total_seconds()) < 60
    assert window.start < now < window.end
