"""carry_unmodelled: a re-rendered meeting keeps what the CRM does not model."""

from __future__ import annotations

import dataclasses

from bridge import ical
from bridge.ical.merge import carry_unmodelled

PHONE = "\r\n".join(
    [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//phone//EN",
        "X-WR-CALNAME:Mine",
        "BEGIN:VEVENT",
        "UID:m1",
        "DTSTAMP:20261101T000000Z",
        "DTSTART:20261201T100000Z",
        "DTEND:20261201T110000Z",
        "SUMMARY:Old title",
        "CATEGORIES:Sales,VIP",
        "URL:https://example.com/agenda",
        "X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC",
        "ATTENDEE;PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT;CN=Eve:mailto:eve@x.org",
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        "DESCRIPTION:Reminder",
        "TRIGGER:-PT15M",
        "END:VALARM",
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
)


def rerendered(**changes) -> str:
    meeting = ical.meeting_from_ical(ical.parse_calendar(PHONE), login_by_email={}, owner="a")
    fresh = ical.meeting_to_ical(dataclasses.replace(meeting, **changes), email_by_login={})
    return carry_unmodelled(PHONE, fresh)


def test_changed_fields_win_and_the_rest_stays():
    text = rerendered(subject="New title")
    vcal = ical.parse_calendar(text)
    event = vcal.vevent
    assert event.summary.value == "New title"
    assert "Old title" not in text
    assert event.categories.value == ["Sales", "VIP"]
    assert event.url.value == "https://example.com/agenda"
    assert event.x_apple_travel_advisory_behavior.value == "AUTOMATIC"
    assert event.valarm.trigger.value.total_seconds() == -900
    assert vcal.x_wr_calname.value == "Mine"
    assert event.attendee.params["PARTSTAT"] == ["ACCEPTED"]
    assert event.attendee.params["ROLE"] == ["REQ-PARTICIPANT"]


def test_owned_properties_are_not_duplicated():
    text = rerendered(location="Room 1")
    assert text.count("SUMMARY:") == 1 and text.count("DTSTART") == 1
    assert text.count("LOCATION:Room 1") == 1
    assert text.count("BEGIN:VALARM") == 1
    assert ical.canonical_hash(carry_unmodelled(text, text)) == ical.canonical_hash(text)
