"""Google Calendar v3 event JSON ⇄ RemoteEvent. Pure: no I/O, no sync rules.

Inbound, a series is its master plus the exception instances Google keeps beside it
(``recurringEventId`` + ``originalStartTime``): cancelled exceptions become EXDATE lines,
the others RemoteOverrides keyed by RECURRENCE-ID (``YYYY-MM-DD`` for all-day series, else
the UTC instant as ``datetime.isoformat()``), as bridge.backends.base documents.

Outbound, ``event_body`` never carries attendees (invariant 3) and ``override_body`` writes
one overridden occurrence onto its instance (id ``<master id>_<suffix>``).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bridge.backends.base import (
    Change,
    Deleted,
    RemoteAttendee,
    RemoteEvent,
    RemoteOverride,
)
from bridge.backends.recurrence import normalise_recurrence
from bridge.model import BusyStatus

MEETING_ID_KEY = "crmMeetingId"
INVITE_COPY_KEY = "crmInviteCopy"

PARTSTAT = {
    "needsAction": "NEEDS-ACTION",
    "accepted": "ACCEPTED",
    "declined": "DECLINED",
    "tentative": "TENTATIVE",
}


# --- small helpers --------------------------------------------------------------------------


def zone(name: str | None, default: tzinfo = UTC) -> tzinfo:
    """The tzinfo of an IANA name; ``default`` for none or an unknown one."""
    if not name:
        return default
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return default


def parse_rfc3339(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_when(value: dict[str, Any], calendar_tz: tzinfo = UTC) -> tuple[datetime, bool]:
    """(aware datetime, all_day) of a Google start/end/originalStartTime object.

    All-day dates become midnight UTC of the date (the RemoteEvent convention).
    """
    if value.get("date"):
        return datetime.combine(date.fromisoformat(value["date"]), time(), UTC), True
    instant = datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00"))
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=zone(value.get("timeZone"), calendar_tz))
    return instant, False


def when_json(value: datetime, all_day: bool, tz_name: str) -> dict[str, str]:
    if all_day:
        return {"date": value.astimezone(UTC).date().isoformat()}
    local = value.astimezone(zone(tz_name))
    return {"dateTime": local.isoformat(), "timeZone": tz_name if tz_name else "UTC"}


def recurrence_id(original: dict[str, Any], calendar_tz: tzinfo = UTC) -> str:
    """RECURRENCE-ID key (bridge.model.Recurrence.overrides format) of an originalStartTime."""
    when, all_day = parse_when(original, calendar_tz)
    return when.date().isoformat() if all_day else when.astimezone(UTC).isoformat()


def instance_suffix(rec_id: str) -> str:
    """Google's instance-id suffix for a RECURRENCE-ID key: 20310502 or 20310317T090000Z."""
    if len(rec_id) == 10:
        return rec_id.replace("-", "")
    return parse_rfc3339(rec_id).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def instance_id(master_id: str, rec_id: str) -> str:
    return f"{master_id}_{instance_suffix(rec_id)}"


def _suffix_original(event_id: str) -> dict[str, str] | None:
    """originalStartTime recovered from an instance id, for stripped cancelled items."""
    _, sep, suffix = event_id.rpartition("_")
    if not sep:
        return None
    try:
        if "T" in suffix:
            when = datetime.strptime(suffix, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            return {"dateTime": when.isoformat()}
        return {"date": datetime.strptime(suffix, "%Y%m%d").date().isoformat()}
    except ValueError:
        return None


def original_start(item: dict[str, Any]) -> dict[str, Any] | None:
    return item.get("originalStartTime") or _suffix_original(item.get("id", ""))


def exdate_line(original: dict[str, Any], calendar_tz: tzinfo = UTC) -> str:
    when, all_day = parse_when(original, calendar_tz)
    if all_day:
        return f"EXDATE;VALUE=DATE:{when.strftime('%Y%m%d')}"
    return f"EXDATE:{when.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}"


# --- recurrence lines -----------------------------------------------------------------------


def _date_values(head: str, value: str, default_tz: tzinfo) -> tuple[str, list[str]]:
    """(parameter text, values in UTC or VALUE=DATE) of one EXDATE/RDATE line."""
    params = [p for p in head.split(";")[1:] if p]
    tz = default_tz
    keep: list[str] = []
    is_date = False
    for param in params:
        key, _, val = param.partition("=")
        if key.upper() == "TZID":
            tz = zone(val, default_tz)
        elif key.upper() == "VALUE" and val.upper() == "DATE":
            is_date = True
        elif key.upper() != "VALUE":
            keep.append(param)
    out = []
    for raw in value.split(","):
        text = raw.strip().upper()
        if not text:
            continue
        if is_date or len(text) == 8:
            out.append(text[:8])
            is_date = True
            continue
        if text.endswith("Z"):
            when = datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        else:
            when = datetime.strptime(text, "%Y%m%dT%H%M%S").replace(tzinfo=tz)
        out.append(when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"))
    param_text = ";VALUE=DATE" if is_date else ""
    return param_text + "".join(f";{p}" for p in keep), out


def recurrence_from_google(lines: list[str], start_tz: tzinfo = UTC) -> tuple[str, ...]:
    """Google's recurrence lines with EXDATE/RDATE values in UTC (or VALUE=DATE)."""
    out: list[str] = []
    for line in lines:
        head, _, value = line.strip().partition(":")
        name = head.split(";")[0].upper()
        if name in ("EXDATE", "RDATE"):
            params, values = _date_values(head, value, start_tz)
            out.extend(f"{name}{params}:{v}" for v in values)
        elif line.strip():
            out.append(line.strip())
    return tuple(normalise_recurrence(out))


# --- inbound --------------------------------------------------------------------------------


def busy_from_google(item: dict[str, Any]) -> BusyStatus:
    if item.get("eventType") == "outOfOffice":
        return BusyStatus.OUT_OF_OFFICE
    if item.get("transparency") == "transparent":
        return BusyStatus.FREE
    if item.get("status") == "tentative":
        return BusyStatus.TENTATIVE
    return BusyStatus.BUSY


def _tags(item: dict[str, Any]) -> dict[str, str]:
    return (item.get("extendedProperties") or {}).get("private") or {}


def is_deleted(item: dict[str, Any]) -> bool:
    return item.get("status") == "cancelled"


def is_exception(item: dict[str, Any]) -> bool:
    return bool(item.get("recurringEventId"))


def is_invite_copy(item: dict[str, Any]) -> bool:
    return _tags(item).get(INVITE_COPY_KEY) == "true"


def _updated(item: dict[str, Any]) -> datetime | None:
    return parse_rfc3339(item["updated"]) if item.get("updated") else None


def event_id_for(idempotency_key: str) -> str:
    """The client-chosen event id for a key: base32hex of sha256, lowercase (52 of a-v, 0-9)."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).digest()
    return base64.b32hexencode(digest).decode("ascii").rstrip("=").lower()


def deleted_from_google(item: dict[str, Any]) -> Deleted:
    """A deleted event: Google guarantees only its id (and status); ``updated``, when the
    answer carries it, dates the deletion."""
    return Deleted(item["id"], _updated(item))


def override_from_google(item: dict[str, Any], calendar_tz: tzinfo = UTC) -> RemoteOverride:
    original = original_start(item)
    assert original is not None
    start, _ = parse_when(item["start"], calendar_tz)
    end, _ = parse_when(item["end"], calendar_tz)
    return RemoteOverride(
        recurrence_id=recurrence_id(original, calendar_tz),
        start=start,
        end=end,
        subject=item.get("summary", ""),
        location=item.get("location", ""),
        description=item.get("description", ""),
        busy=busy_from_google(item),
    )


def event_from_google(
    item: dict[str, Any],
    exceptions: list[dict[str, Any]] | tuple[dict[str, Any], ...] = (),
    calendar_tz: str = "UTC",
) -> Change:
    """A master (or single event) and its exception instances as one RemoteEvent; Deleted
    when the master is cancelled."""
    if is_deleted(item):
        return deleted_from_google(item)
    cal_tz = zone(calendar_tz)
    start, all_day = parse_when(item["start"], cal_tz)
    end, _ = parse_when(item["end"], cal_tz)
    tz_name = "UTC" if all_day else (item["start"].get("timeZone") or calendar_tz or "UTC")
    recurrence = list(item.get("recurrence") or [])
    overrides: dict[str, RemoteOverride] = {}
    if recurrence:
        for exception in exceptions:
            original = original_start(exception)
            if original is None:
                continue
            if is_deleted(exception):
                recurrence.append(exdate_line(original, cal_tz))
                overrides.pop(recurrence_id(original, cal_tz), None)
            else:
                override = override_from_google(exception, cal_tz)
                overrides[override.recurrence_id] = override
    tags = _tags(item)
    event = RemoteEvent(
        remote_id=item["id"],
        start=start,
        end=end,
        etag=item.get("etag", ""),
        crm_meeting_id=tags.get(MEETING_ID_KEY),
        is_invite_copy=tags.get(INVITE_COPY_KEY) == "true",
        subject=item.get("summary", ""),
        location=item.get("location", ""),
        description=item.get("description", ""),
        all_day=all_day,
        timezone=tz_name,
        recurrence=recurrence_from_google(recurrence, zone(tz_name, cal_tz)),
        private=item.get("visibility") in ("private", "confidential"),
        busy=busy_from_google(item),
        attendees=tuple(
            RemoteAttendee(
                a["email"],
                a.get("displayName", ""),
                PARTSTAT.get(a.get("responseStatus", ""), "NEEDS-ACTION"),
            )
            for a in item.get("attendees") or []
            if a.get("email") and not a.get("resource")
        ),
        updated=_updated(item),
    )
    # An exception that looks exactly like the occurrence the master makes is no override
    # (Google keeps such exceptions after an edit is undone).
    kept = [o for o in overrides.values() if o != plain_occurrence(event, o.recurrence_id)]
    return replace(event, overrides=tuple(sorted(kept, key=lambda o: o.recurrence_id)))


# --- outbound -------------------------------------------------------------------------------


def _busy_fields(busy: BusyStatus) -> dict[str, str]:
    return {
        "transparency": "transparent" if busy is BusyStatus.FREE else "opaque",
        "status": "tentative" if busy is BusyStatus.TENTATIVE else "confirmed",
    }


def event_body(event: RemoteEvent, *, event_id: str | None = None) -> dict[str, Any]:
    """The JSON written for ``event``: never attendees, always the CRM tag.

    ``eventType`` is only written on insert (``event_id`` given): Google does not let an
    existing event change its type, so out-of-office is set when the event is created.
    """
    body: dict[str, Any] = {
        "summary": event.subject,
        "location": event.location,
        "description": event.description,
        "start": when_json(event.start, event.all_day, event.timezone),
        "end": when_json(event.end, event.all_day, event.timezone),
        "recurrence": list(event.recurrence) or None,  # null clears it in a patch
        "visibility": "private" if event.private else "default",
        **_busy_fields(event.busy),
    }
    tags: dict[str, str] = {}
    if event.crm_meeting_id is not None:
        tags[MEETING_ID_KEY] = event.crm_meeting_id
    if event.is_invite_copy:
        tags[INVITE_COPY_KEY] = "true"
    if tags:
        body["extendedProperties"] = {"private": tags}
    if event_id is not None:
        body["id"] = event_id
        if not event.recurrence:
            del body["recurrence"]
        if event.busy is BusyStatus.OUT_OF_OFFICE and not event.all_day:
            body["eventType"] = "outOfOffice"
    return body


def override_body(event: RemoteEvent, override: RemoteOverride) -> dict[str, Any]:
    """The patch that makes one instance of ``event``'s series look like ``override``."""
    return {
        "summary": override.subject,
        "location": override.location,
        "description": override.description,
        "start": when_json(override.start, event.all_day, event.timezone),
        "end": when_json(override.end, event.all_day, event.timezone),
        **_busy_fields(override.busy),
    }


def plain_occurrence(event: RemoteEvent, rec_id: str) -> RemoteOverride:
    """The occurrence at ``rec_id`` as the master alone would make it (to undo an override)."""
    start = parse_rfc3339(rec_id) if len(rec_id) > 10 else datetime.fromisoformat(rec_id)
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    return RemoteOverride(
        recurrence_id=rec_id,
        start=start,
        end=start + (event.end - event.start),
        subject=event.subject,
        location=event.location,
        description=event.description,
        busy=event.busy,
    )


def without_bookkeeping(event: RemoteEvent) -> RemoteEvent:
    """``event`` with the fields sync does not compare cleared (for equality checks)."""
    return replace(event, remote_id="", etag="", updated=None, attendees=())
