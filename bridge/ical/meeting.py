"""Meeting <-> iCalendar mapping."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo

import pytz
import vobject

from bridge.ical.errors import ICalError, as_utc, events, fix_tz, iana_zone, lines, tz_name
from bridge.ical.redact import is_private
from bridge.model import APPOINTMENT, MEETING, BusyStatus, Meeting, Participant, Recurrence

PRODID = "-//crm-calendar-bridge//EN"
FIELD_PREFIX = "X-CRM-FIELD-"
_VUTC = vobject.icalendar.utc  # vobject names only its own UTC object "UTC"
_FIELD_NAME = re.compile(r"^[A-Za-z0-9-]+$")


def text_value(component: vobject.base.Component, name: str) -> str:
    found = lines(component, name)
    return str(found[0].value) if found else ""


def _email(address: str) -> str:
    value = address.strip()
    if value.lower().startswith("mailto:"):
        value = value[7:]
    return value.strip()


def _param(line: vobject.base.ContentLine, name: str, default: str = "") -> str:
    values = line.params.get(name)
    return str(values[0]) if values else default


def _master(vcal: vobject.base.Component) -> vobject.base.Component:
    vevents = events(vcal)
    masters = [e for e in vevents if "recurrence-id" not in e.contents]
    if len(masters) != 1:
        raise ICalError("expected exactly one VEVENT without RECURRENCE-ID")
    return masters[0]


def zone_of(value: date) -> str:
    if not isinstance(value, datetime) or value.tzinfo is None:
        return "UTC"
    name = tz_name(value.tzinfo)
    return name if name and iana_zone(name) is not None else "UTC"


def aware_in(value: date, zone: str) -> datetime:
    """A DATE as midnight UTC; a date-time in ``zone`` (floating as UTC)."""
    if not isinstance(value, datetime):
        return as_utc(value)
    value = fix_tz(value)  # type: ignore[assignment]
    tz = iana_zone(zone) or UTC
    return as_utc(value).astimezone(tz)


def busy_of(event: vobject.base.Component) -> BusyStatus:
    if text_value(event, "x-microsoft-cdo-busystatus").upper() == "OOF":
        return BusyStatus.OUT_OF_OFFICE
    if text_value(event, "transp").upper() == "TRANSPARENT":
        return BusyStatus.FREE
    if text_value(event, "status").upper() == "TENTATIVE":
        return BusyStatus.TENTATIVE
    return BusyStatus.BUSY


def meeting_from_ical(
    vcal: vobject.base.Component, *, login_by_email: Mapping[str, str], owner: str
) -> Meeting:
    """Read the CRM fields of a meeting from its series master."""
    logins = {email.lower(): login for email, login in login_by_email.items()}
    event = _master(vcal)
    raw_start = event.dtstart.value
    all_day = not isinstance(raw_start, datetime)
    zone = zone_of(raw_start)
    start = aware_in(raw_start, zone)
    if "dtend" in event.contents:
        end = aware_in(event.dtend.value, zone)
    elif "duration" in event.contents:
        end = start + event.duration.value
    else:
        end = start + (timedelta(days=1) if all_day else timedelta(0))
    organiser, external = owner, []
    organiser_email = ""
    if "organizer" in event.contents:
        line = event.organizer
        organiser_email = _email(str(line.value)).lower()
        if organiser_email in logins:
            organiser = logins[organiser_email]
        else:
            external.append(Participant(_email(str(line.value)), _param(line, "CN"), "ACCEPTED"))
    internal: list[str] = []
    declined: list[str] = []
    attendees = 0
    for line in lines(event, "attendee"):
        email = _email(str(line.value))
        if email.lower() == organiser_email:
            continue
        attendees += 1
        login = logins.get(email.lower())
        if login is None:
            partstat = _param(line, "PARTSTAT", "NEEDS-ACTION").upper()
            external.append(Participant(email, _param(line, "CN"), partstat))
        elif login != organiser and login not in internal:
            internal.append(login)
            if _param(line, "PARTSTAT").upper() == "DECLINED":
                declined.append(login)
    custom = {}
    for name, found in event.contents.items():
        if name.upper().startswith(FIELD_PREFIX) and found:
            custom[name[len(FIELD_PREFIX) :].lower()] = str(found[0].value)
    activity = text_value(event, "x-crm-activity-type") or (MEETING if attendees else APPOINTMENT)
    sequence = text_value(event, "sequence")
    return Meeting(
        uid=str(event.uid.value),
        start=start,
        end=end,
        organiser=organiser,
        booked_by=text_value(event, "x-crm-booked-by") or None,
        internal_users=internal,
        crm_persons=[str(x.value) for x in lines(event, "x-crm-person")],
        crm_organisations=[str(x.value) for x in lines(event, "x-crm-organisation")],
        external=external,
        activity_type=activity,
        subject=text_value(event, "summary"),
        location=text_value(event, "location"),
        description=text_value(event, "description"),
        timezone=zone,
        all_day=all_day,
        recurrence=_recurrence(vcal, event, zone),
        private=is_private(event),
        busy=busy_of(event),
        custom_fields=custom,
        sequence=int(sequence) if sequence.strip().lstrip("-").isdigit() else 0,
        declined=declined,
    )


def _recurrence(
    vcal: vobject.base.Component, event: vobject.base.Component, zone: str
) -> Recurrence | None:
    rules = lines(event, "rrule")
    overrides = [
        _instance_id(e.recurrence_id.value) for e in events(vcal) if "recurrence-id" in e.contents
    ]
    exdates = [aware_in(v, zone) for x in lines(event, "exdate") for v in x.value]
    rdates = [
        aware_in(v[0] if isinstance(v, tuple) else v, zone)
        for x in lines(event, "rdate")
        for v in x.value
    ]
    if not (rules or exdates or rdates or overrides):
        return None
    return Recurrence(
        rrule=str(rules[0].value) if rules else None,
        exdates=exdates,
        rdates=rdates,
        overrides=sorted(overrides),
    )


def _instance_id(value: date) -> str:
    """RECURRENCE-ID as an ISO string: the date, or the UTC instant."""
    if not isinstance(value, datetime):
        return value.isoformat()
    return as_utc(fix_tz(value)).isoformat()


def meeting_to_ical(
    meeting: Meeting,
    *,
    email_by_login: Mapping[str, str],
    names_by_login: Mapping[str, str] | None = None,
) -> str:
    """A complete VCALENDAR for the meeting's series master; internal notes never appear.

    Overridden instances are not modelled by Meeting and so not written here (the store
    keeps the full iCalendar text for them). CRM users without an e-mail are left out.
    """
    names = names_by_login or {}
    cal = vobject.iCalendar()
    cal.add("prodid").value = PRODID
    event = cal.add("vevent")
    event.add("uid").value = meeting.uid
    event.add("dtstamp").value = datetime.now(_VUTC).replace(microsecond=0)
    tz = _writer_zone(meeting)

    def when(value: datetime) -> date:
        if meeting.all_day:
            return as_utc(value).date()
        return value.astimezone(tz or _VUTC)

    event.add("dtstart").value = when(meeting.start)
    event.add("dtend").value = when(meeting.end)
    for name, value in (
        ("summary", meeting.subject),
        ("location", meeting.location),
        ("description", meeting.description),
    ):
        if value:
            event.add(name).value = value
    event.add("sequence").value = str(meeting.sequence)
    event.add("class").value = "PRIVATE" if meeting.private else "PUBLIC"
    write_busy(event, meeting.busy)
    event.add("x-crm-activity-type").value = meeting.activity_type
    if meeting.booked_by:
        event.add("x-crm-booked-by").value = meeting.booked_by
    for person in meeting.crm_persons:
        event.add("x-crm-person").value = person
    for organisation in meeting.crm_organisations:
        event.add("x-crm-organisation").value = organisation
    for key, value in sorted(meeting.custom_fields.items()):
        if not _FIELD_NAME.match(key):
            raise ICalError(f"custom field name {key!r} cannot be an iCalendar property name")
        event.add(f"{FIELD_PREFIX}{key.upper()}").value = value
    organiser_email = email_by_login.get(meeting.organiser or "")
    if organiser_email:
        line = event.add("organizer")
        line.value = f"mailto:{organiser_email}"
        if names.get(meeting.organiser or ""):
            line.params["CN"] = [_cn(names[meeting.organiser or ""])]
    for login in meeting.internal_users:
        if login in email_by_login:
            answer = "DECLINED" if login in meeting.declined else "NEEDS-ACTION"
            _attendee(event, email_by_login[login], names.get(login, ""), answer)
    for person in meeting.external:
        _attendee(event, person.email, person.name, person.partstat)
    if meeting.recurrence is not None:
        _write_recurrence(event, meeting.recurrence, when)
    try:
        return str(cal.serialize())
    except Exception as exc:
        raise ICalError(f"cannot write meeting {meeting.uid!r}: {exc}") from None


def _writer_zone(meeting: Meeting) -> tzinfo | None:
    """A pytz zone: vobject writes its IANA name as TZID (zoneinfo would come out as "CET")."""
    if meeting.all_day or meeting.timezone == "UTC":
        return None
    try:
        return pytz.timezone(meeting.timezone)
    except pytz.UnknownTimeZoneError:
        raise ICalError(f"unknown time zone {meeting.timezone!r} in meeting") from None


def _cn(name: str) -> str:
    """RFC 5545 parameter values cannot hold a double quote; use an apostrophe."""
    return name.replace('"', "'")


def _attendee(event: vobject.base.Component, email: str, name: str, partstat: str) -> None:
    line = event.add("attendee")
    line.value = f"mailto:{email}"
    if name:
        line.params["CN"] = [_cn(name)]
    line.params["PARTSTAT"] = [partstat]


def write_busy(event: vobject.base.Component, busy: BusyStatus) -> None:
    event.add("transp").value = "TRANSPARENT" if busy is BusyStatus.FREE else "OPAQUE"
    if busy is BusyStatus.TENTATIVE:
        event.add("status").value = "TENTATIVE"
    if busy is BusyStatus.OUT_OF_OFFICE:
        event.add("x-microsoft-cdo-busystatus").value = "OOF"


def _write_recurrence(event: vobject.base.Component, rec: Recurrence, when: object) -> None:
    convert = when  # a callable datetime -> date | datetime
    if rec.rrule:
        event.add("rrule").value = rec.rrule
    if rec.exdates:
        event.add("exdate").value = [convert(d) for d in rec.exdates]  # type: ignore[operator]
    if rec.rdates:
        event.add("rdate").value = [convert(d) for d in rec.rdates]  # type: ignore[operator]
