"""xs:dateTime on the wire, and Windows time zone ids (StartTimeZone/EndTimeZone Id) to zoneinfo."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from .soap import EwsError


def parse_datetime(text: str) -> datetime:
    """An xs:dateTime; EWS without an offset means UTC (we take the strict reading: say it)."""
    text = text.strip()
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise EwsError("ErrorInvalidValueForProperty", f"not an xs:dateTime: {text!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_datetime(value: datetime) -> str:
    # via the timestamp: works for datetime subclasses that restrict tzinfo (exchangelib's)
    return datetime.fromtimestamp(value.timestamp(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def windows_zone(windows_id: str) -> ZoneInfo:
    if windows_id in ("UTC", "Coordinated Universal Time"):
        return ZoneInfo("UTC")
    iana = WINDOWS_TO_OLSON.get(windows_id)
    if iana is None:
        raise EwsError("ErrorTimeZone", f"unknown time zone id {windows_id!r}")
    try:
        return ZoneInfo(iana)
    except ZoneInfoNotFoundError:
        raise EwsError("ErrorTimeZone", f"time zone {windows_id!r} is not available") from None


def zone_id(elem: ET.Element | None) -> str | None:
    """Windows id of a StartTimeZone/EndTimeZone (Id) or MeetingTimeZone (TimeZoneName)."""
    if elem is None:
        return None
    return elem.get("Id") or elem.get("TimeZoneName")


def zone_for(fields: dict[str, ET.Element], name: str) -> ZoneInfo:
    """The zone of an item's wall times: the named zone, else the start zone, else UTC."""
    for key in (name, "StartTimeZone", "MeetingTimeZone"):
        ident = zone_id(fields.get(key))
        if ident:
            return windows_zone(ident)
    return ZoneInfo("UTC")
