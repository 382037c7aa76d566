"""Microsoft Graph event JSON ⇄ RemoteEvent. Pure: no I/O, no sync rules.

Inbound, a series is its seriesMaster plus the instances /events/{id}/instances lists
(occurrences and exceptions): exceptions become RemoteOverrides keyed by RECURRENCE-ID
(``YYYY-MM-DD`` for all-day series, else the UTC instant as ``datetime.isoformat()``), and
an occurrence the rule promises that the listing lacks was cancelled: an EXDATE line.
Times come back as Graph sends them (UTC unless asked otherwise) and are made aware;
the event's zone is ``originalStartTimeZone`` (a Windows zone name is mapped to IANA).

Outbound, bodies never carry attendees (invariant 3); texts are written as text bodies,
the zone as the IANA name, all-day events at midnight UTC.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bridge.backends.base import RemoteAttendee, RemoteEvent, RemoteOverride
from bridge.backends.graph import recurrence as graph_rec
from bridge.backends.microsoft_tags import (
    CRM_ID_NAME,
    INVITE_COPY_NAME,
    INVITE_COPY_VALUE,
    graph_property_id,
)
from bridge.model import BusyStatus

CRM_ID_PROPERTY = graph_property_id(CRM_ID_NAME)
INVITE_PROPERTY = graph_property_id(INVITE_COPY_NAME)
#: On a single event written for one occurrence of a series Graph cannot express
#: (bridge.backends.graph.occurrences): the group and the series, as JSON. Graph only.
OCCURRENCE_PROPERTY = graph_property_id("CrmOccurrenceOf")
#: $expand of our tags on a GET or list.
EXPAND_TAGS = (
    f"singleValueExtendedProperties($filter=id eq '{CRM_ID_PROPERTY}' or id eq "
    f"'{INVITE_PROPERTY}' or id eq '{OCCURRENCE_PROPERTY}')"
)

SHOW_AS = {
    "free": BusyStatus.FREE,
    "tentative": BusyStatus.TENTATIVE,
    "busy": BusyStatus.BUSY,
    "oof": BusyStatus.OUT_OF_OFFICE,
    "workingelsewhere": BusyStatus.BUSY,
    "unknown": BusyStatus.BUSY,
}
SHOW_AS_OF = {
    BusyStatus.FREE: "free",
    BusyStatus.TENTATIVE: "tentative",
    BusyStatus.BUSY: "busy",
    BusyStatus.OUT_OF_OFFICE: "oof",
}
RESPONSE = {
    "accepted": "ACCEPTED",
    "declined": "DECLINED",
    "tentativelyaccepted": "TENTATIVE",
    "none": "NEEDS-ACTION",
    "notresponded": "NEEDS-ACTION",
    "organizer": "ACCEPTED",
}


# --- zones and times ------------------------------------------------------------------------


def iana(name: str | None) -> str:
    """The IANA name of a Graph zone name (IANA already, or a Windows zone name)."""
    if not name:
        return "UTC"
    try:
        ZoneInfo(name)
        return name
    except (ZoneInfoNotFoundError, ValueError):
        pass
    from exchangelib.winzone import MS_TIMEZONE_TO_IANA_MAP

    mapped = MS_TIMEZONE_TO_IANA_MAP.get(name)
    return mapped or "UTC"


def zone(name: str | None) -> tzinfo:
    found = iana(name)
    return UTC if found in ("UTC", "Etc/UTC") else ZoneInfo(found)


def parse_time(value: dict[str, Any] | None) -> datetime:
    """An aware datetime of a Graph dateTimeTimeZone ({dateTime, timeZone})."""
    if not value or not value.get("dateTime"):
        raise ValueError("a Graph event without start or end")
    text = str(value["dateTime"]).replace("Z", "+00:00")
    head, dot, fraction = text.partition(".")
    if dot:  # Graph writes 7 fraction digits; Python reads 6
        digits = "".join(ch for ch in fraction if ch.isdigit())[:6]
        rest = fraction[len("".join(ch for ch in fraction if ch.isdigit())) :]
        text = f"{head}.{digits}{rest}"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone(value.get("timeZone")))
    return parsed


def parse_instant(text: str) -> datetime:
    return parse_time({"dateTime": text, "timeZone": "UTC"}).astimezone(UTC)


def when_json(value: datetime, tz_name: str, all_day: bool) -> dict[str, str]:
    if all_day:
        day = value.astimezone(UTC).date()
        return {"dateTime": f"{day.isoformat()}T00:00:00", "timeZone": "UTC"}
    local = value.astimezone(zone(tz_name)).replace(tzinfo=None)
    return {"dateTime": local.isoformat(timespec="seconds"), "timeZone": iana(tz_name)}


def _all_day_edge(value: dict[str, Any]) -> datetime:
    """Midnight UTC of an all-day event's date (Graph gives midnight in its zone)."""
    local = parse_time(value)
    named = value.get("timeZone")
    day = local.astimezone(zone(named)).date() if named else local.date()
    return datetime.combine(day, time(), UTC)


def recurrence_id(original: datetime, all_day: bool, series_zone: tzinfo) -> str:
    if all_day:
        return original.astimezone(series_zone).date().isoformat() if series_zone else ""
    return original.astimezone(UTC).isoformat()


# --- tags -----------------------------------------------------------------------------------


def tags_of(item: dict[str, Any]) -> dict[str, str]:
    """Our extended properties on ``item`` (id -> value), when it was read with them."""
    props = item.get("singleValueExtendedProperties") or []
    return {str(p.get("id", "")).lower(): str(p.get("value", "")) for p in props}


def crm_id_of(tags: dict[str, str]) -> str | None:
    return tags.get(CRM_ID_PROPERTY.lower()) or None


def is_invite_copy(tags: dict[str, str]) -> bool:
    return tags.get(INVITE_PROPERTY.lower(), "").lower() == INVITE_COPY_VALUE


def tags_for(event: RemoteEvent) -> dict[str, str]:
    """The tags an event we wrote carries (as tags_of reads them)."""
    tags = {CRM_ID_PROPERTY.lower(): event.crm_meeting_id or ""}
    if event.is_invite_copy:
        tags[INVITE_PROPERTY.lower()] = INVITE_COPY_VALUE
    return tags


def tag_body(meeting_id: str) -> dict[str, Any]:
    return {"singleValueExtendedProperties": [{"id": CRM_ID_PROPERTY, "value": meeting_id}]}


# --- inbound --------------------------------------------------------------------------------


def _texts(item: dict[str, Any]) -> dict[str, str]:
    body = item.get("body") or {}
    content = str(body.get("content") or "")
    if str(body.get("contentType", "text")).lower() == "html":
        content = _html_text(content)
    return {
        "subject": str(item.get("subject") or ""),
        "location": str((item.get("location") or {}).get("displayName") or ""),
        "description": content,
    }


def _html_text(html: str) -> str:
    from html.parser import HTMLParser

    parts: list[str] = []

    class _Text(HTMLParser):
        def handle_data(self, data: str) -> None:
            parts.append(data)

        def handle_starttag(self, tag: str, attrs: Any) -> None:
            if tag in ("br", "p", "div"):
                parts.append("\n")

    _Text().feed(html)
    return "".join(parts).strip()


def _times(item: dict[str, Any]) -> tuple[datetime, datetime, bool]:
    all_day = bool(item.get("isAllDay"))
    if all_day:
        return _all_day_edge(item["start"]), _all_day_edge(item["end"]), True
    return parse_time(item["start"]), parse_time(item["end"]), False


def _busy(item: dict[str, Any]) -> BusyStatus:
    return SHOW_AS.get(str(item.get("showAs") or "busy").lower(), BusyStatus.BUSY)


def attendees_of(item: dict[str, Any]) -> tuple[RemoteAttendee, ...]:
    out = []
    for attendee in item.get("attendees") or []:
        address = (attendee.get("emailAddress") or {}).get("address")
        if not address:
            continue
        name = (attendee.get("emailAddress") or {}).get("name") or ""
        status = str((attendee.get("status") or {}).get("response") or "none").lower()
        out.append(RemoteAttendee(address, name, RESPONSE.get(status, "NEEDS-ACTION")))
    return tuple(out)


def organises_meeting(item: dict[str, Any]) -> bool:
    """Whether a write to this event would mail someone: the user organises it and it has
    attendees (Graph mails them on a change of subject, time, place or body, or a delete)."""
    return bool(item.get("attendees")) and item.get("isOrganizer", True) is not False


def single_from_graph(item: dict[str, Any], tags: dict[str, str] | None = None) -> RemoteEvent:
    """A non-recurring event (singleInstance) as a RemoteEvent."""
    return _event(item, tags, (), ())


def _event(
    item: dict[str, Any],
    tags: dict[str, str] | None,
    recurrence: tuple[str, ...],
    overrides: tuple[RemoteOverride, ...],
) -> RemoteEvent:
    tags = tags_of(item) if tags is None else tags
    start, end, all_day = _times(item)
    modified = item.get("lastModifiedDateTime")
    return RemoteEvent(
        remote_id=str(item["id"]),
        etag=str(item.get("@odata.etag") or item.get("changeKey") or ""),
        crm_meeting_id=crm_id_of(tags),
        is_invite_copy=is_invite_copy(tags),
        start=start,
        end=end,
        all_day=all_day,
        timezone="UTC" if all_day else iana(item.get("originalStartTimeZone") or "UTC"),
        recurrence=recurrence,
        overrides=overrides,
        private=str(item.get("sensitivity") or "normal").lower() in ("private", "confidential"),
        busy=_busy(item),
        attendees=attendees_of(item),
        updated=parse_instant(modified) if modified else None,
        **_texts(item),
    )


def series_from_graph(
    master: dict[str, Any],
    instances: list[dict[str, Any]],
    listed_until: datetime,
    tags: dict[str, str] | None = None,
) -> RemoteEvent:
    """A seriesMaster with its instances (occurrences and exceptions up to
    ``listed_until``) as one RemoteEvent."""
    start, _, all_day = _times(master)
    tz_name = "UTC" if all_day else iana(master.get("originalStartTimeZone"))
    rule = graph_rec.from_graph(master.get("recurrence") or {}, tz_name, all_day, start)
    series_zone = zone(tz_name)
    overrides = []
    seen: set[datetime] = set()
    for item in instances:
        original = item.get("originalStart")
        if not original:
            continue
        when = parse_instant(original)
        seen.add(when)
        if str(item.get("type")) != "exception" or item.get("isCancelled"):
            continue
        o_start, o_end, _ = _times(item)
        texts = _texts(item)
        overrides.append(
            RemoteOverride(
                recurrence_id(when, all_day, UTC if all_day else series_zone),
                o_start,
                o_end,
                busy=_busy(item),
                **texts,
            )
        )
    lines = [rule]
    local_start = start.astimezone(series_zone)
    for expected in graph_rec.occurrence_starts(local_start, (rule,), listed_until):
        if expected.astimezone(UTC) in seen:
            continue
        if all_day:
            lines.append(f"EXDATE;VALUE=DATE:{expected.strftime('%Y%m%d')}")
        else:
            lines.append(f"EXDATE:{expected.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}")
    event = _event(master, tags, tuple(lines), ())
    # an exception put back to the master's values is no override (Graph keeps its type)
    kept = [o for o in overrides if o != plain_occurrence(event, o.recurrence_id)]
    return replace(event, overrides=tuple(kept))


# --- outbound -------------------------------------------------------------------------------


def event_body(event: RemoteEvent, *, rule: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON of ``event`` for POST/PATCH /events: every synced field, no attendees.
    ``rule`` is the Graph recurrence JSON of the series (None: not recurring)."""
    tz_name = "UTC" if event.all_day else iana(event.timezone)
    body: dict[str, Any] = {
        "subject": event.subject,
        "body": {"contentType": "text", "content": event.description},
        "location": {"displayName": event.location},
        "start": when_json(event.start, tz_name, event.all_day),
        "end": when_json(event.end, tz_name, event.all_day),
        "isAllDay": event.all_day,
        "sensitivity": "private" if event.private else "normal",
        "showAs": SHOW_AS_OF.get(event.busy, "busy"),
        "recurrence": rule,
    }
    return body


def create_body(event: RemoteEvent, transaction_id: str, rule: dict[str, Any] | None) -> dict:
    body = event_body(event, rule=rule)
    props = []
    if event.crm_meeting_id:
        props.append({"id": CRM_ID_PROPERTY, "value": event.crm_meeting_id})
    if event.is_invite_copy:
        props.append({"id": INVITE_PROPERTY, "value": INVITE_COPY_VALUE})
    if props:
        body["singleValueExtendedProperties"] = props
    return body | {"transactionId": transaction_id}


def override_body(event: RemoteEvent, override: RemoteOverride) -> dict[str, Any]:
    tz_name = "UTC" if event.all_day else iana(event.timezone)
    return {
        "subject": override.subject,
        "body": {"contentType": "text", "content": override.description},
        "location": {"displayName": override.location},
        "start": when_json(override.start, tz_name, event.all_day),
        "end": when_json(override.end, tz_name, event.all_day),
        "showAs": SHOW_AS_OF.get(override.busy, "busy"),
    }


def plain_occurrence(event: RemoteEvent, rec_id: str) -> RemoteOverride:
    """The occurrence ``rec_id`` as the master's values make it (an override undone)."""
    length = event.end - event.start
    if len(rec_id) == 10:
        start = datetime.combine(date.fromisoformat(rec_id), time(), UTC)
    else:
        start = datetime.fromisoformat(rec_id)
    return RemoteOverride(
        rec_id,
        start,
        start + length,
        subject=event.subject,
        location=event.location,
        description=event.description,
        busy=event.busy,
    )
