"""Rendering stored events, occurrences and exceptions as Graph event JSON."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from . import bodies, times
from .errors import item_not_found
from .events import View, instances
from .store import Mailbox, Stored, occurrence_id


def ident(stored: Stored, view: View) -> str:
    return stored.immutable_id if view.immutable else stored.rest_id


def render(
    box: Mailbox,
    stored: Stored,
    view: View,
    *,
    key: str | None = None,
    window: tuple[datetime, datetime] | None = None,
    expand_ids: set[str] | None = None,
) -> dict[str, Any]:
    """JSON of a single/master (key None) or of the occurrence/exception at `key`."""
    source = stored
    kind = "seriesMaster" if stored.recurring else "singleInstance"
    event_id = ident(stored, view)
    extra: dict[str, Any] = {}
    change_key = stored.change_key()
    etag = stored.etag()
    start, end = stored.start, stored.end
    if key is not None:
        exception = stored.overrides.get(key)
        slot = next((s for s in instances(stored) if s[0] == key), None)
        if slot is None and exception is None:
            raise item_not_found()
        if exception is not None:
            source, kind = exception, "exception"
            start, end = exception.start, exception.end
            change_key, etag = exception.change_key(), exception.etag()
        else:
            kind = "occurrence"
            assert slot is not None
            start, end = slot[1], slot[2]
        event_id = occurrence_id(ident(stored, view), key)
        extra = {"seriesMasterId": ident(stored, view), "originalStart": key}
    fields = copy.deepcopy(stored.fields)
    if source is not stored:
        fields.update(copy.deepcopy(source.fields))
    if key is not None:
        fields.pop("recurrence", None)
    body_value = fields.pop("body", None)
    out: dict[str, Any] = {
        "@odata.etag": etag,
        "id": event_id,
        "createdDateTime": times.iso_utc(stored.created),
        "lastModifiedDateTime": times.iso_utc(source.modified),
        "changeKey": change_key,
        "categories": fields.pop("categories", []),
        "transactionId": fields.pop("transactionId", None) if key is None else None,
        "originalStartTimeZone": stored.start_zone,
        "originalEndTimeZone": stored.end_zone,
        "iCalUId": stored.ical_uid,
        "uid": stored.ical_uid,
        "reminderMinutesBeforeStart": fields.pop("reminderMinutesBeforeStart", 15),
        "isReminderOn": fields.pop("isReminderOn", True),
        "hasAttachments": False,
        "subject": fields.pop("subject", ""),
        "bodyPreview": bodies.preview(body_value),
        "importance": fields.pop("importance", "normal"),
        "sensitivity": fields.pop("sensitivity", "normal"),
        "isAllDay": stored.all_day,
        "isCancelled": False,
        "isOrganizer": stored.is_organizer,
        "responseRequested": fields.pop("responseRequested", True),
        "seriesMasterId": None,
        "showAs": fields.pop("showAs", "busy"),
        "type": kind,
        "webLink": f"https://outlook.office365.com/owa/?itemid={event_id}&exvsurl=1&path=/calendar/item",
        "isOnlineMeeting": fields.pop("isOnlineMeeting", False),
        "onlineMeetingProvider": fields.pop("onlineMeetingProvider", "unknown"),
        "allowNewTimeProposals": fields.pop("allowNewTimeProposals", True),
        "hideAttendees": fields.pop("hideAttendees", False),
        "responseStatus": {
            "response": (
                "organizer"
                if stored.is_organizer
                else fields.pop("responseStatus", None) or "notResponded"
            ),
            "time": "0001-01-01T00:00:00Z",
        },
        "body": bodies.render(body_value, view.text),
        "start": (
            times.render_day(start.date(), view.zone)
            if stored.all_day
            else times.render(start, view.zone)
        ),
        "end": (
            times.render_day(end.date(), view.zone)
            if stored.all_day
            else times.render(end, view.zone)
        ),
        "location": fields.pop("location", {"displayName": "", "locationType": "default"}),
        "locations": fields.pop("locations", []),
        "recurrence": fields.pop("recurrence", None),
        "attendees": fields.pop("attendees", []),
        "organizer": stored.organizer,
        **extra,
    }
    if expand_ids is not None:
        out["singleValueExtendedProperties"] = [
            {"id": pid, "value": value}
            for lowered, (pid, value) in stored.ext.items()
            if lowered in expand_ids
        ]
    return out
