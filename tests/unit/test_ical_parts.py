"""The organiser / attendee split of a meeting's iCalendar (bridge.ical.parts): pure."""

from __future__ import annotations

import pytest
import vobject

from bridge.ical import parts as ical_parts
from tests.unit.ical_helpers import BERLIN_VTZ, cal

MASTER = """
DTSTART:20261102T090000Z
DTEND:20261102T100000Z
SUMMARY:Weekly
RRULE:FREQ=WEEKLY;COUNT=4
ORGANIZER;CN=Alice:mailto:alice@example.com
ATTENDEE;CN=Bob:mailto:bob@example.com
ATTENDEE;PARTSTAT=ACCEPTED:mailto:carol@example.com
X-CRM-ACTIVITY-TYPE:meeting
"""
MOVED = """
RECURRENCE-ID:20261109T090000Z
DTSTART:20261109T110000Z
DTEND:20261109T120000Z
SUMMARY:Weekly (later)
ORGANIZER;CN=Alice:mailto:alice@example.com
ATTENDEE;CN=Bob:mailto:bob@example.com
"""
STORED = cal(MASTER, MOVED)
ALARM = "BEGIN:VALARM\nACTION:DISPLAY\nDESCRIPTION:Mine\nTRIGGER:-PT5M\nEND:VALARM"


def parsed(text: str):
    return vobject.readOne(text)


def verdict(sent: str, me: str = "bob@example.com") -> str | None:
    return ical_parts.attendee_violation(parsed(STORED), parsed(sent), me)


def test_the_same_meeting_rewritten_by_a_client_is_no_change():
    rewritten = cal(
        MASTER.replace("ATTENDEE;CN=Bob:", 'ATTENDEE;CN="Bob":')
        + "LAST-MODIFIED:20270101T000000Z\nSEQUENCE:3\nCREATED:20260101T000000Z",
        MOVED,
    ).replace("PRODID:-//test//EN", "PRODID:-//other client//EN")
    assert verdict(rewritten) is None


def test_same_instant_in_another_zone_is_no_change():
    berlin = MASTER.replace(
        "DTSTART:20261102T090000Z", "DTSTART;TZID=Europe/Berlin:20261102T100000"
    )
    assert verdict(cal(berlin, MOVED, extra=BERLIN_VTZ)) is None


def test_own_answer_and_personal_properties_are_allowed():
    mine = (
        MASTER.replace("ATTENDEE;CN=Bob:", "ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED;RSVP=FALSE:")
        + "TRANSP:TRANSPARENT\nX-MOZ-SNOOZE:1\nX-MICROSOFT-CDO-BUSYSTATUS:FREE\n"
        + ALARM
    )
    assert verdict(cal(mine, MOVED + ALARM)) is None


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda m, o: (m.replace("SUMMARY:Weekly", "SUMMARY:Mine"), o), "SUMMARY"),
        (lambda m, o: (m.replace("T090000Z\nDTEND", "T080000Z\nDTEND"), o), "DTSTART"),
        (lambda m, o: (m + "LOCATION:Home", o), "LOCATION"),
        (lambda m, o: (m + "DESCRIPTION:x", o), "DESCRIPTION"),
        (lambda m, o: (m + "CLASS:PUBLIC", o), "CLASS"),
        (lambda m, o: (m.replace("COUNT=4", "COUNT=5"), o), "RRULE"),
        (lambda m, o: (m + "EXDATE:20261116T090000Z", o), "EXDATE"),
        (lambda m, o: (m.replace("alice@", "bob@", 1), o), "ORGANIZER"),
        (lambda m, o: (m + "X-CRM-BOOKED-BY:bob", o), "X-CRM-BOOKED-BY"),
        (lambda m, o: (m + "ATTENDEE:mailto:dave@example.com", o), "the attendee list"),
        (
            lambda m, o: (
                m.replace("PARTSTAT=ACCEPTED:mailto:carol", "PARTSTAT=DECLINED:mailto:carol"),
                o,
            ),
            "another attendee's participation",
        ),
        (lambda m, o: (m, o.replace("Weekly (later)", "Mine")), "SUMMARY in the occurrence"),
        (lambda m, o: (m, o.replace("T110000Z", "T113000Z")), "DTSTART in the occurrence"),
    ],
)
def test_organiser_properties_are_refused_and_named(edit, named):
    master, moved = edit(MASTER, MOVED)
    problem = verdict(cal(master, moved))
    assert problem is not None and named in problem, problem


def test_added_or_removed_occurrences_are_refused():
    assert "RECURRENCE-ID" in verdict(cal(MASTER))
    extra = MOVED.replace("20261109T090000Z", "20261116T090000Z")
    assert "RECURRENCE-ID" in verdict(cal(MASTER, MOVED, extra))


def test_someone_elses_answer_is_not_mine_to_give():
    carol_for_bob = MASTER.replace("ATTENDEE;CN=Bob:", "ATTENDEE;CN=Bob;PARTSTAT=DECLINED:")
    assert verdict(cal(carol_for_bob, MOVED), me="carol@example.com").startswith("ATTENDEE")


def test_answers_go_into_the_stored_meeting_per_occurrence():
    sent = cal(
        MASTER.replace("ATTENDEE;CN=Bob:", "ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED:") + ALARM,
        MOVED.replace("ATTENDEE;CN=Bob:", "ATTENDEE;CN=Bob;PARTSTAT=DECLINED:"),
    )
    merged = parsed(ical_parts.with_answers(STORED, parsed(sent), "BOB@example.com"))
    assert ical_parts.partstat(merged, "bob@example.com") == "ACCEPTED"
    moved = [e for e in merged.vevent_list if "recurrence-id" in e.contents][0]
    assert "DECLINED" in moved.serialize()
    assert "VALARM" not in merged.serialize()  # personal parts stay out of the meeting


def test_declining_marks_every_component():
    text = ical_parts.with_partstat(STORED, "bob@example.com", "DECLINED")
    assert text.replace("\r\n ", "").count("PARTSTAT=DECLINED:mailto:bob@example.com") == 2


def test_personal_part_and_rendering_for_the_attendee():
    organisers = cal(MASTER + "TRANSP:OPAQUE\n" + ALARM.replace("Mine", "Alice's"), MOVED)
    assert ical_parts.personal_part(parsed(STORED)) is None
    sent = cal(MASTER + "TRANSP:TRANSPARENT\n" + ALARM, MOVED)
    personal = ical_parts.personal_part(parsed(sent))
    assert personal is not None and "Mine" in personal and "SUMMARY" not in personal

    shown = ical_parts.render_for_attendee(organisers, personal)
    assert shown is not None
    assert "Mine" in shown and "Alice's" not in shown
    assert "TRANSP:TRANSPARENT" in shown and "OPAQUE" not in shown
    assert "SUMMARY:Weekly" in shown
    # Without a personal part an attendee sees the organiser's meeting minus her alarms.
    plain = ical_parts.render_for_attendee(organisers, None)
    assert plain is not None and "Alice's" not in plain and "TRANSP:OPAQUE" in plain
    assert ical_parts.render_for_attendee(STORED, None) is None  # nothing to take out


def test_booked_by_is_replaced_not_added():
    vcal = parsed(cal(MASTER + "X-CRM-BOOKED-BY:mallory", MOVED + "X-CRM-BOOKED-BY:mallory"))
    ical_parts.set_booked_by(vcal, "carol")
    text = vcal.serialize()
    assert text.count("X-CRM-BOOKED-BY") == 1 and "X-CRM-BOOKED-BY:carol" in text
    ical_parts.set_booked_by(vcal, None)
    assert "X-CRM-BOOKED-BY" not in vcal.serialize()
