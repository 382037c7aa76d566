"""Meetings as the REST API's JSON (the shape bridge/api/openapi.json documents).

```json
{
  "uid": "4f1c...", "subject": "Review", "start": "2026-12-03T10:00:00+01:00",
  "end": "2026-12-03T11:00:00+01:00", "time_zone": "Europe/Copenhagen", "all_day": false,
  "location": "Room 2", "description": "...", "internal_notes": "...",
  "organiser": "alice", "internal_attendees": ["bob"],
  "external_participants": [{"email": "carol@example.org", "name": "Carol"}],
  "private": false, "busy": "busy", "recurrence": {"rrule": "FREQ=WEEKLY;COUNT=4",
  "exdates": []}
}
```

All-day meetings give ``start``/``end`` as dates (``2026-12-03``), the end exclusive.
A private meeting seen by a key that acts for none of its participants is only its time:
``{"uid", "start", "end", "time_zone", "all_day", "busy", "recurrence", "private": true,
"busy_only": true}``.

``meeting_from_json`` checks every field and raises ``BadFields`` listing each bad one
with its problem (the API answers 422 with that list).
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import rrule as dateutil_rrule

from bridge.ical.bounds import rule_problem
from bridge.model import APPOINTMENT, MEETING, BusyStatus, Meeting, Participant, Recurrence

#: Fields a client may write (uid only when creating).
WRITABLE = (
    "uid",
    "subject",
    "start",
    "end",
    "time_zone",
    "all_day",
    "location",
    "description",
    "internal_notes",
    "organiser",
    "internal_attendees",
    "external_participants",
    "private",
    "busy",
    "recurrence",
)
_TEXT_LIMITS = {"subject": 1000, "location": 1000, "description": 65536, "internal_notes": 65536}
_EMAIL = re.compile(r"[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+")
_UID = re.compile(r"[\x21-\x7e]{1,255}")
_MAX_PEOPLE = 500


class BadFields(ValueError):
    """The body's problems: (field, problem) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {p}" for f, p in problems))
        self.problems = problems


def _when(value: datetime | date, meeting: Meeting) -> str:
    if meeting.all_day:
        return value.date().isoformat() if isinstance(value, datetime) else value.isoformat()
    try:
        zone = ZoneInfo(meeting.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    return value.astimezone(zone).isoformat()


def _recurrence_json(rec: Recurrence | None, meeting: Meeting) -> dict[str, Any] | None:
    if rec is None or not rec.rrule:
        return None
    return {"rrule": rec.rrule, "exdates": [_when(d, meeting) for d in rec.exdates]}


def meeting_to_json(meeting: Meeting, *, busy_only: bool = False) -> dict[str, Any]:
    """The API's view of ``meeting``; ``busy_only``: its time alone."""
    times = {
        "uid": meeting.uid,
        "start": _when(meeting.start, meeting),
        "end": _when(meeting.end, meeting),
        "time_zone": meeting.timezone,
        "all_day": meeting.all_day,
        "busy": str(meeting.busy),
        "recurrence": _recurrence_json(meeting.recurrence, meeting),
    }
    if busy_only:
        return {**times, "private": True, "busy_only": True}
    return {
        **times,
        "subject": meeting.subject,
        "location": meeting.location,
        "description": meeting.description,
        "internal_notes": meeting.internal_notes,
        "organiser": meeting.organiser,
        "booked_by": meeting.booked_by,
        "internal_attendees": list(meeting.internal_users),
        "declined": list(meeting.declined),
        "external_participants": [
            {"email": p.email, "name": p.name, "partstat": p.partstat} for p in meeting.external
        ],
        "private": meeting.private,
        "busy_only": False,
        "sequence": meeting.sequence,
    }


class _Reader:
    """Reads one body, collecting every problem rather than stopping at the first."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.problems: list[tuple[str, str]] = []

    def bad(self, field: str, problem: str) -> None:
        self.problems.append((field, problem))

    def text(self, field: str, default: str) -> str:
        value = self.body.get(field, default)
        if not isinstance(value, str):
            self.bad(field, "must be a string")
            return default
        limit = _TEXT_LIMITS.get(field, 255)
        if len(value) > limit:
            self.bad(field, f"is longer than {limit} characters")
        if field != "description" and field != "internal_notes" and "\x00" in value:
            self.bad(field, "must not contain NUL characters")
        return value

    def flag(self, field: str, default: bool) -> bool:
        value = self.body.get(field, default)
        if not isinstance(value, bool):
            self.bad(field, "must be true or false")
            return default
        return value

    def logins(self, field: str, default: list[str], known: set[str]) -> list[str]:
        value = self.body.get(field, default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.bad(field, "must be a list of logins")
            return default
        if len(value) > _MAX_PEOPLE:
            self.bad(field, f"lists more than {_MAX_PEOPLE} people")
        unknown = [v for v in value if v not in known]
        if unknown:
            self.bad(field, f"names no CRM user: {', '.join(map(repr, unknown[:5]))}")
        return list(dict.fromkeys(value))

    def people(self, default: list[Participant]) -> list[Participant]:
        field = "external_participants"
        value = self.body.get(field)
        if value is None and field not in self.body:
            return default
        if not isinstance(value, list):
            self.bad(field, "must be a list of {email, name}")
            return default
        if len(value) > _MAX_PEOPLE:
            self.bad(field, f"lists more than {_MAX_PEOPLE} people")
        found: list[Participant] = []
        for n, item in enumerate(value):
            where = f"{field}[{n}]"
            if not isinstance(item, dict):
                self.bad(where, "must be an object {email, name}")
                continue
            extra = set(item) - {"email", "name", "partstat"}
            if extra:
                self.bad(f"{where}.{sorted(extra)[0]}", "is not a field of a participant")
            email, name = item.get("email"), item.get("name", "")
            if not isinstance(email, str) or not _EMAIL.fullmatch(email) or len(email) > 254:
                self.bad(f"{where}.email", "must be an e-mail address")
                continue
            if not isinstance(name, str) or len(name) > 255:
                self.bad(f"{where}.name", "must be a string of at most 255 characters")
                continue
            old = next((p for p in default if p.email.lower() == email.lower()), None)
            found.append(Participant(email, name, old.partstat if old else "NEEDS-ACTION"))
        return found


def _zone(reader: _Reader, default: str) -> str:
    value = reader.body.get("time_zone", default)
    if not isinstance(value, str) or not value:
        reader.bad("time_zone", "must be an IANA time zone name such as 'Europe/Copenhagen'")
        return "UTC"
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        reader.bad("time_zone", f"{value[:64]!r} is not an IANA time zone name")
        return "UTC"
    return value


def _instant(reader: _Reader, field: str, default: datetime | None, *, all_day: bool, zone: str):
    value = reader.body.get(field)
    if field not in reader.body:
        if default is None:
            reader.bad(field, "is required")
        return default
    # printable ASCII only: fromisoformat lets a NUL through ("2026-12-03T10:00:00\x00Z")
    if not isinstance(value, str) or len(value) > 64 or not _iso_text(value):
        reader.bad(field, "must be an ISO 8601 string")
        return None
    if all_day:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            reader.bad(field, "must be a date (YYYY-MM-DD) for an all-day meeting")
            return None
        return datetime.combine(day, time(0), tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        reader.bad(field, "must be an ISO 8601 date-time with an offset (2026-12-03T10:00+01:00)")
        return None
    if moment.tzinfo is None:
        reader.bad(field, "needs a UTC offset or Z (2026-12-03T10:00:00+01:00)")
        return None
    return _in_zone(reader, field, moment, ZoneInfo(zone))


def _iso_text(value: Any) -> bool:
    return isinstance(value, str) and value.isascii() and value.isprintable()


def _in_zone(reader: _Reader, field: str, moment: datetime, zone: tzinfo) -> datetime | None:
    """``moment`` in ``zone``, or None (and the field named) when that leaves the years
    1-9999 that dates can hold (0001-01-01T00:00+01:00, 9999-12-31T23:00-14:00)."""
    try:
        return moment.astimezone(zone)
    except OverflowError:
        reader.bad(field, "is outside the years 1-9999 once in UTC or its time zone")
        return None


def _recurrence(
    reader: _Reader, default: Recurrence | None, start: datetime | None, max_occurrences: int
):
    if "recurrence" not in reader.body:
        return default
    value = reader.body["recurrence"]
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("rrule"), str):
        reader.bad("recurrence", "must be null or {rrule, exdates}")
        return default
    extra = set(value) - {"rrule", "exdates"}
    if extra:
        reader.bad(f"recurrence.{sorted(extra)[0]}", "is not a field of a recurrence")
    rule = value["rrule"].removeprefix("RRULE:")
    if len(rule) > 500 or "\n" in rule or "\r" in rule:
        reader.bad("recurrence.rrule", "is not an RFC 5545 RRULE value")
        return default
    try:
        dateutil_rrule.rrulestr(rule, dtstart=start or datetime.now(UTC))
    except (ValueError, TypeError):
        reader.bad("recurrence.rrule", f"{rule[:80]!r} is not an RFC 5545 RRULE value")
        return default
    costly = rule_problem(rule, max_occurrences)  # the limits CalDAV writes have
    if costly:
        reader.bad("recurrence.rrule", costly)
        return default
    exdates: list[datetime] = []
    raw = value.get("exdates", [])
    if not isinstance(raw, list) or len(raw) > 1000:
        reader.bad("recurrence.exdates", "must be a list of ISO 8601 date-times")
        raw = []
    for n, item in enumerate(raw):
        try:
            moment = datetime.fromisoformat(item) if _iso_text(item) else None
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            reader.bad(f"recurrence.exdates[{n}]", "must be an ISO 8601 date-time with an offset")
            continue
        moment = _in_zone(reader, f"recurrence.exdates[{n}]", moment, UTC)
        if moment is not None:
            exdates.append(moment)
    keep = default.overrides if default is not None else []
    return Recurrence(rrule=rule, exdates=exdates, overrides=list(keep))


def meeting_from_json(
    body: Any,
    *,
    uid: str,
    organiser: str,
    base: Meeting | None,
    known_logins: set[str],
    max_occurrences: int,
) -> Meeting:
    """The meeting ``body`` describes: a new one organised by ``organiser`` when ``base``
    is None, else ``base`` with the fields the body gives (CRM-only fields kept)."""
    if not isinstance(body, dict):
        raise BadFields([("(body)", "must be a JSON object")])
    reader = _Reader(body)
    for name in body:
        if name not in WRITABLE:
            reader.bad(name, "is not a writable field of a meeting")
    if base is not None and "uid" in body and body["uid"] != base.uid:
        reader.bad("uid", "cannot be changed")
    old = base or Meeting(uid=uid, start=datetime.now(UTC), end=datetime.now(UTC))
    all_day = reader.flag("all_day", old.all_day)
    zone = "UTC" if all_day else _zone(reader, old.timezone)
    defaults = base is not None and all_day == base.all_day
    start = _instant(reader, "start", old.start if defaults else None, all_day=all_day, zone=zone)
    end = _instant(reader, "end", old.end if defaults else None, all_day=all_day, zone=zone)
    if start is not None and end is not None:
        if end <= start:
            reader.bad("end", "must be after start")
        elif end - start > timedelta(days=366):
            reader.bad("end", "is more than 366 days after start")
    who = reader.text("organiser", old.organiser or organiser) if "organiser" in body else None
    lead = who or old.organiser or organiser
    if lead not in known_logins:
        reader.bad("organiser", f"{lead[:64]!r} is not a CRM user")
    busy_raw = body.get("busy", str(old.busy))
    try:
        busy = BusyStatus(busy_raw)
    except ValueError:
        reader.bad("busy", f"must be one of {', '.join(b.value for b in BusyStatus)}")
        busy = old.busy
    internal = reader.logins("internal_attendees", list(old.internal_users), known_logins)
    external = reader.people(list(old.external))
    values = {
        "subject": reader.text("subject", old.subject),
        "location": reader.text("location", old.location),
        "description": reader.text("description", old.description),
        "internal_notes": reader.text("internal_notes", old.internal_notes),
        "private": reader.flag("private", old.private),
    }
    recurrence = _recurrence(reader, old.recurrence, start, max_occurrences)
    if reader.problems:
        raise BadFields(reader.problems)
    assert start is not None and end is not None
    internal = [login for login in internal if login != lead]
    kind = MEETING if internal or external else APPOINTMENT
    if base is not None and base.activity_type not in (MEETING, APPOINTMENT):
        kind = base.activity_type
    return dataclasses.replace(
        old,
        uid=old.uid,
        start=start,
        end=end,
        timezone=zone,
        all_day=all_day,
        organiser=lead,
        internal_users=internal,
        declined=[login for login in old.declined if login in internal],
        external=external,
        busy=busy,
        recurrence=recurrence,
        activity_type=kind,
        **values,
    )


def valid_uid(uid: Any) -> bool:
    return isinstance(uid, str) and bool(_UID.fullmatch(uid))
