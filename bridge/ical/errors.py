"""The one exception type of the iCalendar layer, and small shared helpers."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import vobject

# Radicale's own "no end" timestamp (ceil of datetime.max in UTC), so our ranges compare equal.
END_OF_TIME: int = 253402300800
# The time properties whose TZID must resolve.
TIME_PROPS: tuple[str, ...] = ("dtstart", "dtend", "due", "recurrence-id", "exdate", "rdate")


class ICalError(ValueError):
    """Invalid or unacceptable iCalendar data; the message is meant for client developers."""


def iana_zone(name: str) -> ZoneInfo | None:
    """The zoneinfo zone called ``name``, or None when zoneinfo does not know it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def tz_name(tz: tzinfo | None) -> str | None:
    """The TZID vobject would write for ``tz`` (None for naive values)."""
    if tz is None:
        return None
    for attr in ("zone", "key"):  # pytz, zoneinfo
        name = getattr(tz, attr, None)
        if isinstance(name, str):
            return name
    return vobject.icalendar.TimezoneComponent.pickTzid(tz, allowUTC=True)


def fix_tz(value: date) -> date:
    """Swap a pytz zone (vobject's choice for IANA TZIDs) for zoneinfo.

    pytz zones give wrong offsets once dateutil moves a datetime across a DST change by
    ``replace``; zoneinfo zones do not.
    """
    if isinstance(value, datetime) and value.tzinfo is not None:
        name = getattr(value.tzinfo, "zone", None)
        if isinstance(name, str):
            zone = iana_zone(name)
            if zone is not None:
                return value.replace(tzinfo=zone)
    return value


def as_utc(value: date) -> datetime:
    """Radicale's convention: DATE is midnight UTC, floating date-times are UTC."""
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def lines(component: vobject.base.Component, name: str) -> list[vobject.base.ContentLine]:
    """All content lines called ``name`` (lower case) of ``component``."""
    return list(component.contents.get(name, []))


def events(vcal: vobject.base.Component) -> list[vobject.base.Component]:
    """The VEVENT components of a VCALENDAR."""
    return [c for c in vcal.getChildren() if getattr(c, "name", None) == "VEVENT"]
