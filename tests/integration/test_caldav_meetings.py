"""CRM meetings over CalDAV, driven by the caldav client library against `bridge serve`."""

from __future__ import annotations

from datetime import UTC, datetime

import caldav
import pytest

from bench.reports import sync_collection
from tests.support.http import request, vevent
from tests.support.module_server import (  # noqa: F401 - fixtures: one server a module
    fresh_bridge_server,
    module_server,
)


def client(server, login: str) -> caldav.DAVClient:
    return caldav.DAVClient(url=server.url + "/", username=login, password=login)


def calendars_by_name(server, login: str) -> dict[str, caldav.Calendar]:
    principal = client(server, login).principal()
    return {str(c.url).rstrip("/").rsplit("/", 1)[-1]: c for c in principal.calendars()}


def test_discovery_lists_own_and_colleague_calendars(bridge_server):
    alice = calendars_by_name(bridge_server, "alice")
    assert {"meetings", "meetings-bob", "meetings-carol"} <= set(alice)
    assert alice["meetings"].get_display_name() == "CRM meetings"
    assert "Bob Baker" in alice["meetings-bob"].get_display_name()
    dave = calendars_by_name(bridge_server, "dave")
    assert set(dave) == {"meetings"}


def test_meeting_created_on_phone_reaches_internal_attendees(bridge_server):
    alice = calendars_by_name(bridge_server, "alice")["meetings"]
    alice.add_event(
        vevent(
            "m-1",
            "Quarterly review",
            extra="""
ORGANIZER;CN=Alice:mailto:alice@example.com
ATTENDEE;CN=Bob:mailto:BOB@example.com
ATTENDEE;CN=Eve Outside:mailto:eve@outside.example
""",
        )
    )
    bob = calendars_by_name(bridge_server, "bob")["meetings"]
    seen = bob.event_by_uid("m-1")
    assert "Quarterly review" in seen.data
    dave = calendars_by_name(bridge_server, "dave")["meetings"]
    assert dave.events() == []

    # Bob is an attendee: he may not rename Alice's meeting (tests/integration/
    # test_meeting_rights.py covers what he may change).
    seen.data = seen.data.replace("Quarterly review", "Quarterly review (moved)")
    with pytest.raises(caldav.lib.error.AuthorizationError):
        seen.save()
    assert "(moved)" not in alice.event_by_uid("m-1").data

    # Alice, the organiser, edits it: Bob sees the change.
    mine = alice.event_by_uid("m-1")
    mine.data = mine.data.replace("Quarterly review", "Quarterly review (moved)")
    mine.save()
    assert "(moved)" in bob.event_by_uid("m-1").data

    # The organiser deletes it: it is gone everywhere.
    alice.event_by_uid("m-1").delete()
    assert bob.events() == []
    assert alice.events() == []


def test_meeting_booked_on_behalf_leaves_the_bookers_calendar(bridge_server):
    # carol has can_book_for = ["bob"] (tests/support/server.py)
    cals = calendars_by_name(bridge_server, "carol")
    cals["meetings"].add_event(
        vevent(
            "m-behalf",
            "Booked for Bob",
            extra="ORGANIZER:mailto:bob@example.com\nATTENDEE:mailto:alice@example.com",
        )
    )
    assert cals["meetings"].events() == []
    bob = calendars_by_name(bridge_server, "bob")["meetings"]
    assert "Booked for Bob" in bob.event_by_uid("m-behalf").data


def test_sync_collection_reports_only_changes(bridge_server):
    cal = calendars_by_name(bridge_server, "alice")["meetings"]
    for n in range(3):
        cal.add_event(vevent(f"s-{n}", f"Sync {n}"))
    first = cal.objects_by_sync_token(load_objects=False)
    assert len(list(first)) == 3
    token = first.sync_token

    unchanged = cal.objects_by_sync_token(sync_token=token, load_objects=False)
    assert list(unchanged) == []

    cal.add_event(vevent("s-3", "Sync 3"))
    cal.event_by_uid("s-0").delete()
    delta = cal.objects_by_sync_token(sync_token=token, load_objects=False)
    changed = sorted(str(obj.url).rsplit("/", 1)[-1] for obj in delta)
    assert len(changed) == 2
    assert delta.sync_token != token


@pytest.mark.parametrize(
    "token",
    [
        "http://crm-bridge.invalid/ns/sync/999999-1",  # another collection
        "http://example.com/not-ours",  # foreign
        "http://crm-bridge.invalid/ns/sync/garbage",  # malformed
    ],
)
def test_foreign_or_malformed_sync_token_is_rejected(bridge_server, token):
    answer = request(
        bridge_server.url,
        "REPORT",
        "/alice/meetings/",
        sync_collection(token),
        headers={"Content-Type": "application/xml", "Depth": "0"},
    )
    assert answer.status == 403
    assert "valid-sync-token" in answer.body


RECURRING = vevent(
    "series-1",
    "Weekly sync",
    start="20261102T090000Z",
    end="20261102T093000Z",
    extra="""
RRULE:FREQ=WEEKLY;COUNT=10
EXDATE:20261109T090000Z
""",
).replace(
    "END:VCALENDAR",
    """BEGIN:VEVENT
UID:series-1
DTSTAMP:20261101T000000Z
RECURRENCE-ID:20261116T090000Z
DTSTART:20270301T150000Z
DTEND:20270301T160000Z
SUMMARY:Weekly sync (moved far)
END:VEVENT
END:VCALENDAR""",
)


def _uids_between(cal, start, end):
    found = cal.search(start=start, end=end, event=True, expand=False)
    return sorted({obj.icalendar_component["uid"] for obj in found})


def test_time_range_queries_over_recurring_meetings(bridge_server):
    cal = calendars_by_name(bridge_server, "alice")["meetings"]
    cal.add_event(RECURRING)
    cal.add_event(vevent("single", "One-off", start="20261210T100000Z", end="20261210T110000Z"))
    utc = UTC
    # Occurrences on Nov 2 (first), none on Nov 9 (EXDATE), moved Nov 16 -> March 1st.
    assert _uids_between(
        cal, datetime(2026, 11, 2, tzinfo=utc), datetime(2026, 11, 3, tzinfo=utc)
    ) == ["series-1"]
    assert (
        _uids_between(cal, datetime(2026, 11, 9, tzinfo=utc), datetime(2026, 11, 10, tzinfo=utc))
        == []
    )
    assert (
        _uids_between(cal, datetime(2026, 11, 16, tzinfo=utc), datetime(2026, 11, 17, tzinfo=utc))
        == []
    )
    assert _uids_between(
        cal, datetime(2027, 3, 1, tzinfo=utc), datetime(2027, 3, 2, tzinfo=utc)
    ) == ["series-1"]
    # After the COUNT ran out (last one Jan 4 2027) only the moved instance remains.
    assert (
        _uids_between(cal, datetime(2027, 1, 5, tzinfo=utc), datetime(2027, 2, 28, tzinfo=utc))
        == []
    )
    assert _uids_between(
        cal, datetime(2026, 12, 1, tzinfo=utc), datetime(2027, 1, 1, tzinfo=utc)
    ) == ["series-1", "single"]
    # Server-side expansion returns the single occurrences.
    expanded = cal.search(
        start=datetime(2026, 11, 1, tzinfo=utc),
        end=datetime(2026, 12, 1, tzinfo=utc),
        event=True,
        expand=True,
    )
    starts = sorted(str(e.icalendar_component["dtstart"].dt) for e in expanded)
    assert len(starts) == 3  # Nov 2, 23, 30 (9 excluded, 16 moved away)


def test_private_meeting_shows_to_colleagues_as_busy_time_only(bridge_server):
    bob = calendars_by_name(bridge_server, "bob")["meetings"]
    bob.add_event(
        vevent(
            "private-1",
            "Salary talk",
            extra="""
CLASS:PRIVATE
LOCATION:Room 7
DESCRIPTION:Confidential numbers
ATTENDEE:mailto:eve@outside.example
""",
        )
    )
    bob.add_event(vevent("public-1", "Team lunch", extra="LOCATION:Canteen"))
    view = calendars_by_name(bridge_server, "alice")["meetings-bob"]
    busy = view.event_by_uid("private-1").data
    for secret in ("Salary talk", "Room 7", "Confidential", "eve@outside", "ATTENDEE", "ORGANIZER"):
        assert secret not in busy
    assert "DTSTART" in busy and "Busy" in busy
    assert "Team lunch" in view.event_by_uid("public-1").data
    # Bob himself sees everything.
    assert "Salary talk" in bob.event_by_uid("private-1").data
    # Carol may not see Bob's calendar at all.
    assert "meetings-bob" not in calendars_by_name(bridge_server, "carol")
    answer = request(bridge_server.url, "GET", "/carol/meetings-bob/private-1.ics", user="carol")
    assert answer.status == 404


def test_private_meeting_shows_fully_to_a_colleague_who_attends(bridge_server):
    bob = calendars_by_name(bridge_server, "bob")["meetings"]
    bob.add_event(
        vevent(
            "private-2", "Shared secret", extra="CLASS:PRIVATE\nATTENDEE:mailto:alice@example.com"
        )
    )
    view = calendars_by_name(bridge_server, "alice")["meetings-bob"]
    assert "Shared secret" in view.event_by_uid("private-2").data


def test_colleague_calendar_is_read_only(bridge_server):
    calendars_by_name(bridge_server, "bob")["meetings"].add_event(vevent("ro-1", "Bob's"))
    put = request(bridge_server.url, "PUT", "/alice/meetings-bob/new.ics", vevent("ro-2"))
    assert put.status == 403
    delete = request(bridge_server.url, "DELETE", "/alice/meetings-bob/ro-1.ics")
    assert delete.status == 403
    assert "Bob's" in calendars_by_name(bridge_server, "bob")["meetings"].event_by_uid("ro-1").data


def test_users_cannot_reach_other_homes(bridge_server):
    answer = request(
        bridge_server.url, "PROPFIND", "/bob/meetings/", user="alice", headers={"Depth": "0"}
    )
    assert answer.status in (403, 404)
