"""Two-way sync of alice's CRM meetings with her calendar, on every backend kind, on
SQLite and MariaDB. Invariants 1, 2, 3 and 7."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, update

from bridge.model import BusyStatus
from bridge.store import links as link_store
from bridge.store.schema import bindings, links


def test_crm_meeting_reaches_the_calendar_silently_and_once(contract_world, driver):
    world = contract_world
    world.crm_meeting("m-1", "Quarterly review", description="Agenda", internal_notes="secret")
    report = world.round()
    assert report.pushed == 1
    (event,) = world.events()
    assert event.subject == "Quarterly review" and event.crm_meeting_id == "m-1"
    assert not event.attendees  # invariant 3: sync never invites anyone
    assert "secret" not in repr(event)  # invariant 5: internal notes never leave
    assert driver.mailed() == []
    # An idle round writes nothing and asks the remote once.
    writes, requests = driver.write_count(), driver.request_count()
    idle = world.round()
    assert idle.pushed == 0 and idle.pulled == 0
    assert driver.write_count() == writes
    assert driver.request_count() - requests == 1  # one list call


def test_crm_changes_and_deletion_follow(contract_world):
    world = contract_world
    world.crm_meeting("m-2", "First title")
    world.round()
    world.crm_meeting("m-2", "Second title")
    assert world.round().pushed == 1
    assert world.subjects() == ["Second title"]
    world.delete_in_crm("m-2")
    world.round()
    assert world.events() == []
    assert world.link_count() == 0


def test_event_made_in_the_calendar_comes_into_the_crm_and_gets_tagged(contract_world, driver):
    world = contract_world
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    made = driver.seed(
        subject="Lunch with Bob",
        start=start,
        end=start + timedelta(hours=1),
        attendees=("bob@example.com", "eve@outside.example"),
    )
    report = world.round()
    assert report.pulled == 1
    uid = world.event("Lunch with Bob").crm_meeting_id
    assert uid, "the new meeting's id is written back onto the calendar event"
    assert world.event("Lunch with Bob").remote_id == made
    row = world.meeting(uid)
    assert row.subject == "Lunch with Bob"
    assert world.store.read(lambda c: link_store.by_meeting(c, world.binding_id, uid)) is not None
    # Bob (a CRM user) became an internal participant: the meeting is in his calendar too.
    from bridge.meeting_service import load_meeting

    meeting = world.store.read(lambda c: load_meeting(c, world.meeting(uid)))
    assert meeting.internal_users == ["bob"]
    assert [p.email for p in meeting.external] == ["eve@outside.example"]
    assert driver.mailed() == []

    # Changed in the calendar: the CRM follows. The tag write and our own pull are echoes.
    driver.edit(made, subject="Lunch with Bob (moved)")
    world.round()
    assert world.meeting(uid).subject == "Lunch with Bob (moved)"
    quiet = world.round()
    assert quiet.pulled == 0 and quiet.pushed == 0

    # Deleted in the calendar by its organiser: deleted in the CRM.
    driver.remove(made)
    world.round()
    assert world.meeting(uid) is None


def test_lost_cursor_resyncs_without_duplicates(contract_world, driver):
    world = contract_world
    for n in range(3):
        world.crm_meeting(f"r-{n}", f"Meeting {n}")
    world.round()
    driver.expire_cursor()
    report = world.round()
    assert report.resync
    assert len(world.events()) == 3
    assert world.meeting_count() == 3


def test_re_pairing_a_binding_makes_no_duplicates(contract_world):
    world = contract_world
    for n in range(3):
        world.crm_meeting(f"p-{n}", f"Meeting {n}")
    world.round()

    def forget(tx):  # a new pairing: no links, no cursors
        tx.conn.execute(delete(links))
        tx.conn.execute(update(bindings).values(remote_cursor=None, outbound_seq=0))

    world.store.write(forget)
    world.round()
    assert len(world.events()) == 3
    assert world.meeting_count() == 3
    assert world.link_count() == 3


def test_initial_push_is_one_write_per_meeting_at_most(contract_world, driver):
    """120 new meetings: 120 creates, batched where the service offers it (Google's batch
    is counted in test_google_backend), never a second write for one meeting."""
    world = contract_world
    for n in range(120):
        world.crm_meeting(f"b-{n:03d}", f"Batch {n}")
    writes, requests = driver.write_count(), driver.request_count()
    report = world.round()
    assert report.pushed == 120
    assert len(world.events()) == 120
    assert world.link_count() == 120
    assert driver.write_count() - writes == 120
    assert driver.request_count() - requests <= 121  # the creates and one list call
    assert driver.mailed() == []


def test_all_day_and_multi_day_meetings(contract_world):
    world = contract_world
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
    (event,) = world.events()
    assert event.all_day and (event.start, event.end) == (day, day + timedelta(days=3))
    assert event.busy is BusyStatus.FREE
    assert world.round().pulled == 0


def test_calendar_edit_keeps_what_the_phone_stored(contract_world, driver):
    """A meeting made on a phone (alarm, categories, attendee answers) is edited in the
    calendar: the CRM takes the new title and keeps everything else the phone put there."""
    from bridge import ical
    from bridge.meeting_service import save_from_caldav
    from bridge.store import collections as collection_store
    from bridge.store.items import event_index

    world = contract_world
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
    (event,) = world.events()
    driver.edit(event.remote_id, subject="Renamed in the calendar")
    world.round()
    stored = world.meeting("phone-2").ical
    assert "SUMMARY:Renamed in the calendar" in stored
    assert "CATEGORIES:Sales" in stored and "BEGIN:VALARM" in stored
    assert "PARTSTAT=ACCEPTED" in stored
    quiet = world.round()
    assert quiet.pulled == 0 and quiet.pushed == 0


def test_attendee_deleting_in_the_calendar_declines_like_a_caldav_delete(contract_world, driver):
    """Alice is an attendee of Bob's meeting; she deletes it in her calendar: she declines
    (Bob keeps the meeting and sees her answer), it leaves her calendar."""
    from bridge.store import collections as collection_store
    from bridge.store import items as item_store

    world = contract_world
    world.crm_meeting("bobs-1", "Bob's review", organiser="bob", internal_users=["alice"])
    world.round()
    (event,) = world.events()
    driver.remove(event.remote_id)
    world.round()
    row = world.meeting("bobs-1")
    assert row is not None
    assert "PARTSTAT=DECLINED:mailto:alice@example.com" in row.ical.replace("\r\n ", "")

    def entries(login):
        return world.store.read(
            lambda c: [
                r.uid
                for r in item_store.all_in(c, collection_store.by_path(c, f"{login}/meetings").id)
            ]
        )

    assert entries("alice") == []
    assert entries("bob") == ["bobs-1"]


def test_attendee_editing_in_the_calendar_leaves_the_organisers_meeting(contract_world, driver):
    """Alice attends Bob's meeting; her edit in her own calendar stays there."""
    world = contract_world
    world.crm_meeting("bobs-2", "Bob's plan", organiser="bob", internal_users=["alice"])
    world.round()
    (event,) = world.events()
    driver.edit(event.remote_id, subject="Alice's title")
    world.round()
    assert world.meeting("bobs-2").subject == "Bob's plan"
    # Bob's next change still reaches her calendar.
    world.crm_meeting("bobs-2", "Bob's plan v2", organiser="bob", internal_users=["alice"])
    world.round()
    assert world.subjects() == ["Bob's plan v2"]


def _seed(driver, subject: str, **fields) -> str:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    return driver.seed(subject=subject, start=start, end=start + timedelta(hours=1), **fields)


def test_our_own_pulls_are_never_pushed_back(contract_world, driver):
    """Echo skipping is plan()'s alone: the meeting a pull made (origin this binding) is in
    the change log, and the push of the next rounds writes nothing for it but its tag."""
    world = contract_world
    _seed(driver, "Made in the calendar")
    assert world.round().pulled == 1
    writes = driver.write_count()
    again = world.round()
    assert again.pushed == 0 and again.pulled == 0
    assert driver.write_count() == writes


def test_the_tag_write_back_is_the_tag_alone(contract_world, driver):
    """After a pull creates a meeting, the calendar event gets the meeting's id and nothing
    else: one write, the user's text kept, nobody mailed."""
    world = contract_world
    made = _seed(driver, "Phone meeting", description="from the phone", location="Room 4")
    writes = driver.write_count()
    assert world.round().pulled == 1
    assert driver.write_count() - writes == 1  # the tag, nothing more
    [event] = world.events()
    assert event.remote_id == made and event.crm_meeting_id
    assert (event.subject, event.description, event.location) == (
        "Phone meeting",
        "from the phone",
        "Room 4",
    )
    assert driver.mailed() == []
    assert world.store.read(lambda c: link_store.tag_pending(c, world.binding_id)) == []


def test_the_engine_lists_with_the_window_of_the_bindings_rules(contract_world):
    """Graph's delta needs the window: the engine passes the union of both directions'
    windows from the binding's rules."""
    from tests.contract.pull import AfterList

    world = contract_world
    seen = []
    now = datetime.now(UTC)
    world.round(backend=AfterList(world.backend(), window_seen=seen.append))
    [window] = seen
    expected = world.rules.window(now)
    assert abs((window.start - expected.start).total_seconds()) < 60
    assert abs((window.end - expected.end).total_seconds()) < 60
    assert window.start < now < window.end
