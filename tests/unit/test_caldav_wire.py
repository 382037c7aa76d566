"""VEVENT <-> RemoteEvent (bridge.backends.caldav.wire): exact round trips and what is never
written."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bridge.backends.base import RemoteEvent
from bridge.backends.caldav import wire
from bridge.model import BusyStatus, Override

BERLIN = ZoneInfo("Europe/Berlin")


def _event(**fields: object) -> RemoteEvent:
    base = RemoteEvent(
        remote_id="",
        start=datetime(2026, 3, 2, 9, tzinfo=UTC),
        end=datetime(2026, 3, 2, 10, tzinfo=UTC),
        crm_meeting_id="m-1",
        subject="Review",
        location="Room 1",
        description="line one\nline two, with; punctuation",
    )
    return replace(base, **fields)  # type: ignore[arg-type]


CASES = {
    "timed": _event(),
    "all-day": _event(
        start=datetime(2026, 3, 2, tzinfo=UTC), end=datetime(2026, 3, 4, tzinfo=UTC), all_day=True
    ),
    "private transparent": _event(private=True, busy=BusyStatus.FREE),
    "tentative": _event(busy=BusyStatus.TENTATIVE),
    "out of office": _event(busy=BusyStatus.OUT_OF_OFFICE),
    "berlin series moved and cancelled": _event(
        start=datetime(2026, 3, 2, 9, tzinfo=BERLIN),
        end=datetime(2026, 3, 2, 10, tzinfo=BERLIN),
        timezone="Europe/Berlin",
        recurrence=("RRULE:FREQ=WEEKLY;COUNT=6", "EXDATE:20260309T080000Z"),
        overrides=(
            Override(
                "2026-03-30T07:00:00+00:00",  # after the DST change: 09:00 CEST
                datetime(2026, 3, 30, 12, tzinfo=BERLIN),
                datetime(2026, 3, 30, 13, tzinfo=BERLIN),
                subject="moved",
                busy=BusyStatus.TENTATIVE,
            ),
        ),
    ),
    "all-day series": _event(
        start=datetime(2026, 3, 2, tzinfo=UTC),
        end=datetime(2026, 3, 3, tzinfo=UTC),
        all_day=True,
        recurrence=("RRULE:FREQ=DAILY;COUNT=5", "EXDATE;VALUE=DATE:20260304"),
        overrides=(
            Override(
                "2026-03-05",
                datetime(2026, 3, 6, tzinfo=UTC),
                datetime(2026, 3, 7, tzinfo=UTC),
                subject="shifted",
            ),
        ),
    ),
    "invite copy": _event(is_invite_copy=True),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_round_trip_keeps_the_content_hash(name: str) -> None:
    event = CASES[name]
    text = wire.event_to_ical(event, uid="u-1")
    back = wire.event_from_ical(text, remote_id="u-1.ics", etag='"e"')
    assert back is not None
    assert back.content_hash() == event.content_hash()
    assert back.crm_meeting_id == event.crm_meeting_id
    assert back.is_invite_copy == event.is_invite_copy
    assert (back.remote_id, back.etag) == ("u-1.ics", '"e"')


def test_non_utc_zone_is_written_as_its_tzid() -> None:
    text = wire.event_to_ical(CASES["berlin series moved and cancelled"], uid="u")
    assert "DTSTART;TZID=Europe/Berlin:20260302T090000" in text
    back = wire.event_from_ical(text, remote_id="u.ics")
    assert back is not None and back.timezone == "Europe/Berlin"


def test_no_attendee_or_organizer_is_ever_written() -> None:
    text = wire.event_to_ical(_event(), uid="u")
    assert "ATTENDEE" not in text and "ORGANIZER" not in text


def test_cancelled_occurrence_reads_as_exdate() -> None:
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"
        "BEGIN:VEVENT\r\nUID:s\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART;TZID=Europe/Berlin:20260302T090000\r\nDTEND;TZID=Europe/Berlin:20260302T100000\r\n"
        "RRULE:FREQ=DAILY;COUNT=3\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:s\r\nDTSTAMP:20260101T000000Z\r\n"
        "RECURRENCE-ID;TZID=Europe/Berlin:20260303T090000\r\n"
        "DTSTART;TZID=Europe/Berlin:20260303T090000\r\nDTEND;TZID=Europe/Berlin:20260303T100000\r\n"
        "STATUS:CANCELLED\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    event = wire.event_from_ical(text, remote_id="s.ics")
    assert event is not None
    assert event.overrides == ()
    assert "EXDATE:20260303T080000Z" in event.recurrence


def test_attendees_are_read_and_kept_client_scheduled() -> None:
    current = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:p\r\n"
        "DTSTAMP:20260101T000000Z\r\nDTSTART:20260302T090000Z\r\nDTEND:20260302T100000Z\r\n"
        "ORGANIZER:mailto:alice@example.com\r\n"
        "ATTENDEE;CN=Zed;PARTSTAT=DECLINED:mailto:zed@example.org\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    event = wire.event_from_ical(current, remote_id="p.ics")
    assert event is not None
    assert [(a.email, a.name, a.partstat) for a in event.attendees] == [
        ("zed@example.org", "Zed", "DECLINED")
    ]
    for text in (
        wire.keep_people(wire.event_to_ical(_event(), uid="p"), current),
        wire.with_tag(current, "m-9"),
    ):
        people = [
            line
            for line in text.replace("\r\n ", "").splitlines()
            if line.startswith(("ATTENDEE", "ORGANIZER"))
        ]
        assert len(people) == 2
        assert all("SCHEDULE-AGENT=CLIENT" in line.split(":")[0] for line in people)


def test_with_tag_changes_nothing_else() -> None:
    text = wire.event_to_ical(CASES["berlin series moved and cancelled"], uid="u")
    tagged = wire.with_tag(text, "m-other")
    before = wire.event_from_ical(text, remote_id="u.ics")
    after = wire.event_from_ical(tagged, remote_id="u.ics")
    assert before is not None and after is not None
    assert after.crm_meeting_id == "m-other"
    assert after.content_hash() == before.content_hash()
    assert tagged.count("X-CRM-MEETING-ID") == 1


def test_a_task_is_no_event() -> None:
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTODO\r\nUID:t\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
    )
    assert wire.event_from_ical(text, remote_id="t.ics") is None
    with pytest.raises(wire.WireError):
        wire.event_from_ical("not a calendar", remote_id="x.ics")
