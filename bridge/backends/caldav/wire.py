"""iCalendar VEVENTs ⇄ RemoteEvent. Pure: no I/O, no sync rules.

One calendar object resource holds one series: the master VEVENT and a VEVENT per moved or
changed occurrence (RECURRENCE-ID). Inbound, a cancelled occurrence (STATUS:CANCELLED)
becomes an EXDATE line; the others RemoteOverrides keyed like bridge.model.Recurrence
.overrides (``YYYY-MM-DD`` for all-day series, else the UTC instant). EXDATE/RDATE values
come out in UTC (or VALUE=DATE), as bridge.backends.base documents.

Outbound, ``event_to_ical`` never writes ATTENDEE or ORGANIZER (invariant 3); the CRM id is
the X-CRM-MEETING-ID property and the Invite action's copy carries X-CRM-INVITE-COPY:TRUE.
``with_tag`` (and bridge.backends.caldav.merge, for updates) work on the text the server
holds: the user's own attendees stay, marked SCHEDULE-AGENT=CLIENT (RFC 6638 9.1) so the
server mails nobody.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytz
import vobject

from bridge.backends.base import RemoteAttendee, RemoteEvent, RemoteOverride
from bridge.backends.recurrence import normalise_recurrence
from bridge.ical.errors import as_utc, events, fix_tz, lines
from bridge.ical.meeting import aware_in, busy_of, text_value, write_busy, zone_of
from bridge.ical.redact import is_private

MEETING_ID = "X-CRM-MEETING-ID"
INVITE_COPY = "X-CRM-INVITE-COPY"
PRODID = "-//crm-calendar-bridge//caldav//EN"
PEOPLE = ("attendee", "organizer")
_VUTC = vobject.icalendar.utc


class WireError(ValueError):
    """The text is not a calendar object this backend can read."""


# --- inbound --------------------------------------------------------------------------------


def _span(event: vobject.base.Component, zone: str) -> tuple[datetime, datetime]:
    raw = event.dtstart.value
    start = aware_in(raw, zone)
    if "dtend" in event.contents:
        return start, aware_in(event.dtend.value, zone)
    if "duration" in event.contents:
        return start, start + event.duration.value
    return start, start + (timedelta(days=1) if not isinstance(raw, datetime) else timedelta())


def rid_key(value: date) -> str:
    """A RECURRENCE-ID value as the model's key: the date, or the UTC instant."""
    if not isinstance(value, datetime):
        return value.isoformat()
    return as_utc(fix_tz(value)).isoformat()


def _date_text(value: date) -> str:
    if not isinstance(value, datetime):
        return f";VALUE=DATE:{value.strftime('%Y%m%d')}"
    return f":{as_utc(fix_tz(value)).strftime('%Y%m%dT%H%M%SZ')}"


def _recurrence(master: vobject.base.Component, cancelled: list[date]) -> tuple[str, ...]:
    out = [f"RRULE:{line.value}" for line in lines(master, "rrule")]
    for name in ("exdate", "rdate"):
        for line in lines(master, name):
            values = line.value if isinstance(line.value, list) else [line.value]
            for value in values:
                if isinstance(value, tuple):  # RDATE;VALUE=PERIOD: its start
                    value = value[0]
                out.append(f"{name.upper()}{_date_text(value)}")
    out += [f"EXDATE{_date_text(value)}" for value in cancelled]
    return tuple(normalise_recurrence(out))


def _email(value: str) -> str:
    text = value.strip()
    return text[7:].strip() if text.lower().startswith("mailto:") else text


def _attendees(master: vobject.base.Component) -> tuple[RemoteAttendee, ...]:
    found = []
    for line in lines(master, "attendee"):
        params = {k.upper(): v for k, v in line.params.items()}
        found.append(
            RemoteAttendee(
                _email(str(line.value)),
                str((params.get("CN") or [""])[0]),
                str((params.get("PARTSTAT") or ["NEEDS-ACTION"])[0]).upper(),
            )
        )
    return tuple(found)


def parse(text: str) -> vobject.base.Component:
    try:
        return vobject.readOne(text)
    except Exception as exc:  # vobject raises many kinds of errors on bad input
        raise WireError(f"unreadable iCalendar: {exc}") from None


def _master(vcal: vobject.base.Component) -> vobject.base.Component | None:
    vevents = events(vcal)
    masters = [e for e in vevents if "recurrence-id" not in e.contents]
    return masters[0] if masters else None


def event_from_ical(text: str, *, remote_id: str, etag: str = "") -> RemoteEvent | None:
    """The series in one calendar object resource; None when it holds no VEVENT series
    (a task, a journal, or occurrences without their master)."""
    vcal = parse(text)
    master = _master(vcal)
    if master is None or "dtstart" not in master.contents:
        return None
    raw = master.dtstart.value
    all_day = not isinstance(raw, datetime)
    zone = "UTC" if all_day else zone_of(raw)
    start, end = _span(master, zone)
    overrides: dict[str, RemoteOverride] = {}
    cancelled: list[date] = []
    for event in events(vcal):
        if "recurrence-id" not in event.contents:
            continue
        rid = event.recurrence_id.value
        if text_value(event, "status").upper() == "CANCELLED":
            cancelled.append(rid)
            continue
        o_start, o_end = _span(event, zone)
        overrides[rid_key(rid)] = RemoteOverride(
            recurrence_id=rid_key(rid),
            start=o_start,
            end=o_end,
            subject=text_value(event, "summary"),
            location=text_value(event, "location"),
            description=text_value(event, "description"),
            busy=busy_of(event),
        )
    last_modified = lines(master, "last-modified") or lines(master, "dtstamp")
    return RemoteEvent(
        remote_id=remote_id,
        start=start,
        end=end,
        etag=etag,
        crm_meeting_id=text_value(master, MEETING_ID.lower()) or None,
        is_invite_copy=text_value(master, INVITE_COPY.lower()).upper() == "TRUE",
        subject=text_value(master, "summary"),
        location=text_value(master, "location"),
        description=text_value(master, "description"),
        all_day=all_day,
        timezone=zone,
        recurrence=_recurrence(master, cancelled),
        overrides=tuple(sorted(overrides.values(), key=lambda o: o.recurrence_id)),
        private=is_private(master),
        busy=busy_of(master),
        attendees=_attendees(master),
        updated=as_utc(last_modified[0].value) if last_modified else None,
    )


# --- outbound -------------------------------------------------------------------------------


def _writer(event: RemoteEvent):  # noqa: ANN202 - a datetime -> date | datetime converter
    """Times as written: dates for all-day, else in the event's zone (a pytz zone, so vobject
    writes its IANA name as TZID and a VTIMEZONE)."""
    if event.all_day:
        return lambda value: as_utc(value).date()
    zone = _VUTC
    if event.timezone and event.timezone != "UTC":
        try:
            zone = pytz.timezone(event.timezone)
        except pytz.UnknownTimeZoneError:
            zone = _VUTC
    return lambda value: value.astimezone(zone)


def _write_texts(component: vobject.base.Component, subject: str, location: str, text: str):  # noqa: ANN202
    for name, value in (("summary", subject), ("location", location), ("description", text)):
        if value:
            component.add(name).value = value


def _rid_value(key: str, when) -> date:  # noqa: ANN001
    if "T" not in key:
        return date.fromisoformat(key)
    return when(datetime.fromisoformat(key))


def _write_recurrence(master: vobject.base.Component, event: RemoteEvent) -> None:
    for line in normalise_recurrence(event.recurrence):
        head, _, value = line.partition(":")
        name = head.split(";")[0]
        if name == "RRULE":
            master.add("rrule").value = value
            continue
        if ";VALUE=DATE" in head or len(value) == 8:
            parsed: date = datetime.strptime(value[:8], "%Y%m%d").date()
        else:
            parsed = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=_VUTC)
        master.add(name.lower()).value = [parsed]


def event_to_ical(event: RemoteEvent, *, uid: str) -> str:
    """The calendar object for ``event``: master plus one VEVENT per override; no ATTENDEE,
    no ORGANIZER."""
    when = _writer(event)
    cal = vobject.iCalendar()
    cal.add("prodid").value = PRODID
    stamp = datetime.now(_VUTC).replace(microsecond=0)
    master = cal.add("vevent")
    master.add("uid").value = uid
    master.add("dtstamp").value = stamp
    master.add("dtstart").value = when(event.start)
    master.add("dtend").value = when(event.end)
    _write_texts(master, event.subject, event.location, event.description)
    master.add("class").value = "PRIVATE" if event.private else "PUBLIC"
    write_busy(master, event.busy)
    _write_recurrence(master, event)
    if event.crm_meeting_id is not None:
        master.add(MEETING_ID.lower()).value = event.crm_meeting_id
    if event.is_invite_copy:
        master.add(INVITE_COPY.lower()).value = "TRUE"
    for override in sorted(event.overrides, key=lambda o: o.recurrence_id):
        child = cal.add("vevent")
        child.add("uid").value = uid
        child.add("dtstamp").value = stamp
        child.add("recurrence-id").value = _rid_value(override.recurrence_id, when)
        child.add("dtstart").value = when(override.start)
        child.add("dtend").value = when(override.end)
        _write_texts(child, override.subject, override.location, override.description)
        if event.private:
            child.add("class").value = "PRIVATE"
        write_busy(child, override.busy)
    return str(cal.serialize())


def _client_scheduled(component: vobject.base.Component) -> None:
    for name in PEOPLE:
        for line in lines(component, name):
            line.params["SCHEDULE-AGENT"] = ["CLIENT"]


def with_tag(text: str, meeting_id: str) -> str:
    """``text`` with X-CRM-MEETING-ID set on its master and nothing else changed but the
    SCHEDULE-AGENT=CLIENT mark on the user's own attendees."""
    vcal = parse(text)
    master = _master(vcal)
    if master is None:
        raise WireError("no series master to tag")
    for line in lines(master, MEETING_ID.lower()):
        master.remove(line)
    master.add(MEETING_ID.lower()).value = meeting_id
    _client_scheduled(master)
    return str(vcal.serialize())


def has_people(text: str) -> bool:
    """Whether any VEVENT of ``text`` carries ATTENDEE or ORGANIZER lines."""
    return any(lines(e, name) for e in events(parse(text)) for name in PEOPLE)
