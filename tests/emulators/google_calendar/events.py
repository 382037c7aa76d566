"""events.insert/get/patch/update/delete/import: the write side of the events resource."""

from __future__ import annotations

import copy
import re
import secrets
from typing import Any

from .call import Call, Reply
from .errors import ApiError, invalid, not_found
from .instances import resolve
from .store import Calendar, State, StoredEvent, WriteRecord
from .times import validate_times

CLIENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
ID_ALPHABET = "abcdefghijklmnopqrstuv0123456789"
SERVER_FIELDS = ("kind", "etag", "created", "updated", "htmlLink", "creator", "iCalUID")
INSTANCE_FIELDS = ("recurringEventId", "originalStartTime")
TIME_FIELDS = ("start", "end", "recurrence")


def new_id() -> str:
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(26))


def public(state: State, resource: dict[str, Any]) -> dict[str, Any]:
    """The event as the API shows it; deleted ones shrink to the fields Google guarantees
    ("Deleted events are only guaranteed to have the id field populated": no ``updated``;
    a cancelled instance keeps what names its occurrence)."""
    if resource.get("status") == "cancelled" and state.minimal_cancelled:
        keep = ("kind", "etag", "id", "status", *INSTANCE_FIELDS)
        return {k: copy.deepcopy(v) for k, v in resource.items() if k in keep}
    return copy.deepcopy(resource)


def record(state: State, call: Call, method: str, event_id: str) -> None:
    state.sent_updates.append(WriteRecord(method, event_id, call.param("sendUpdates")))
    if call.param("sendNotifications") is not None:
        state.send_notifications.append((method, event_id, call.param("sendNotifications")))


def check_send_updates(call: Call) -> None:
    value = call.param("sendUpdates")
    if value is not None and value not in ("all", "externalOnly", "none"):
        raise invalid(f"Invalid value for sendUpdates: {value}", "sendUpdates")


def check_if_match(call: Call, etag: str) -> None:
    wanted = call.headers.get("If-Match")
    if wanted is not None and wanted != "*" and wanted != etag:
        raise ApiError(412, "conditionNotMet", location="If-Match")


def normalise(resource: dict[str, Any], calendar: Calendar) -> None:
    validate_times(resource, calendar.tz)
    status = resource.setdefault("status", "confirmed")
    if status not in ("confirmed", "tentative", "cancelled"):
        raise invalid(f"Invalid value for status: {status}")
    for key, allowed in (
        ("transparency", ("opaque", "transparent")),
        ("visibility", ("default", "public", "private", "confidential")),
    ):
        if key in resource and resource[key] not in allowed:
            raise invalid(f"Invalid value for {key}: {resource[key]}")
    attendees = resource.get("attendees")
    if attendees is not None:
        if not isinstance(attendees, list):
            raise invalid("Invalid attendees.")
        for attendee in attendees:
            if not isinstance(attendee, dict) or not attendee.get("email"):
                raise ApiError(400, "required", "Missing attendee email.")
            attendee.setdefault("responseStatus", "needsAction")
    ext = resource.get("extendedProperties")
    if ext is not None:
        for scope in ("private", "shared"):
            values = ext.get(scope, {})
            if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
                raise invalid(f"Invalid extendedProperties.{scope}.")


def fresh(calendar: Calendar, body: dict[str, Any], event_id: str) -> dict[str, Any]:
    resource = {
        k: v for k, v in body.items() if k not in SERVER_FIELDS and k not in INSTANCE_FIELDS
    }
    resource.update(
        kind="calendar#event",
        id=event_id,
        iCalUID=body.get("iCalUID") or f"{event_id}@google.com",
        htmlLink=f"https://www.google.com/calendar/event?eid={event_id}",
        creator={"email": calendar.id, "self": True},
    )
    resource.setdefault("organizer", {"email": calendar.id, "self": True})
    resource.setdefault("sequence", 0)
    resource.setdefault("reminders", {"useDefault": True})
    resource.setdefault("eventType", "default")
    return resource


def insert(state: State, call: Call, calendar: Calendar) -> Reply:
    check_send_updates(call)
    body = call.json()
    event_id = body.get("id")
    if event_id is not None:
        if not isinstance(event_id, str) or not CLIENT_ID.match(event_id):
            raise invalid("Invalid resource id value.", "id")
        if calendar.find(event_id) is not None:
            raise ApiError(409, "duplicate")
    uid = body.get("iCalUID")
    if uid and (other := calendar.by_ical_uid(uid)) is not None and not other.cancelled:
        raise ApiError(409, "duplicate")
    # "organizer: ... Read-only, except when importing an event": an insert's is the calendar.
    resource = fresh(
        calendar, {k: v for k, v in body.items() if k != "organizer"}, event_id or new_id()
    )
    normalise(resource, calendar)
    stored = state.save(calendar, resource, created=True)
    record(state, call, "insert", stored.id)
    return Reply(200, public(state, stored.resource))


def import_(state: State, call: Call, calendar: Calendar) -> Reply:
    body = call.json()
    uid = body.get("iCalUID")
    if not uid:
        raise ApiError(400, "required", "Missing iCalUID.")
    existing = calendar.by_ical_uid(uid)
    if existing is not None:
        resource = fresh(calendar, body, existing.id)
        resource["created"] = existing.resource.get("created")
        normalise(resource, calendar)
        stored = state.save(calendar, resource, created=False)
    else:
        event_id = body.get("id")
        if event_id is not None:
            if not isinstance(event_id, str) or not CLIENT_ID.match(event_id):
                raise invalid("Invalid resource id value.", "id")
            if calendar.find(event_id) is not None:
                raise ApiError(409, "duplicate")
        resource = fresh(calendar, body, event_id or new_id())
        normalise(resource, calendar)
        stored = state.save(calendar, resource, created=True)
    record(state, call, "import", stored.id)
    return Reply(200, public(state, stored.resource))


def current(calendar: Calendar, event_id: str) -> tuple[dict[str, Any], bool]:
    """(resource, is_virtual_instance) or 404."""
    stored, virtual = resolve(calendar, event_id)
    if stored is None:
        raise not_found()
    if virtual is not None:
        return virtual, True
    return stored.resource, False


def get(state: State, call: Call, calendar: Calendar, event_id: str) -> Reply:
    resource, _ = current(calendar, event_id)
    if call.headers.get("If-None-Match") == resource["etag"]:
        return Reply(304)
    return Reply(200, public(state, resource), {"ETag": resource["etag"]})


def merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def rewrite(state: State, call: Call, calendar: Calendar, event_id: str, method: str) -> Reply:
    check_send_updates(call)
    body = call.json()
    before, _ = current(calendar, event_id)
    check_if_match(call, before["etag"])
    body = {k: v for k, v in body.items() if k != "organizer"}  # read-only but on import
    if method == "patch":
        resource = copy.deepcopy(before)
        merge(resource, {k: v for k, v in body.items() if k not in SERVER_FIELDS})
    else:
        keep = {k: before[k] for k in (*SERVER_FIELDS, *INSTANCE_FIELDS) if k in before}
        resource = {k: v for k, v in body.items() if k not in SERVER_FIELDS}
        resource.update(keep)
        resource.setdefault("organizer", before.get("organizer"))
    resource["id"] = before["id"]
    for key in INSTANCE_FIELDS:
        if key in before:
            resource[key] = before[key]
    sequence = before.get("sequence", 0)
    wanted = body.get("sequence")
    if wanted is not None:
        if not isinstance(wanted, int) or wanted < sequence:
            raise invalid(
                "Invalid sequence value. The specified sequence number is below the current "
                "sequence number of the resource."
            )
        resource["sequence"] = wanted
    elif any(resource.get(k) != before.get(k) for k in TIME_FIELDS):
        resource["sequence"] = sequence + 1
    else:
        resource["sequence"] = sequence
    normalise(resource, calendar)
    stored = state.save(calendar, resource, created=calendar.find(before["id"]) is None)
    if stored.cancelled and stored.recurring:
        cancel_exceptions(state, calendar, stored)
    record(state, call, method, stored.id)
    return Reply(200, public(state, stored.resource))


def cancel_exceptions(state: State, calendar: Calendar, master: StoredEvent) -> None:
    for exception in calendar.exceptions_of(master.id):
        if not exception.cancelled:
            resource = copy.deepcopy(exception.resource)
            resource["status"] = "cancelled"
            state.save(calendar, resource, created=False)


def delete(state: State, call: Call, calendar: Calendar, event_id: str) -> Reply:
    check_send_updates(call)
    before, _ = current(calendar, event_id)
    if before.get("status") == "cancelled":
        raise ApiError(410, "deleted")
    check_if_match(call, before["etag"])
    resource = copy.deepcopy(before)
    resource["status"] = "cancelled"
    stored = state.save(calendar, resource, created=calendar.find(before["id"]) is None)
    if stored.recurring:
        cancel_exceptions(state, calendar, stored)
    record(state, call, "delete", stored.id)
    return Reply(204)
