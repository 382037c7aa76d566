"""Event JSON: validating writes (create/PATCH) and rendering stored events and instances."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from . import bodies, recurrence, times
from .errors import GraphError
from .store import IMMUTABLE_PREFIX, REST_PREFIX, Mailbox, Stored, new_id

ENUMS = {
    "sensitivity": ("normal", "personal", "private", "confidential"),
    "showAs": ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown"),
    "importance": ("low", "normal", "high"),
}
PLAIN = {
    "subject": str,
    "categories": list,
    "isReminderOn": bool,
    "reminderMinutesBeforeStart": int,
    "responseRequested": bool,
    "isOnlineMeeting": bool,
    "onlineMeetingProvider": str,
    "allowNewTimeProposals": bool,
    "hideAttendees": bool,
    "location": dict,
    "locations": list,
    "attendees": list,
    "organizer": dict,
}
SPECIAL = {"body", "start", "end", "isAllDay", "recurrence", "transactionId"}
SPECIAL |= {"singleValueExtendedProperties", *ENUMS}
READ_ONLY = {
    "id",
    "changeKey",
    "createdDateTime",
    "lastModifiedDateTime",
    "iCalUId",
    "uid",
    "type",
    "seriesMasterId",
    "isOrganizer",
    "isCancelled",
    "isDraft",
    "webLink",
    "bodyPreview",
    "originalStart",
    "originalStartTimeZone",
    "originalEndTimeZone",
    "hasAttachments",
    "responseStatus",
    "onlineMeeting",
    "onlineMeetingUrl",
    "occurrenceId",
}
TIME_ATTRS = ("start", "end", "start_zone", "end_zone", "all_day")
SERIES_SHAPE = {"start", "end", "isAllDay", "recurrence"}
MAIL_FIELDS = ("subject", "start", "end", "location", "locations", "body", "recurrence", "isAllDay")


@dataclass(frozen=True)
class View:
    """How the client asked to see events (Prefer headers)."""

    immutable: bool = False
    zone: str | None = None
    text: bool = False


def check_write(body: Any, *, creating: bool, occurrence: bool = False) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key.startswith("@odata") or key in READ_ONLY:
            continue
        if key in ENUMS:
            if value not in ENUMS[key]:
                raise GraphError(
                    400, "RequestBodyRead", f"Requested value '{value}' was not found."
                )
        elif key in PLAIN:
            if value is not None and not isinstance(value, PLAIN[key]):
                raise GraphError(
                    400, "RequestBodyRead", f"Property '{key}' has a value of the wrong type."
                )
        elif key == "body":
            value = bodies.validate(value)
        elif key == "isAllDay":
            if not isinstance(value, bool):
                raise GraphError(400, "RequestBodyRead", "'isAllDay' must be a boolean.")
        elif key == "recurrence":
            if occurrence and value is not None:
                raise GraphError(
                    400,
                    "ErrorInvalidRequest",
                    "An occurrence or exception cannot have a recurrence.",
                )
            value = recurrence.validate(value)
        elif key == "singleValueExtendedProperties":
            value = check_extended(value)
        elif key == "transactionId":
            if not creating:
                raise GraphError(
                    400, "ErrorInvalidRequest", "transactionId can only be set when creating."
                )
        elif key not in ("start", "end"):
            raise GraphError(
                400,
                "RequestBodyRead",
                f"The property '{key}' does not exist on type 'microsoft.graph.event'. Make sure "
                "to only use property names that are defined by the type.",
            )
        out[key] = value
    if creating and ("start" not in out or "end" not in out):
        raise GraphError(400, "ErrorInvalidRequest", "An event needs both start and end.")
    return out


def check_extended(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        raise GraphError(400, "RequestBodyRead", "singleValueExtendedProperties must be a list.")
    out = []
    for prop in value:
        if not isinstance(prop, dict) or not isinstance(prop.get("id"), str):
            raise GraphError(400, "RequestBodyRead", "An extended property needs an id.")
        if not isinstance(prop.get("value"), str):
            raise GraphError(400, "RequestBodyRead", "An extended property value is a string.")
        if len(prop["id"].split()) < 3:
            raise GraphError(
                400,
                "ErrorInvalidProperty",
                f"The extended property id '{prop['id']}' is not valid; use "
                "'{type} {guid} Name {name}' or '{type} {guid} Id {id}'.",
            )
        out.append((prop["id"], prop["value"]))
    return out


def apply_times(stored_like: dict[str, Any], changes: dict[str, Any], base: Stored | None) -> None:
    """Resolve start/end/isAllDay from the write plus what was stored; 400 if inconsistent."""
    all_day = changes.get("isAllDay", base.all_day if base else False)
    if "start" in changes:
        start, start_zone = times.read(changes["start"], "start")
        wall_start = times.parse_local(changes["start"]["dateTime"], "start")
    else:
        assert base is not None
        start, start_zone, wall_start = base.start, base.start_zone, None
    if "end" in changes:
        end, end_zone = times.read(changes["end"], "end")
        wall_end = times.parse_local(changes["end"]["dateTime"], "end")
    else:
        assert base is not None
        end, end_zone, wall_end = base.end, base.end_zone, None
    if all_day:
        for wall in (wall_start, wall_end):
            if wall is not None and wall.time() != time():
                raise GraphError(
                    400,
                    "ErrorInvalidRequest",
                    "An all-day event's start and end must be at midnight in their time zone.",
                )
        if wall_start is not None:
            start = wall_start.replace(tzinfo=UTC)
        if wall_end is not None:
            end = wall_end.replace(tzinfo=UTC)
        if start_zone != end_zone:
            raise GraphError(
                400, "ErrorInvalidRequest", "An all-day event's start and end need the same zone."
            )
    if end < start:
        raise GraphError(400, "ErrorInvalidRequest", "The event's end is before its start.")
    stored_like.update(
        start=start, end=end, start_zone=start_zone, end_zone=end_zone, all_day=bool(all_day)
    )


def check_series_start(stored: Stored) -> None:
    """recurrence.range.startDate must be the date of the event's start (in its zone)."""
    rec = stored.fields.get("recurrence")
    if not rec:
        return
    zone = times.zone(rec["range"]["recurrenceTimeZone"] or stored.start_zone)
    day = stored.start.date() if stored.all_day else stored.start.astimezone(zone).date()
    if rec["range"]["startDate"] != day.isoformat():
        raise GraphError(
            400,
            "ErrorInvalidRequest",
            f"Invalid recurrence: range startDate {rec['range']['startDate']} must be the date "
            f"of the event's start ({day.isoformat()}).",
        )


def create(box: Mailbox, body: dict[str, Any], organizer: dict[str, Any], now: datetime) -> Stored:
    changes = check_write(body, creating=True)
    resolved: dict[str, Any] = {}
    apply_times(resolved, changes, None)
    ext = dict(
        (pid.lower(), (pid, val)) for pid, val in changes.pop("singleValueExtendedProperties", [])
    )
    fields = {k: v for k, v in changes.items() if k not in ("start", "end", "isAllDay")}
    given_organizer = fields.pop("organizer", None)
    stored = Stored(
        immutable_id=new_id(IMMUTABLE_PREFIX),
        rest_id=new_id(REST_PREFIX),
        fields=fields,
        created=now,
        modified=now,
        organizer=given_organizer or organizer,
        is_organizer=given_organizer is None or _address(given_organizer) == _address(organizer),
        ical_uid="040000008200E00074C5B7101A82E008" + uuid.uuid4().hex.upper(),
        ext=ext,
        **resolved,
    )
    check_series_start(stored)
    return stored


def _address(recipient: dict[str, Any] | None) -> str:
    return str(((recipient or {}).get("emailAddress") or {}).get("address", "")).lower()


def patch(stored: Stored, body: Any, now: datetime, *, occurrence: bool = False) -> set[str]:
    """Apply a PATCH; returns the names of the properties whose value changed."""
    changes = check_write(body, creating=False, occurrence=occurrence)
    before = render_fields(stored)
    before_fields, before_ext = copy.deepcopy(stored.fields), dict(stored.ext)
    before_times = {k: getattr(stored, k) for k in TIME_ATTRS}
    resolved: dict[str, Any] = {}
    apply_times(resolved, changes, stored)
    for pid, value in changes.pop("singleValueExtendedProperties", []):
        stored.ext[pid.lower()] = (pid, value)
    for key, value in changes.items():
        if key in ("start", "end", "isAllDay"):
            continue
        if value is None:
            stored.fields.pop(key, None)
        else:
            stored.fields[key] = value
    for key, value in resolved.items():
        setattr(stored, key, value)
    if not occurrence:
        try:
            check_series_start(stored)
        except GraphError:
            stored.fields = before_fields
            stored.ext = before_ext
            for key, value in before_times.items():
                setattr(stored, key, value)
            raise
    stored.change += 1
    stored.modified = now
    after = render_fields(stored)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    if not occurrence and changed & SERIES_SHAPE and (stored.overrides or stored.cancelled):
        stored.overrides.clear()  # as Outlook: a new series time or pattern drops exceptions
        stored.cancelled.clear()
    return changed


def render_fields(stored: Stored) -> dict[str, Any]:
    out = copy.deepcopy(stored.fields)
    out["start"] = (stored.start, stored.start_zone)
    out["end"] = (stored.end, stored.end_zone)
    out["isAllDay"] = stored.all_day
    return out


def instances(master: Stored) -> list[tuple[str, datetime, datetime]]:
    rec = master.fields.get("recurrence")
    if not rec:
        return []
    return recurrence.expand(rec, master.start, master.end, master.start_zone, master.all_day)


def overlaps(start: datetime, end: datetime, window: tuple[datetime, datetime]) -> bool:
    if start == end:
        return window[0] <= start < window[1]
    return start < window[1] and end > window[0]


def visible(box: Mailbox, stored: Stored, window: tuple[datetime, datetime]) -> list[str | None]:
    """Keys of what calendarView shows for this record: [None] for a single, occurrence keys."""
    if stored.deleted:
        return []
    if not stored.recurring:
        return [None] if overlaps(stored.start, stored.end, window) else []
    out: list[str | None] = []
    for key, start, end in instances(stored):
        if key in stored.cancelled:
            continue
        exception = stored.overrides.get(key)
        if exception is not None:
            start, end = exception.start, exception.end
        if overlaps(start, end, window):
            out.append(key)
    return out
