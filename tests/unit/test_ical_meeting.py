"""Meeting <-> iCalendar mapping."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.ical import (
    ICalError,
    check_time_zones,
    meeting_from_ical,
    meeting_to_ical,
    parse_calendar,
)
from bridge.model import APPOINTMENT, MEETING, BusyStatus, Meeting, Participant, Recurrence
from tests.unit.ical_helpers import cal

USERS = {"alice": "alice@crm.example", "bob": "Bob@CRM.example", "carol": "carol@crm.example"}
LOGINS = {email: login for login, email in USERS.items()}


def read(text: str, owner: str = "owner") -> Meeting:
    return meeting_from_ical(parse_calendar(text), login_by_email=LOGINS, owner=owner)


def test_from_ical_maps_people_and_fields():
    m = read(
        cal(
            "DTSTART;TZID=Europe/Paris:20260105T100000\nDTEND;TZID=Europe/Paris:20260105T110000\n"
            "ORGANIZER;CN=Alice:mailto:ALICE@crm.example\n"
            "ATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@crm.example\n"
            "ATTENDEE:mailto:bob@crm.example\n"
            "ATTENDEE;CN=Xavier;PARTSTAT=TENTATIVE:mailto:x@outside.example\n"
            "SUMMARY:Plan\nLOCATION:Room\nDESCRIPTION:Agenda\nCLASS:CONFIDENTIAL\n"
            "STATUS:TENTATIVE\nSEQUENCE:4\nX-CRM-BOOKED-BY:carol\nX-CRM-FIELD-PROJECT:P1\n"
            "X-CRM-PERSON:p7\nX-CRM-ORGANISATION:o3"
        )
    )
    assert m.organiser == "alice" and m.internal_users == ["bob"] and m.booked_by == "carol"
    assert m.external == [Participant("x@outside.example", "Xavier", "TENTATIVE")]
    assert (m.subject, m.location, m.description) == ("Plan", "Room", "Agenda")
    assert m.private and m.busy is BusyStatus.TENTATIVE and m.sequence == 4
    assert m.activity_type == MEETING and m.custom_fields == {"project": "P1"}
    assert m.crm_persons == ["p7"] and m.crm_organisations == ["o3"]
    assert m.timezone == "Europe/Paris" and not m.all_day
    assert m.start == datetime(2026, 1, 5, 9, tzinfo=UTC) and m.end - m.start == timedelta(hours=1)


def test_outside_organiser_goes_to_external_and_owner_organises():
    m = read(
        cal("DTSTART:20260105T100000Z\nORGANIZER;CN=Ext:mailto:ext@outside.example"),
        owner="carol",
    )
    assert m.organiser == "carol"
    assert m.external == [Participant("ext@outside.example", "Ext", "ACCEPTED")]
    assert m.activity_type == APPOINTMENT and m.end == m.start


@pytest.mark.parametrize(
    ("lines", "busy"),
    [
        ("TRANSP:TRANSPARENT", BusyStatus.FREE),
        ("STATUS:TENTATIVE", BusyStatus.TENTATIVE),
        ("X-MICROSOFT-CDO-BUSYSTATUS:OOF", BusyStatus.OUT_OF_OFFICE),
        ("TRANSP:OPAQUE", BusyStatus.BUSY),
    ],
)
def test_busy_status_from_ical(lines, busy):
    assert read(cal(f"DTSTART:20260105T100000Z\n{lines}")).busy is busy


def test_all_day_and_recurrence():
    m = read(
        cal(
            "DTSTART;VALUE=DATE:20260105\nRRULE:FREQ=WEEKLY;COUNT=3\nEXDATE;VALUE=DATE:20260112",
            "RECURRENCE-ID;VALUE=DATE:20260119\nDTSTART;VALUE=DATE:20260120",
        )
    )
    assert m.all_day and m.start == datetime(2026, 1, 5, tzinfo=UTC)
    assert m.end == datetime(2026, 1, 6, tzinfo=UTC)
    assert m.recurrence == Recurrence(
        "FREQ=WEEKLY;COUNT=3", [datetime(2026, 1, 12, tzinfo=UTC)], [], ["2026-01-19"]
    )


def test_to_ical_never_writes_internal_notes_and_parses_back():
    start = datetime(2026, 1, 5, 10, tzinfo=ZoneInfo("America/New_York"))
    m = Meeting(
        "u1",
        start,
        start + timedelta(hours=1),
        organiser="alice",
        timezone="America/New_York",
        internal_notes="TOP SECRET NOTE",
    )
    text = meeting_to_ical(m, email_by_login=USERS)
    assert "TOP SECRET" not in text and "PRODID:-//crm-calendar-bridge//EN" in text
    assert "DTSTART;TZID=America/New_York:20260105T100000" in text
    check_time_zones(parse_calendar(text))


def test_double_quote_in_name_becomes_apostrophe():
    start = datetime(2026, 1, 5, tzinfo=UTC)
    m = Meeting("u", start, start, external=[Participant("x@ext.example", 'Dan "D" Smith')])
    back = read(meeting_to_ical(m, email_by_login={}))
    assert back.external[0].name == "Dan 'D' Smith"


def test_to_ical_rejects_bad_custom_field_names():
    start = datetime(2026, 1, 5, tzinfo=UTC)
    with pytest.raises(ICalError, match="custom field name 'a b'"):
        meeting_to_ical(Meeting("u", start, start, custom_fields={"a b": "1"}), email_by_login={})


texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30)
zones = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"])


@st.composite
def meetings(draw):
    all_day = draw(st.booleans())
    zone = "UTC" if all_day else draw(zones)
    tz = ZoneInfo(zone)
    base = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=draw(st.integers(0, 700)))
    if all_day:
        start = base
        end = start + timedelta(days=draw(st.integers(1, 3)))
    else:
        start = (base + timedelta(minutes=15 * draw(st.integers(0, 95)))).astimezone(tz)
        end = start + timedelta(minutes=15 * draw(st.integers(0, 16)))
    organiser = draw(st.sampled_from(list(USERS)))
    internal = draw(st.lists(st.sampled_from([u for u in USERS if u != organiser]), unique=True))
    external = draw(
        st.lists(
            st.builds(
                Participant,
                st.from_regex(r"[a-z]{1,8}@ext\.example", fullmatch=True),
                texts.filter(lambda s: s.strip() == s and '"' not in s),
                st.sampled_from(["NEEDS-ACTION", "ACCEPTED", "DECLINED", "TENTATIVE"]),
            ),
            max_size=3,
            unique_by=lambda p: p.email,
        )
    )
    recurrence = None
    if draw(st.booleans()):
        step = timedelta(days=7)
        recurrence = Recurrence(
            rrule=draw(
                st.sampled_from(["FREQ=WEEKLY", "FREQ=WEEKLY;COUNT=5", "FREQ=DAILY;INTERVAL=7"])
            ),
            exdates=[(start + step).astimezone(UTC if all_day else tz)]
            if draw(st.booleans())
            else [],
            rdates=[],
            overrides=[],
        )
    return Meeting(
        uid=draw(st.from_regex(r"[A-Za-z0-9-]{1,20}", fullmatch=True)),
        start=start,
        end=end,
        organiser=organiser,
        booked_by=draw(st.none() | st.sampled_from(list(USERS))),
        internal_users=internal,
        crm_persons=draw(st.lists(st.from_regex(r"p[0-9]{1,4}", fullmatch=True), max_size=2)),
        crm_organisations=draw(st.lists(st.from_regex(r"o[0-9]{1,4}", fullmatch=True), max_size=2)),
        external=external,
        activity_type=draw(st.sampled_from([MEETING, APPOINTMENT, "call"])),
        subject=draw(texts),
        location=draw(texts),
        description=draw(texts),
        timezone=zone,
        all_day=all_day,
        recurrence=recurrence,
        private=draw(st.booleans()),
        busy=draw(st.sampled_from(list(BusyStatus))),
        custom_fields=draw(
            st.dictionaries(
                st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True), texts, max_size=3
            )
        ),
        sequence=draw(st.integers(0, 50)),
    )


@settings(max_examples=100, deadline=None)
@given(meetings())
def test_round_trip(meeting):
    text = meeting_to_ical(meeting, email_by_login=USERS)
    vcal = parse_calendar(text)
    check_time_zones(vcal)
    back = meeting_from_ical(vcal, login_by_email=LOGINS, owner="nobody")
    assert back == meeting
