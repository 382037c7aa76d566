"""dateTimeTimeZone values: zone names (IANA or Windows), parsing and rendering."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tzlocal.windows_tz import win_tz

from .errors import GraphError


def zone(name: str) -> tzinfo:
    """A zone from an IANA or Windows name; 400 as Graph answers for an unknown one."""
    if name.upper() in ("UTC", "ETC/UTC", "Z"):
        return UTC
    iana = win_tz.get(name, name)
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError):
        raise GraphError(
            400,
            "TimeZoneNotSupportedException",
            f"A valid TimeZone value must be specified. The following TimeZone value is not "
            f"supported: '{name}'.",
        ) from None


def parse_local(value: Any, field: str) -> datetime:
    """'2026-12-02T10:00:00[.0000000]' -> naive datetime (wall time in its zone)."""
    if not isinstance(value, str) or not value:
        raise bad_time(field, value)
    text = value.rstrip("Z")
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise bad_time(field, value) from None
    if parsed.tzinfo is not None:
        raise bad_time(field, value)
    return parsed


def bad_time(field: str, value: Any) -> GraphError:
    return GraphError(
        400,
        "RequestBodyRead",
        f"Cannot convert the literal '{value}' to the expected type "
        f"'Edm.DateTime' in '{field}.dateTime'.",
    )


def read(value: Any, field: str) -> tuple[datetime, str]:
    """A dateTimeTimeZone object -> (aware UTC instant, zone name as written)."""
    if not isinstance(value, dict) or "dateTime" not in value:
        raise GraphError(400, "ErrorInvalidRequest", f"'{field}' needs dateTime and timeZone.")
    name = value.get("timeZone") or "UTC"
    wall = parse_local(value["dateTime"], field)
    return wall.replace(tzinfo=zone(name)).astimezone(UTC), name


def fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0"


def render(instant: datetime, zone_name: str | None) -> dict[str, str]:
    """An instant in the zone a client asked for (Prefer: outlook.timezone), else UTC."""
    if not zone_name:
        return {"dateTime": fmt(instant.astimezone(UTC).replace(tzinfo=None)), "timeZone": "UTC"}
    local = instant.astimezone(zone(zone_name)).replace(tzinfo=None)
    return {"dateTime": fmt(local), "timeZone": zone_name}


def render_day(day: date, zone_name: str | None) -> dict[str, str]:
    """All-day values are midnight wall time, labelled with the zone asked for."""
    return {"dateTime": fmt(datetime.combine(day, time())), "timeZone": zone_name or "UTC"}


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(value: str, field: str) -> datetime:
    """Query parameters (startDateTime=...) are ISO 8601, with or without an offset (then UTC)."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise GraphError(
            400, "ErrorInvalidParameter", f"The value '{value}' of parameter '{field}' is invalid."
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def window(query: dict[str, str]) -> tuple[datetime, datetime]:
    """startDateTime/endDateTime of a calendarView (or its delta); 400 if missing or reversed."""
    if "startDateTime" not in query or "endDateTime" not in query:
        raise GraphError(
            400,
            "ErrorInvalidParameter",
            "This request requires a time window specified by the query string parameters "
            "StartDateTime and EndDateTime.",
        )
    start = parse_instant(query["startDateTime"], "startDateTime")
    end = parse_instant(query["endDateTime"], "endDateTime")
    if end <= start:
        raise GraphError(
            400,
            "ErrorInvalidParameter",
            f"The endDateTime {query['endDateTime']} is not after the startDateTime "
            f"{query['startDateTime']}.",
        )
    return start, end
