"""RemoteEvent, the one shape every calendar backend speaks, and the Backend protocol.

Backends (google, exchange, graph) translate their wire to RemoteEvent and back; they hold
no sync rules. The mapping helpers at the bottom are the only place a Meeting becomes a
RemoteEvent (outbound) or RemoteEvent fields become Meeting fields (inbound).

Conventions every backend follows when it builds a RemoteEvent:

- datetimes are timezone-aware; all-day events start and end at midnight UTC of their dates,
  the end exclusive (as bridge.model.Meeting); ``timezone`` is an IANA name.
- ``recurrence`` holds iCalendar lines of the series master: ``RRULE:...``, ``EXDATE:...``,
  ``RDATE:...``; EXDATE/RDATE values in UTC (``20260105T090000Z``) or, for all-day series,
  ``EXDATE;VALUE=DATE:20260105``. Cancelled occurrences are folded into EXDATE lines, so a
  cancelled instance and an excluded date are one thing.
- ``overrides`` holds each moved or changed occurrence, keyed by its RECURRENCE-ID in the
  format of bridge.model.Recurrence.overrides.
- ``crm_meeting_id`` is the tag every copy we create carries (Google
  extendedProperties.private, EWS/Graph extended property). ``is_invite_copy`` marks the
  external copy the Invite action made: inbound sync never takes it (invariant 4).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bridge.model import BusyStatus, Meeting, Override, Participant, Recurrence

BUSY_SUBJECT = "Busy"


class BackendError(Exception):
    """A backend call failed in a way the engine should retry later."""


class ResyncRequired(BackendError):
    """The change cursor expired (Google 410, bad EWS SyncState, Graph 410): list from None."""


class PreconditionFailed(BackendError):
    """The etag/changekey given to update or delete no longer matches the remote event."""


class NotFound(BackendError):
    """The remote event does not exist (any more)."""


class Rejected(BackendError):
    """The remote refuses this one event, and would refuse the same write again: it is
    invalid there (HTTP 400), the user may not change it (403 for an event they only
    attend), or it names an instance the series does not have. Sync quarantines that one
    event; every other BackendError is about the service or the account and backs off the
    whole binding (bridge.sync.plan_faults)."""


@dataclass(frozen=True)
class RemoteAttendee:
    email: str
    name: str = ""
    partstat: str = "NEEDS-ACTION"


# One moved or changed occurrence of a series: the model's Override, on the wire as in the
# store (RECURRENCE-ID key in the format of bridge.model.Recurrence.overrides).
RemoteOverride = Override


@dataclass(frozen=True)
class RemoteEvent:
    """An event in a user's own calendar, as every backend reports and accepts it.

    ``remote_id`` and ``etag`` are empty on an event not yet created. ``updated`` is the
    remote's last-modified time (for a deleted event: when it was deleted), if known.
    """

    remote_id: str
    start: datetime
    end: datetime
    etag: str = ""
    crm_meeting_id: str | None = None
    is_invite_copy: bool = False
    subject: str = ""
    location: str = ""
    description: str = ""
    all_day: bool = False
    timezone: str = "UTC"
    recurrence: tuple[str, ...] = ()
    overrides: tuple[RemoteOverride, ...] = ()
    private: bool = False
    busy: BusyStatus = BusyStatus.BUSY
    attendees: tuple[RemoteAttendee, ...] = ()
    updated: datetime | None = None
    deleted: bool = False

    @property
    def has_attendees(self) -> bool:
        return bool(self.attendees)

    def content_hash(self) -> str:
        """sha256 hex of exactly the fields sync carries in both directions once linked.

        Hashed: subject, location, description (line endings normalised, outer whitespace
        stripped), start and end (as UTC instants), all_day, timezone (timed events only),
        recurrence (normalised: one value per EXDATE/RDATE line, RRULE parts sorted, lines
        sorted), overrides (sorted by RECURRENCE-ID, each with its times, texts and busy),
        private and busy.

        Not hashed: remote_id, etag, updated, deleted (bookkeeping); crm_meeting_id and
        is_invite_copy (identity, not content); attendees — sync never writes them
        (invariant 3), so they could never compare like with like, and inbound updates never
        touch a meeting's participants. The same function hashes the event we push and the
        event we pull, which is what makes echo suppression (invariant 2) exact.
        """
        content = {
            "subject": _text(self.subject),
            "location": _text(self.location),
            "description": _text(self.description),
            "start": _utc(self.start),
            "end": _utc(self.end),
            "all_day": self.all_day,
            "timezone": "" if self.all_day else self.timezone,
            "recurrence": normalise_recurrence(self.recurrence),
            "overrides": sorted(
                [
                    o.recurrence_id,
                    _utc(o.start),
                    _utc(o.end),
                    _text(o.subject),
                    _text(o.location),
                    _text(o.description),
                    str(o.busy),
                ]
                for o in self.overrides
            ),
            "private": self.private,
            "busy": str(self.busy),
        }
        data = json.dumps(content, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(data.encode("utf-8")).hexdigest()


class Backend(Protocol):
    """What the engine needs of a calendar backend. Every write is silent (invariant 3):
    Google sendUpdates=none, EWS SendToNone, never attendees on a Graph event."""

    def list_changes(self, cursor: str | None) -> tuple[list[RemoteEvent], str]:
        """Events changed since ``cursor`` (None: every event) and the new cursor.

        Deleted events come back with ``deleted=True``. Raises ResyncRequired when the
        cursor has expired; the engine then lists from None and matches by tag.
        """
        ...

    def create(self, event: RemoteEvent, *, idempotency_key: str) -> RemoteEvent:
        """Create ``event`` tagged with its crm_meeting_id; the same key never makes two
        events (Google client-chosen id, Graph transactionId, EWS lookup by tag first)."""
        ...

    def update(self, remote_id: str, event: RemoteEvent, *, etag: str) -> RemoteEvent:
        """Replace the synced fields (never attendees); PreconditionFailed on etag mismatch."""
        ...

    def delete(self, remote_id: str, *, etag: str) -> None:
        """Delete the event; PreconditionFailed on etag mismatch, NotFound if already gone."""
        ...

    def find_by_meeting_id(self, meeting_id: str) -> RemoteEvent | None:
        """The sync copy tagged with ``meeting_id``; never the Invite action's copy."""
        ...

    def get(self, remote_id: str) -> RemoteEvent | None:
        """The event as it is now (``deleted`` when deleted), None when unknown. Used to
        retry a quarantined event whose delta has already gone by."""
        ...


# --- recurrence and time helpers ---------------------------------------------------------


def _text(value: str) -> str:
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def normalise_recurrence(lines: tuple[str, ...] | list[str]) -> list[str]:
    """Recurrence lines in one canonical form, so equal series hash equally."""
    out: list[str] = []
    for raw in lines:
        head, _, value = raw.strip().partition(":")
        name, *params = head.upper().split(";")
        params_text = "".join(f";{p}" for p in sorted(params))
        if name == "RRULE":
            parts = sorted(p.upper() for p in value.split(";") if p)
            out.append(f"RRULE{params_text}:{';'.join(parts)}")
        else:
            out.extend(f"{name}{params_text}:{v.strip().upper()}" for v in value.split(",") if v)
    return sorted(set(out))


def _format_date(value: datetime, all_day: bool) -> str:
    utc = value.astimezone(UTC)
    return utc.strftime("%Y%m%d") if all_day else utc.strftime("%Y%m%dT%H%M%SZ")


def _parse_date(value: str) -> datetime:
    text = value.strip().upper().rstrip("Z")
    fmt = "%Y%m%d" if len(text) == 8 else "%Y%m%dT%H%M%S"
    return datetime.strptime(text, fmt).replace(tzinfo=UTC)


def recurrence_lines(rec: Recurrence | None, all_day: bool) -> tuple[str, ...]:
    """Meeting recurrence as the lines RemoteEvent carries."""
    if rec is None:
        return ()
    param = ";VALUE=DATE" if all_day else ""
    lines = [f"RRULE:{rec.rrule}"] if rec.rrule else []
    lines += [f"EXDATE{param}:{_format_date(d, all_day)}" for d in rec.exdates]
    lines += [f"RDATE{param}:{_format_date(d, all_day)}" for d in rec.rdates]
    return tuple(normalise_recurrence(lines))


def recurrence_from_lines(
    lines: tuple[str, ...], overrides: tuple[RemoteOverride, ...] = ()
) -> Recurrence | None:
    """RemoteEvent recurrence lines (and override ids) as a Meeting's Recurrence."""
    rec = Recurrence(overrides=sorted(o.recurrence_id for o in overrides))
    for line in normalise_recurrence(lines):
        head, _, value = line.partition(":")
        name = head.split(";")[0]
        if name == "RRULE":
            rec.rrule = value
        elif name == "EXDATE":
            rec.exdates.append(_parse_date(value))
        elif name == "RDATE":
            rec.rdates.append(_parse_date(value))
    if not (rec.rrule or rec.exdates or rec.rdates or rec.overrides):
        return None
    return rec


_MAX_EXPANSION = 5000


def series_span(
    start: datetime, end: datetime, lines: tuple[str, ...] = ()
) -> tuple[datetime, datetime | None]:
    """The range a series covers: (first start, last end) — end None when open-ended.

    A rule with UNTIL ends at UNTIL plus one instance's length; a rule with COUNT is
    expanded (beyond 5,000 instances, or on an unreadable rule, the series counts as
    open-ended, which errs towards syncing). RDATEs extend the range both ways.
    """
    length = max(end - start, timedelta(0))
    first, last = start, end
    open_ended = False
    for line in normalise_recurrence(lines):
        head, _, value = line.partition(":")
        name = head.split(";")[0]
        if name == "RDATE":
            when = _parse_date(value)
            first, last = min(first, when), max(last, when + length)
        elif name == "RRULE":
            rule_end = _rule_end(start, value)
            if rule_end is None:
                open_ended = True
            else:
                last = max(last, rule_end + length)
    return first, (None if open_ended else last)


def _rule_end(start: datetime, rule: str) -> datetime | None:
    parts = dict(p.split("=", 1) for p in rule.split(";") if "=" in p)
    try:
        if "UNTIL" in parts:
            until = _parse_date(parts["UNTIL"])
            return until + timedelta(days=1) if len(parts["UNTIL"]) == 8 else until
        if "COUNT" in parts:
            from dateutil.rrule import rrulestr

            naive = start.astimezone(UTC).replace(tzinfo=None)
            last = None
            for index, when in enumerate(rrulestr(rule, dtstart=naive)):
                if index >= _MAX_EXPANSION:
                    return None
                last = when
            return None if last is None else last.replace(tzinfo=UTC)
    except (ValueError, TypeError):
        return None
    return None


# --- mapping ----------------------------------------------------------------------------

PRIVATE_POLICIES = ("full", "busy", "skip")


def is_redacted(subject: str, location: str, description: str) -> bool:
    """True for the busy-only rendering: subject "Busy", no location, no description."""
    return _text(subject) == BUSY_SUBJECT and not _text(location) and not _text(description)


def meeting_to_remote(
    meeting: Meeting,
    *,
    private_policy: str,
    overrides: tuple[RemoteOverride, ...] = (),
) -> RemoteEvent | None:
    """The event outbound sync writes for ``meeting``; None when the policy skips it.

    Never carries attendees (invariant 3), internal notes, internal users, CRM persons or
    organisations, custom fields or the activity type (invariant 5). A private meeting under
    the "busy" policy keeps only its times, recurrence and busy status, with subject "Busy".
    ``overrides`` are the overridden instances' contents (the engine reads them from the
    stored iCalendar).
    """
    if private_policy not in PRIVATE_POLICIES:
        raise ValueError(f"unknown private policy {private_policy!r}")
    if meeting.private and private_policy == "skip":
        return None
    event = RemoteEvent(
        remote_id="",
        start=meeting.start,
        end=meeting.end,
        crm_meeting_id=meeting.uid,
        subject=meeting.subject,
        location=meeting.location,
        description=meeting.description,
        all_day=meeting.all_day,
        timezone=meeting.timezone,
        recurrence=recurrence_lines(meeting.recurrence, meeting.all_day),
        overrides=tuple(sorted(overrides, key=lambda o: o.recurrence_id)),
        private=meeting.private,
        busy=meeting.busy,
    )
    if meeting.private and private_policy == "busy":
        event = redact(event)
    return event


def redact(event: RemoteEvent) -> RemoteEvent:
    """The busy-only view of an event: times, recurrence and busy status only."""
    return replace(
        event,
        subject=BUSY_SUBJECT,
        location="",
        description="",
        attendees=(),
        overrides=tuple(
            replace(o, subject=BUSY_SUBJECT, location="", description="") for o in event.overrides
        ),
    )


TEXT_FIELDS = ("subject", "location", "description")


def inbound_fields(
    event: RemoteEvent, *, private_policy: str, create: bool
) -> dict[str, Any] | None:
    """The Meeting fields an inbound event sets; None when the policy skips it.

    Updates set the content fields only. A create also sets ``external`` from the event's
    attendees (the engine moves CRM users' addresses to internal users); an update never
    touches participants, because sync never writes them to the calendar (invariant 3), so
    the calendar's attendee list is no authority on the CRM's. The activity type is the
    plan's choice, not this function's.
    """
    if private_policy not in PRIVATE_POLICIES:
        raise ValueError(f"unknown private policy {private_policy!r}")
    if event.private and private_policy == "skip":
        return None
    if event.private and private_policy == "busy":
        event = redact(event)
    fields: dict[str, Any] = {
        "subject": event.subject,
        "location": event.location,
        "description": event.description,
        "start": event.start,
        "end": event.end,
        "all_day": event.all_day,
        "timezone": event.timezone,
        "recurrence": recurrence_from_lines(event.recurrence, event.overrides),
        "private": event.private,
        "busy": event.busy,
    }
    if create:
        fields["external"] = [Participant(a.email, a.name, a.partstat) for a in event.attendees]
    return fields
