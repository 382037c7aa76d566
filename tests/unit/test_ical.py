"""Parsing, validation, redaction and hashing."""

import time

import pytest

from bridge.ical import (
    BUSY_ONLY_PROPS,
    ICalError,
    busy_only,
    canonical_hash,
    check_recurrence,
    check_time_zones,
    is_private,
    meeting_from_ical,
    parse_calendar,
    validate_meeting_calendar,
)
from tests.unit.ical_helpers import BERLIN_VTZ, cal

BASIC = "DTSTART:20260105T100000Z\nDTEND:20260105T110000Z\nSUMMARY:Review"


def validate(text: str, max_occurrences: int = 500) -> None:
    validate_meeting_calendar(parse_calendar(text), max_occurrences=max_occurrences)


def test_parse_returns_vcalendar():
    vcal = parse_calendar(cal(BASIC))
    assert vcal.name == "VCALENDAR" and vcal.vevent.summary.value == "Review"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        ("hello", "cannot parse"),
        ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\n", "never closed"),
        ("BEGIN:VCARD\nVERSION:3.0\nFN:x\nEND:VCARD\n", "expected a VCALENDAR"),
        (cal(BASIC) + cal(BASIC), "found 2"),
    ],
)
def test_parse_rejections(text, words):
    with pytest.raises(ICalError, match=words):
        parse_calendar(text)


def test_parse_names_line_and_bad_value():
    text = cal("DTSTART:2026-13-45\nSUMMARY:x")
    with pytest.raises(ICalError) as err:
        parse_calendar(text)
    assert str(err.value) == "line 7: cannot parse DTSTART value '2026-13-45'"


def test_parse_bad_duration():
    with pytest.raises(ICalError, match="cannot parse DURATION value 'PXYZ'"):
        parse_calendar(cal("DTSTART:20260105T100000Z\nDURATION:PXYZ"))


def test_validate_accepts_series_with_override():
    validate(
        cal(
            "DTSTART:20260105T100000Z\nDTEND:20260105T110000Z\nRRULE:FREQ=DAILY;COUNT=3",
            "RECURRENCE-ID:20260106T100000Z\nDTSTART:20260106T120000Z\nDTEND:20260106T130000Z",
        )
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            cal(BASIC).replace("VEVENT", "VTODO"),
            "VTODO is not accepted in the CRM meetings calendar \\(only VEVENT\\)",
        ),
        (
            cal(BASIC).replace("VEVENT", "VJOURNAL"),
            "VJOURNAL is not accepted",
        ),
        (
            "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:x\n" + BERLIN_VTZ + "END:VCALENDAR\n",
            "holds no VEVENT",
        ),
        (
            cal(BASIC, uid="a")[: -len("END:VCALENDAR\r\n")]
            + cal(BASIC, uid="b").split("PRODID:-//test//EN\r\n")[1],
            "UID clash: .* a, b",
        ),
        (cal(BASIC, BASIC), "2 VEVENTs without RECURRENCE-ID"),
        (
            cal("RECURRENCE-ID:20260106T100000Z\nDTSTART:20260106T120000Z"),
            "without a master",
        ),
        (cal("DTEND:20260105T110000Z"), "VEVENT without DTSTART"),
        (
            cal("DTSTART:20260105T100000Z\nDTEND:20260105T090000Z"),
            "DTEND is before DTSTART",
        ),
        (
            cal("DTSTART:20260105T100000Z\nDTEND:20260105T110000Z\nDURATION:PT1H"),
            "both DTEND and DURATION",
        ),
        (
            cal("DTSTART;VALUE=DATE:20260105\nDTEND:20260105T110000Z"),
            "must both be dates or both date-times",
        ),
        (
            cal(
                "DTSTART:20260105T100000Z\nRRULE:FREQ=DAILY;COUNT=3",
                "RECURRENCE-ID:20260106T100000Z\nDTSTART:20260106T120000Z",
                "RECURRENCE-ID:20260106T100000Z\nDTSTART:20260106T130000Z",
            ),
            "override the same RECURRENCE-ID",
        ),
    ],
)
def test_validate_rejections(text, words):
    with pytest.raises(ICalError, match=words):
        validate(text)


def test_unknown_tzid_is_rejected_although_vobject_accepts_it():
    text = cal("DTSTART;TZID=Mars/Olympus:20260105T100000\nDTEND:20260105T110000Z")
    vcal = parse_calendar(text)  # vobject silently makes it floating
    with pytest.raises(ICalError) as err:
        check_time_zones(vcal)
    assert str(err.value) == (
        "unknown time zone 'Mars/Olympus' in DTSTART of VEVENT (no VTIMEZONE and not an IANA name)"
    )


@pytest.mark.parametrize("prop", ["EXDATE", "RDATE", "RECURRENCE-ID", "DTEND"])
def test_unknown_tzid_on_other_properties(prop):
    lines = "DTSTART:20260105T100000Z\nRRULE:FREQ=DAILY;COUNT=3\n"
    lines += f"{prop};TZID=Foo/Bar:20260106T100000"
    with pytest.raises(ICalError, match=f"'Foo/Bar' in {prop}"):
        check_time_zones(parse_calendar(cal(lines)))


def test_tzids_defined_or_iana_are_accepted():
    check_time_zones(
        parse_calendar(cal("DTSTART;TZID=America/New_York:20260105T100000\nDTEND:20260105T110000Z"))
    )
    custom = BERLIN_VTZ.replace("TZID:Europe/Berlin", "TZID:My Office Zone")
    check_time_zones(
        parse_calendar(cal("DTSTART;TZID=My Office Zone:20260105T100000", extra=custom))
    )


def rule(rrule: str, start: str = "DTSTART:20260105T100000Z") -> str:
    return cal(f"{start}\nDTEND:20260105T110000Z\nRRULE:{rrule}")


@pytest.mark.parametrize(
    ("rrule", "words"),
    [
        ("FREQ=SECONDLY", "FREQ=SECONDLY without COUNT or UNTIL would expand forever"),
        ("FREQ=MINUTELY", "FREQ=MINUTELY without COUNT or UNTIL would expand forever"),
        ("FREQ=HOURLY;INTERVAL=2", "FREQ=HOURLY without COUNT or UNTIL"),
        ("FREQ=DAILY;COUNT=501", "COUNT=501 exceeds the limit of 500 occurrences"),
        ("FREQ=DAILY;COUNT=0", "COUNT=0 yields no occurrence"),
        ("FREQ=DAILY;COUNT=x", "cannot parse RRULE COUNT value 'x'"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "yields no occurrence within 400 years"),
        ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=31", "yields no occurrence within 30 years"),
        ("FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=4,6", "yields no occurrence"),
        (
            "FREQ=SECONDLY;UNTIL=29991231T000000Z;BYMONTH=2;BYMONTHDAY=30",
            "yields no occurrence",
        ),
        ("FREQ=DAILY;UNTIL=20270105T100000Z", "more than 300 occurrences"),
        ("FREQ=MINUTELY;UNTIL=20260106T100000Z", "more than 300 occurrences"),
        ("FREQ=DAILY;COUNT=3;UNTIL=20260301T000000Z", "both COUNT and UNTIL"),
        ("FREQ=DAILY;UNTIL=20250101T000000Z", "UNTIL 20250101T000000Z is before DTSTART"),
        ("FREQ=FORTNIGHTLY", "unknown FREQ 'FORTNIGHTLY'"),
        ("COUNT=3", "has no FREQ"),
        ("FREQ=DAILY;BYDAY=XX", "cannot parse RRULE"),
        ("FREQ=DAILY;UNTIL=notadate", "cannot parse RRULE UNTIL value 'notadate'"),
    ],
)
def test_recurrence_rejections(rrule, words):
    vcal = parse_calendar(rule(rrule))
    started = time.monotonic()
    with pytest.raises(ICalError, match=words):
        check_recurrence(vcal, max_occurrences=500 if "501" in rrule else 300)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    "rrule",
    [
        "FREQ=DAILY",
        "FREQ=WEEKLY;BYDAY=MO,WE",
        "FREQ=MONTHLY;BYDAY=-1FR",
        "FREQ=YEARLY",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
        "FREQ=HOURLY;COUNT=10",
        "FREQ=DAILY;UNTIL=20260201",
        "FREQ=WEEKLY;UNTIL=20300101T000000Z",
    ],
)
def test_recurrence_accepted(rrule):
    check_recurrence(parse_calendar(rule(rrule)), max_occurrences=300)


def test_validate_runs_recurrence_and_zone_checks():
    with pytest.raises(ICalError, match="expand forever"):
        validate(rule("FREQ=SECONDLY"))
    with pytest.raises(ICalError, match="unknown time zone"):
        validate(cal("DTSTART;TZID=Nowhere/Land:20260105T100000"))


PRIVATE = """DTSTART;TZID=Europe/Berlin:20260105T100000
DTEND;TZID=Europe/Berlin:20260105T110000
RRULE:FREQ=WEEKLY;COUNT=4
EXDATE;TZID=Europe/Berlin:20260112T100000
SUMMARY:Salary talk
DESCRIPTION:Secret
LOCATION:Room 1
CLASS:PRIVATE
ORGANIZER;CN=Boss:mailto:boss@example.com
ATTENDEE;CN=Emp:mailto:emp@example.com
X-CRM-FIELD-SECRET:42
COMMENT:nobody should see this
ATTACH:https://example.com/file.pdf
CATEGORIES:HR
SEQUENCE:3
TRANSP:OPAQUE
BEGIN:VALARM
ACTION:DISPLAY
DESCRIPTION:Reminder
TRIGGER:-PT15M
END:VALARM"""

OVERRIDE = """RECURRENCE-ID;TZID=Europe/Berlin:20260119T100000
DTSTART;TZID=Europe/Berlin:20260119T140000
DTEND;TZID=Europe/Berlin:20260119T150000
SUMMARY:Moved salary talk
LOCATION:Room 2"""


def test_busy_only_keeps_times_and_drops_everything_else():
    text = busy_only(parse_calendar(cal(PRIVATE, OVERRIDE, extra=BERLIN_VTZ)))
    for secret in (
        "Salary",
        "Secret",
        "Room",
        "boss@",
        "emp@",
        "X-CRM",
        "nobody",
        "ATTACH",
        "HR",
        "VALARM",
        "Reminder",
    ):
        assert secret not in text
    again = parse_calendar(text)
    master, override = again.vevent_list
    assert master.summary.value == "Busy" and master.contents["class"][0].value == "PRIVATE"
    assert master.rrule.value == "FREQ=WEEKLY;COUNT=4"
    assert "exdate" in master.contents and "vtimezone" in again.contents
    assert master.sequence.value == "3" and master.transp.value == "OPAQUE"
    assert override.summary.value == "Busy"
    assert str(override.recurrence_id.value) == "2026-01-19 10:00:00+01:00"
    assert override.dtstart.value.hour == 14
    check_time_zones(again)


PUBLIC_MASTER = PRIVATE.replace("CLASS:PRIVATE", "CLASS:PUBLIC")


@pytest.mark.parametrize("klass", ["PRIVATE", "CONFIDENTIAL", "private", "Confidential "])
def test_busy_only_hides_a_private_occurrence_of_a_public_series(klass):
    text = busy_only(parse_calendar(cal(PUBLIC_MASTER, f"{OVERRIDE}\nCLASS:{klass}")))
    master, override = parse_calendar(text).vevent_list
    # The public series shows whole, alarms and attendees included.
    assert master.summary.value == "Salary talk" and "valarm" in master.contents
    assert master.location.value == "Room 1" and "attendee" in master.contents
    # Its private occurrence is busy time at its moved time.
    assert override.summary.value == "Busy" and "Moved" not in text and "Room 2" not in text
    assert override.dtstart.value.hour == 14
    assert set(override.contents) <= {*BUSY_ONLY_PROPS, "summary", "class"}


def test_busy_only_keeps_a_calendar_without_private_parts_whole():
    text = busy_only(parse_calendar(cal(PUBLIC_MASTER, OVERRIDE)))
    master, override = parse_calendar(text).vevent_list
    assert override.summary.value == "Moved salary talk" and override.location.value == "Room 2"
    assert master.description.value == "Secret"


def test_a_private_series_hides_occurrences_that_say_public():
    text = busy_only(parse_calendar(cal(PRIVATE, f"{OVERRIDE}\nCLASS:PUBLIC")))
    assert "Moved" not in text and "Room" not in text
    assert text.count("SUMMARY:Busy") == 2


@pytest.mark.parametrize(
    ("line", "private"),
    [
        ("CLASS:PRIVATE", True),
        ("CLASS:confidential", True),
        ("CLASS:PUBLIC", False),
        ("CLASS:X-SOMETHING", False),
        ("", False),
    ],
)
def test_one_definition_of_private(line, private):
    vcal = parse_calendar(cal(f"DTSTART:20260105T100000Z\n{line}".strip()))
    assert is_private(vcal.vevent) is private
    meeting = meeting_from_ical(vcal, login_by_email={}, owner="alice")
    assert meeting.private is private


def test_canonical_hash_ignores_bookkeeping_and_order():
    text = cal(PRIVATE, OVERRIDE, extra=BERLIN_VTZ)
    base = canonical_hash(text)
    assert len(base) == 64 and base == canonical_hash(parse_calendar(text))
    reordered = cal(
        OVERRIDE,
        "\n".join(reversed(PRIVATE.split("\nBEGIN:VALARM")[0].split("\n")))
        + "\nBEGIN:VALARM"
        + PRIVATE.split("\nBEGIN:VALARM")[1],
        extra=BERLIN_VTZ,
    )
    assert canonical_hash(reordered) == base
    bumped = (
        text.replace("SEQUENCE:3", "SEQUENCE:4")
        .replace("DTSTAMP:20260101T000000Z", "DTSTAMP:20270101T000000Z")
        .replace("PRODID:-//test//EN", "PRODID:-//other//EN")
        .replace("CLASS:PRIVATE", "CLASS:PRIVATE\r\nLAST-MODIFIED:20260101T000000Z")
    )
    assert canonical_hash(bumped) == base
    folded = text.replace("SUMMARY:Salary talk", "SUMMARY:Salary\r\n  talk")
    assert canonical_hash(folded) == base
    params = text.replace("ATTENDEE;CN=Emp:", "ATTENDEE;CN=Emp;ROLE=REQ-PARTICIPANT:")
    swapped = text.replace("ATTENDEE;CN=Emp:", "ATTENDEE;ROLE=REQ-PARTICIPANT;CN=Emp:")
    assert canonical_hash(params) == canonical_hash(swapped) != base


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("SUMMARY:Salary talk", "SUMMARY:Salary talks"),
        (
            "DTSTART;TZID=Europe/Berlin:20260105T100000",
            "DTSTART;TZID=Europe/Berlin:20260105T093000",
        ),
        ("mailto:emp@example.com", "mailto:emp2@example.com"),
        ("EXDATE;TZID=Europe/Berlin:20260112T100000", "EXDATE;TZID=Europe/Berlin:20260126T100000"),
        (
            "DTSTART;TZID=Europe/Berlin:20260119T140000",
            "DTSTART;TZID=Europe/Berlin:20260119T150000",
        ),
    ],
)
def test_canonical_hash_sees_real_changes(old, new):
    text = cal(PRIVATE, OVERRIDE, extra=BERLIN_VTZ)
    assert old in text
    assert canonical_hash(text.replace(old, new)) != canonical_hash(text)


def test_canonical_hash_does_not_touch_the_component():
    vcal = parse_calendar(cal(BASIC))
    before = vcal.serialize()
    canonical_hash(vcal)
    assert vcal.serialize() == before
