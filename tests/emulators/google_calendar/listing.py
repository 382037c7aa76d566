"""events.list and events.instances: filters, paging, sync tokens, expansion of recurring events."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from .call import Call, Reply
from .errors import invalid, not_found
from .events import public
from .instances import expand, resolve
from .store import Calendar, State
from .times import format_updated, occurrences, parse_rfc3339, parse_when

NOT_WITH_SYNC_TOKEN = (
    "timeMin",
    "timeMax",
    "updatedMin",
    "privateExtendedProperty",
    "sharedExtendedProperty",
    "iCalUID",
    "q",
    "orderBy",
)
PAGING = ("pageToken", "maxResults", "alt", "prettyPrint", "fields", "key", "quotaUser")


def signature(call: Call) -> str:
    items = sorted((k, v) for k, v in call.query.items() if k not in PAGING)
    return hashlib.sha1(json.dumps(items).encode()).hexdigest()[:16]


def encode_page(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def decode_page(token: str, call: Call) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        assert isinstance(data, dict) and "k" in data and "s" in data
    except (ValueError, AssertionError):
        raise invalid("Invalid page token.", "pageToken") from None
    if data.get("sig") != signature(call):
        raise invalid("The page token does not match the other query parameters.", "pageToken")
    return data


def max_results(call: Call) -> int:
    size = call.integer("maxResults", 250)
    if size < 1:
        raise invalid("Invalid value for maxResults.", "maxResults")
    return min(size, 2500)


def span(resource: dict[str, Any], calendar: Calendar) -> tuple[datetime, datetime]:
    start = parse_when(resource["start"], "start").utc(calendar.tz)
    end = parse_when(resource["end"], "end").utc(calendar.tz)
    return start, end


def property_filters(call: Call, scope: str) -> list[tuple[str, str]]:
    out = []
    for value in call.query.getall(f"{scope}ExtendedProperty", []):
        if "=" not in value:
            raise invalid(f"Invalid {scope}ExtendedProperty: {value}", f"{scope}ExtendedProperty")
        key, _, wanted = value.partition("=")
        out.append((key, wanted))
    return out


class Filters:
    def __init__(self, call: Call, calendar: Calendar) -> None:
        self.calendar = calendar
        self.time_min = self._time(call, "timeMin")
        self.time_max = self._time(call, "timeMax")
        self.updated_min = self._time(call, "updatedMin")
        self.props = {s: property_filters(call, s) for s in ("private", "shared")}
        self.uid = call.param("iCalUID")
        self.q = (call.param("q") or "").lower()

    @staticmethod
    def _time(call: Call, name: str) -> datetime | None:
        value = call.param(name)
        return parse_rfc3339(value, name) if value else None

    def overlaps(self, start: datetime, end: datetime) -> bool:
        if self.time_min is not None and end <= self.time_min:
            return False
        return self.time_max is None or start < self.time_max

    def accepts(self, resource: dict[str, Any], expanded: bool) -> bool:
        for scope, pairs in self.props.items():
            values = resource.get("extendedProperties", {}).get(scope, {})
            if any(values.get(k) != v for k, v in pairs):
                return False
        if self.uid is not None and resource.get("iCalUID") != self.uid:
            return False
        if self.updated_min is not None:
            if datetime.fromisoformat(resource["updated"]) < self.updated_min:
                return False
        if self.q:
            text = " ".join(
                [str(resource.get(k, "")) for k in ("summary", "description", "location")]
                + [a.get("email", "") for a in resource.get("attendees", [])]
            ).lower()
            if self.q not in text:
                return False
        if self.time_min is None and self.time_max is None:
            return True
        if resource.get("recurrence") and not expanded and "recurringEventId" not in resource:
            return any(
                self.overlaps(o.start.utc(self.calendar.tz), o.end.utc(self.calendar.tz))
                for o in occurrences(resource, self.calendar.tz, self.time_max)
            )
        return self.overlaps(*span(resource, self.calendar))


def view(
    calendar: Calendar, single: bool, until: datetime | None
) -> list[tuple[list[Any], dict[str, Any], int, bool]]:
    """(sort key, resource, change number, cancelled-exception-of-live-master) per listed item."""
    out = []
    for stored in sorted(calendar.events.values(), key=lambda s: s.idx):
        resource = stored.resource
        master_id = resource.get("recurringEventId")
        if master_id is not None:
            if single:
                continue  # exceptions come with their master's instances
            master = calendar.find(master_id)
            live_master = master is not None and not master.cancelled
            out.append(([stored.idx, ""], resource, stored.seq, live_master))
        elif single and stored.recurring and not stored.cancelled:
            for suffix, instance, seq in expand(calendar, stored, until):
                out.append(([stored.idx, suffix], instance, seq, False))
        else:
            out.append(([stored.idx, ""], resource, stored.seq, False))
    return out


def list_events(state: State, call: Call, calendar: Calendar) -> Reply:
    size = max_results(call)
    single = call.flag("singleEvents")
    show_deleted = call.flag("showDeleted")
    sync_token = call.param("syncToken")
    page = decode_page(call.param("pageToken") or "", call) if call.param("pageToken") else None
    since = None
    if sync_token is not None:
        clash = [name for name in NOT_WITH_SYNC_TOKEN if name in call.query]
        if clash:
            raise invalid(f"Sync token cannot be used with {', '.join(clash)}.", "syncToken")
        since = calendar.read_sync_token(sync_token)
    order = call.param("orderBy")
    if order not in (None, "startTime", "updated"):
        raise invalid(f"Invalid value for orderBy: {order}", "orderBy")
    if order == "startTime" and not single:
        raise invalid("The requested ordering is not available for the particular query.")
    filters = Filters(call, calendar)
    snapshot = page["s"] if page else calendar.seq
    rows = []
    for key, resource, seq, cancelled_instance in view(calendar, single, filters.time_max):
        if since is not None and seq <= since:
            continue
        if resource.get("status") == "cancelled":
            visible = since is not None or show_deleted or (cancelled_instance and not single)
            if not visible:
                continue
        if since is None and not filters.accepts(resource, expanded=single):
            continue
        if order == "startTime":
            key = [span(resource, calendar)[0].isoformat(), *key]
        elif order == "updated":
            key = [resource["updated"], *key]
        rows.append((key, resource))
    rows.sort(key=lambda row: row[0])
    if page is not None:
        rows = [row for row in rows if row[0] > page["k"]]
    chunk = rows[:size]
    body = envelope(calendar, [public(state, r) for _, r in chunk])
    if len(rows) > size:
        body["nextPageToken"] = encode_page(
            {"k": chunk[-1][0], "s": snapshot, "sig": signature(call)}
        )
    else:
        body["nextSyncToken"] = calendar.sync_token(snapshot)
    return Reply(200, body)


def envelope(calendar: Calendar, items: list[dict[str, Any]]) -> dict[str, Any]:
    latest = max((e.resource["updated"] for e in calendar.events.values()), default=None)
    return {
        "kind": "calendar#events",
        "etag": f'"p{calendar.seq:012d}"',
        "summary": calendar.summary,
        "description": "",
        "updated": latest or format_updated(datetime.now(UTC)),
        "timeZone": calendar.time_zone,
        "accessRole": "owner",
        "defaultReminders": [],
        "items": items,
    }


def list_instances(state: State, call: Call, calendar: Calendar, event_id: str) -> Reply:
    stored, virtual = resolve(calendar, event_id)
    if stored is None or virtual is not None:
        raise not_found()
    size = max_results(call)
    show_deleted = call.flag("showDeleted")
    page = decode_page(call.param("pageToken") or "", call) if call.param("pageToken") else None
    filters = Filters(call, calendar)
    original = call.param("originalStart")
    if not stored.recurring:
        rows = [([""], stored.resource)]
    else:
        rows = [([suffix], r) for suffix, r, _ in expand(calendar, stored, filters.time_max)]
    kept = []
    for key, resource in rows:
        if resource.get("status") == "cancelled" and not show_deleted:
            continue
        if original and resource.get("originalStartTime", {}).get("dateTime") != original:
            continue
        if filters.accepts(resource, expanded=True) and (page is None or key > page["k"]):
            kept.append((key, resource))
    chunk = kept[:size]
    body = envelope(calendar, [public(state, r) for _, r in chunk])
    if len(kept) > size:
        body["nextPageToken"] = encode_page(
            {"k": chunk[-1][0], "s": calendar.seq, "sig": signature(call)}
        )
    return Reply(200, body)
