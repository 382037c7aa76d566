"""exchangelib's CalendarItem <-> RemoteEvent (pure: no I/O).

Inbound, one RemoteEvent per series: the master (or single item), its deleted occurrences
folded into EXDATE lines, its modified occurrences (fetched by the backend and passed in)
as overrides. Times come back in UTC; the zone is the item's StartTimeZone (a Windows id,
mapped to IANA by exchangelib's EWSTimeZone) unless it is still the one we wrote
(bridge.backends.exchange.props). All-day events are dated in their own zone and reported
at midnight UTC, end exclusive. Outbound, only the synced fields: never attendees.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

from exchangelib import CalendarItem, EWSDate, EWSDateTime, EWSTimeZone
from exchangelib.errors import UnknownTimeZone
from exchangelib.properties import Body, HTMLBody

from bridge.backends import recurrence as lines
from bridge.backends.base import RemoteAttendee, RemoteEvent, RemoteOverride
from bridge.backends.exchange import pattern
from bridge.backends.exchange.props import register
from bridge.backends.microsoft_tags import INVITE_COPY_VALUE
from bridge.model import BusyStatus

register()

BUSY_TO_EWS = {
    BusyStatus.FREE: "Free",
    BusyStatus.TENTATIVE: "Tentative",
    BusyStatus.BUSY: "Busy",
    BusyStatus.OUT_OF_OFFICE: "OOF",
}
BUSY_FROM_EWS = {v: k for k, v in BUSY_TO_EWS.items()}
PARTSTAT = {"Accept": "ACCEPTED", "Decline": "DECLINED", "Tentative": "TENTATIVE"}

#: The fields every read asks for (only what sync needs).
FIELDS = (
    "subject",
    "body",
    "location",
    "start",
    "end",
    "is_all_day",
    "legacy_free_busy_status",
    "sensitivity",
    "type",
    "recurrence",
    "modified_occurrences",
    "deleted_occurrences",
    "_start_timezone",
    "required_attendees",
    "optional_attendees",
    "last_modified_time",
    "crm_meeting_id",
    "crm_invite_copy",
    "crm_zone",
    "crm_rule",
)
#: What an occurrence (a modified one) is read for.
OCCURRENCE_FIELDS = ("subject", "body", "location", "start", "end", "is_all_day")
OCCURRENCE_FIELDS += ("legacy_free_busy_status", "original_start", "_start_timezone")
#: The fields an update writes (attendees never; the tag only when the event has one).
WRITTEN = ("subject", "body", "location", "start", "end", "is_all_day")
WRITTEN += ("legacy_free_busy_status", "sensitivity", "recurrence", "crm_zone", "crm_rule")
MASTER_TYPES = ("Single", "RecurringMaster")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in ("br", "p", "div", "li", "tr"):
            self.parts.append("\n")


def body_text(body: str | None) -> str:
    """The item's body as text (an HTML body without its markup)."""
    if not body:
        return ""
    if not isinstance(body, HTMLBody):
        return str(body)
    parser = _Text()
    parser.feed(str(body))
    return "\n".join(line.strip() for line in "".join(parser.parts).splitlines()).strip()


def ews_zone(name: str) -> EWSTimeZone:
    """The EWS zone of an IANA name (UTC when Windows has no zone for it)."""
    try:
        return EWSTimeZone(name or "UTC")
    except UnknownTimeZone:
        return EWSTimeZone("UTC")


def zone_name(read: tzinfo | None, written: str | None) -> str:
    """The IANA name to report: the zone we wrote when EWS still holds its Windows zone."""
    if read is None:
        return written or "UTC"
    if written and ews_zone(written).ms_id == getattr(read, "ms_id", None):
        return written
    return getattr(read, "key", None) or "UTC"


def _utc(value: datetime) -> datetime:
    return datetime.fromtimestamp(value.timestamp(), UTC)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _span(item: CalendarItem) -> tuple[datetime, datetime]:
    if item.is_all_day and not isinstance(item.start, datetime):
        return _midnight(item.start), _midnight(item.end) + timedelta(days=1)
    return _utc(item.start), _utc(item.end)


def recurrence_id(original: datetime, all_day: bool, zone: tzinfo) -> str:
    """The RECURRENCE-ID key (bridge.model.Recurrence.overrides) of an original start."""
    if all_day:
        return original.astimezone(zone).date().isoformat()
    return _utc(original).isoformat()


def _busy(value: str | None) -> BusyStatus:
    return BUSY_FROM_EWS.get(value or "Busy", BusyStatus.BUSY)


@dataclass(frozen=True)
class Occurrence:
    """A modified occurrence as read: its original start and the item."""

    original_start: datetime
    item: CalendarItem


def _override(occ: Occurrence, all_day: bool, zone: tzinfo) -> RemoteOverride:
    start, end = _span(occ.item)
    return RemoteOverride(
        recurrence_id=recurrence_id(occ.original_start, all_day, zone),
        start=start,
        end=end,
        subject=occ.item.subject or "",
        location=occ.item.location or "",
        description=body_text(occ.item.body),
        busy=_busy(occ.item.legacy_free_busy_status),
    )


def plain_occurrence(event: RemoteEvent, rec_id: str) -> RemoteOverride:
    """The occurrence at ``rec_id`` as the master alone makes it."""
    start = datetime.fromisoformat(rec_id)
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    return RemoteOverride(
        rec_id, start, start + (event.end - event.start), event.subject, event.location,
        event.description, event.busy,
    )  # fmt: skip


def _recurrence(item: CalendarItem, start: datetime, zone: ZoneInfo) -> tuple[str, ...]:
    if item.recurrence is None:
        return ()
    local = start.astimezone(zone)
    rule = pattern.from_ews(item.recurrence, local, bool(item.is_all_day))
    written = (item.crm_rule or "").removeprefix("RRULE:")
    if written and pattern.same_series(written, rule, local, bool(item.is_all_day)):
        rule = written
    out = [f"RRULE:{rule}"]
    for gone in item.deleted_occurrences or ():
        if item.is_all_day:
            out.append(f"EXDATE;VALUE=DATE:{gone.start.astimezone(zone).strftime('%Y%m%d')}")
        else:
            out.append(f"EXDATE:{_utc(gone.start).strftime('%Y%m%dT%H%M%SZ')}")
    return tuple(lines.normalise_recurrence(out))


def event_from_item(item: CalendarItem, occurrences: Iterable[Occurrence] = ()) -> RemoteEvent:
    """The RemoteEvent of a single item or recurring master and its modified occurrences."""
    all_day = bool(item.is_all_day)
    name = "UTC" if all_day else zone_name(item._start_timezone, item.crm_zone)
    zone = item._start_timezone or ZoneInfo("UTC")
    start, end = _span(item)
    attendees = [*(item.required_attendees or ()), *(item.optional_attendees or ())]
    event = RemoteEvent(
        remote_id=item.id,
        etag=item.changekey or "",
        start=start,
        end=end,
        crm_meeting_id=item.crm_meeting_id or None,
        is_invite_copy=item.crm_invite_copy == INVITE_COPY_VALUE,
        subject=item.subject or "",
        location=item.location or "",
        description=body_text(item.body),
        all_day=all_day,
        timezone=name,
        recurrence=_recurrence(item, start, zone),
        private=item.sensitivity in ("Private", "Confidential"),
        busy=_busy(item.legacy_free_busy_status),
        attendees=tuple(
            RemoteAttendee(
                a.mailbox.email_address,
                a.mailbox.name or "",
                PARTSTAT.get(a.response_type or "", "NEEDS-ACTION"),
            )
            for a in attendees
            if a.mailbox is not None and a.mailbox.email_address
        ),
        updated=_utc(item.last_modified_time) if item.last_modified_time else None,
    )
    overrides = [_override(o, all_day, zone) for o in occurrences]
    kept = [o for o in overrides if o != plain_occurrence(event, o.recurrence_id)]
    return replace(event, overrides=tuple(sorted(kept, key=lambda o: o.recurrence_id)))


# --- outbound -------------------------------------------------------------------------------


def rule_of(event: RemoteEvent) -> str | None:
    """The event's RRULE value; ValueError for what EWS cannot hold (RDATE, two rules)."""
    rules = [line for line in event.recurrence if line.upper().startswith("RRULE")]
    if any(line.upper().startswith("RDATE") for line in event.recurrence):
        raise ValueError("EWS cannot hold RDATE (extra occurrences of a series)")
    if len(rules) > 1:
        raise ValueError("EWS cannot hold more than one RRULE")
    return rules[0].partition(":")[2] if rules else None


def local_start(event: RemoteEvent) -> datetime:
    """The series start in the zone it is written in (UTC midnight for all-day)."""
    zone = ZoneInfo("UTC") if event.all_day else ZoneInfo(ews_zone(event.timezone).key)
    return event.start.astimezone(zone)


def _when(value: datetime, event: RemoteEvent, end: bool = False) -> EWSDate | EWSDateTime:
    if event.all_day:
        day = value.astimezone(UTC).date() - (timedelta(days=1) if end else timedelta(0))
        return EWSDate(day.year, day.month, day.day)
    return EWSDateTime.from_datetime(value.astimezone(ZoneInfo(ews_zone(event.timezone).key)))


def item_fields(event: RemoteEvent) -> dict[str, object]:
    """The CalendarItem attributes sync writes for ``event`` (WRITTEN, and the tags)."""
    rule = rule_of(event)
    zone = ews_zone("UTC" if event.all_day else event.timezone)
    return {
        **_content(event, event),
        "is_all_day": event.all_day,
        "_start_timezone": zone,
        "_end_timezone": zone,
        "sensitivity": "Private" if event.private else "Normal",
        "recurrence": pattern.to_ews(rule, local_start(event)) if rule else None,
        "crm_zone": None if event.all_day else event.timezone,
        "crm_rule": rule,
    }


def tag_fields(event: RemoteEvent) -> dict[str, object]:
    return {
        "crm_meeting_id": event.crm_meeting_id,
        "crm_invite_copy": INVITE_COPY_VALUE if event.is_invite_copy else None,
    }


def occurrence_fields(event: RemoteEvent, override: RemoteOverride) -> dict[str, object]:
    """What an occurrence's UpdateItem writes for one override."""
    return _content(override, event)


def _content(source: RemoteEvent | RemoteOverride, event: RemoteEvent) -> dict[str, object]:
    """The fields a master and an occurrence share, from ``source`` (the event itself or
    one of its overrides); times in ``event``'s zone and all-day form."""
    return {
        "subject": source.subject,
        "body": Body(source.description),
        "location": source.location,
        "start": _when(source.start, event),
        "end": _when(source.end, event, end=True),
        "legacy_free_busy_status": BUSY_TO_EWS[source.busy],
    }


def exdates(event: RemoteEvent) -> list[datetime]:
    """The excluded occurrences' original starts (midnight UTC for all-day)."""
    rec = lines.recurrence_from_lines(event.recurrence)
    return [] if rec is None else sorted(rec.exdates)
