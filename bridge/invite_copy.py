"""What the external copy of a meeting carries, decided from the meeting and the config.

``ExternalView`` is every external-facing field of a meeting (subject, time, recurrence
with its excluded dates, moved or changed occurrences, location, organiser, external
attendees), the one thing the Invite action sends and
compares (its ``fields()`` are stored with the invite; bridge.invite_drift compares them).
Who is external: a participant whose address is neither a configured user's nor at one
of ``[invite] internal_domains``. Internal notes, the CRM description, internal
attendees, CRM persons and organisations, custom fields and the CRM id never enter it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bridge.backends.base import InviteCopy, RemoteAttendee, RemoteOverride
from bridge.backends.recurrence import recurrence_lines, utc_text
from bridge.model import BusyStatus, Meeting, Override, Recurrence


@dataclass(frozen=True)
class ExternalOccurrence:
    """One moved or changed occurrence as guests see it: its RECURRENCE-ID (the format of
    bridge.model.Recurrence.overrides), its times, subject and location. Never a
    description: the copy gives every occurrence the rendered invitation text."""

    recurrence_id: str
    start: datetime
    end: datetime
    subject: str
    location: str

    def fields(self) -> dict[str, Any]:
        return {
            "recurrence_id": self.recurrence_id,
            "start": utc_text(self.start),
            "end": utc_text(self.end),
            "subject": self.subject,
            "location": self.location,
        }


@dataclass(frozen=True)
class ExternalView:
    subject: str
    start: datetime
    end: datetime
    all_day: bool
    timezone: str
    recurrence: tuple[str, ...]
    location: str
    busy: BusyStatus
    organiser: RemoteAttendee
    attendees: tuple[RemoteAttendee, ...]
    #: The series' moved or changed occurrences, by RECURRENCE-ID (its excluded dates are
    #: EXDATE lines of ``recurrence``).
    overrides: tuple[ExternalOccurrence, ...] = ()

    def fields(self) -> dict[str, Any]:
        """The view as JSON (stored with what was sent; compared for drift). ``overrides``
        is there only when the series has some: what invites sent before it existed
        stored no such key, and compare equal to a series that has none."""
        out = {
            "subject": self.subject,
            "start": utc_text(self.start),
            "end": utc_text(self.end),
            "all_day": self.all_day,
            "timezone": self.timezone,
            "recurrence": list(self.recurrence),
            "location": self.location,
            "attendees": sorted(a.email.lower() for a in self.attendees),
        }
        if self.overrides:
            out["overrides"] = [o.fields() for o in self.overrides]
        return out

    def content_hash(self) -> str:
        text = json.dumps(self.fields(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @property
    def recipients(self) -> tuple[str, ...]:
        return tuple(a.email for a in self.attendees)


def is_internal(email: str, user_emails: set[str], internal_domains: tuple[str, ...]) -> bool:
    address = email.strip().lower()
    if address in user_emails:
        return True
    domain = address.rpartition("@")[2]
    return any(domain == d or domain.endswith("." + d) for d in internal_domains)


def external_view(
    meeting: Meeting,
    organiser: RemoteAttendee,
    user_emails: set[str],
    internal_domains: tuple[str, ...],
    overrides: tuple[Override, ...] | list[Override] = (),
) -> ExternalView:
    """The external-facing fields of ``meeting``; attendees: its external participants
    only (deduplicated by address, in the meeting's order), never the organiser;
    ``overrides``: the series' moved or changed occurrences (bridge.meeting_service.
    stored_overrides), of which only times, subject and location are kept."""
    users = {e.lower() for e in user_emails} | {organiser.email.lower()}
    seen: set[str] = set()
    attendees: list[RemoteAttendee] = []
    for person in meeting.external:
        address = person.email.strip()
        if not address or address.lower() in seen:
            continue
        if is_internal(address, users, internal_domains):
            continue
        seen.add(address.lower())
        attendees.append(RemoteAttendee(address, person.name))
    return ExternalView(
        subject=meeting.subject,
        start=meeting.start,
        end=meeting.end,
        all_day=meeting.all_day,
        timezone=meeting.timezone,
        recurrence=recurrence_lines(meeting.recurrence, meeting.all_day),
        location=meeting.location,
        busy=meeting.busy,
        organiser=organiser,
        attendees=tuple(attendees),
        overrides=_occurrences(meeting, overrides),
    )


def _occurrences(
    meeting: Meeting, overrides: tuple[Override, ...] | list[Override]
) -> tuple[ExternalOccurrence, ...]:
    """The moved or changed occurrences of a series, sorted by RECURRENCE-ID; none for a
    meeting that is not one (and none on a date the series excludes)."""
    rec = meeting.recurrence
    if rec is None or not overrides:
        return ()
    excluded = set(recurrence_lines(rec, meeting.all_day))
    kept = []
    for o in sorted(overrides, key=lambda o: o.recurrence_id):
        if _exdate_line(o.recurrence_id, meeting.all_day) in excluded:
            continue
        kept.append(ExternalOccurrence(o.recurrence_id, o.start, o.end, o.subject, o.location))
    return tuple(kept)


def _exdate_line(recurrence_id: str, all_day: bool) -> str:
    """The EXDATE line that excludes the occurrence ``recurrence_id``."""
    when = datetime.fromisoformat(recurrence_id)
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return recurrence_lines(Recurrence(exdates=[when]), all_day)[0]


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def merge_fields(view: ExternalView, organisation: str) -> dict[str, Any]:
    """What a template may use: the external view in words, nothing else."""
    tz = _zone(view.timezone)
    start, end = view.start.astimezone(tz), view.end.astimezone(tz)
    names = [a.name or a.email for a in view.attendees]
    return {
        "subject": view.subject,
        "start": start.strftime("%Y-%m-%d %H:%M") if not view.all_day else start.date().isoformat(),
        "end": end.strftime("%Y-%m-%d %H:%M") if not view.all_day else end.date().isoformat(),
        "date": start.date().isoformat(),
        "start_time": start.strftime("%H:%M"),
        "end_time": end.strftime("%H:%M"),
        "timezone": view.timezone,
        "all_day": view.all_day,
        "location": view.location,
        "organiser": view.organiser.name or view.organiser.email,
        "organiser_email": view.organiser.email,
        "organisation": organisation,
        "externals": names,
        "external_names": ", ".join(names),
    }


def invite_copy(view: ExternalView, description: str, *, sequence: int, uid: str) -> InviteCopy:
    """The InviteCopy a backend writes: the view, the rendered text, SEQUENCE and the
    copy's own UID (never the meeting's: guests must not learn the CRM id). Each moved
    occurrence carries the rendered text too, never the CRM's own description."""
    overrides = tuple(
        RemoteOverride(
            o.recurrence_id, o.start, o.end, o.subject, o.location, description, BusyStatus.BUSY
        )
        for o in view.overrides
    )
    return InviteCopy(
        subject=view.subject,
        start=view.start,
        end=view.end,
        organiser=view.organiser,
        attendees=view.attendees,
        description=description,
        location=view.location,
        all_day=view.all_day,
        timezone=view.timezone,
        recurrence=view.recurrence,
        sequence=sequence,
        uid=uid,
        overrides=overrides,
    )
