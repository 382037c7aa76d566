"""patternedRecurrence JSON: validation and expansion into occurrences (dateutil.rrule)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from dateutil import rrule

from . import times
from .errors import GraphError

DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
INDEX = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
PATTERNS = {
    "daily": rrule.DAILY,
    "weekly": rrule.WEEKLY,
    "absoluteMonthly": rrule.MONTHLY,
    "relativeMonthly": rrule.MONTHLY,
    "absoluteYearly": rrule.YEARLY,
    "relativeYearly": rrule.YEARLY,
}
RANGES = ("endDate", "noEnd", "numbered")
MAX_OCCURRENCES = 2000
HORIZON = timedelta(days=3 * 366)


def invalid(message: str) -> GraphError:
    return GraphError(400, "ErrorInvalidRequest", f"Invalid recurrence: {message}")


def _date(value: Any, name: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise invalid(f"{name} '{value}' is not a date (YYYY-MM-DD).") from None


def validate(value: Any) -> dict[str, Any] | None:
    """The recurrence as stored (defaults filled in), None for no recurrence; 400 if malformed."""
    if value is None:
        return None
    if not isinstance(value, dict) or "pattern" not in value or "range" not in value:
        raise invalid("needs both 'pattern' and 'range'.")
    pattern, rng = dict(value["pattern"] or {}), dict(value["range"] or {})
    kind = pattern.get("type")
    if kind not in PATTERNS:
        raise invalid(f"pattern type '{kind}' is not one of {', '.join(PATTERNS)}.")
    interval = pattern.get("interval", 1)
    if not isinstance(interval, int) or interval < 1 or interval > 99:
        raise invalid("interval must be an integer from 1 to 99.")
    days = [d.lower() for d in pattern.get("daysOfWeek") or []]
    if any(d not in DAYS for d in days):
        raise invalid(f"daysOfWeek {days} has an unknown day.")
    if kind in ("weekly", "relativeMonthly", "relativeYearly") and not days:
        raise invalid(f"a {kind} pattern needs daysOfWeek.")
    if kind in ("absoluteMonthly", "absoluteYearly"):
        day = pattern.get("dayOfMonth")
        if not isinstance(day, int) or not 1 <= day <= 31:
            raise invalid(f"a {kind} pattern needs dayOfMonth from 1 to 31.")
    if kind in ("absoluteYearly", "relativeYearly"):
        month = pattern.get("month")
        if not isinstance(month, int) or not 1 <= month <= 12:
            raise invalid(f"a {kind} pattern needs month from 1 to 12.")
    index = pattern.get("index") or "first"
    if index not in INDEX:
        raise invalid(f"index '{index}' is not one of {', '.join(INDEX)}.")
    first_day = (pattern.get("firstDayOfWeek") or "sunday").lower()
    if first_day not in DAYS:
        raise invalid(f"firstDayOfWeek '{first_day}' is unknown.")
    range_type = rng.get("type")
    if range_type not in RANGES:
        raise invalid(f"range type '{range_type}' is not one of {', '.join(RANGES)}.")
    start = _date(rng.get("startDate"), "startDate")
    out_range: dict[str, Any] = {
        "type": range_type,
        "startDate": start.isoformat(),
        "endDate": "0001-01-01",
        "recurrenceTimeZone": rng.get("recurrenceTimeZone") or "",
        "numberOfOccurrences": 0,
    }
    if range_type == "endDate":
        end = _date(rng.get("endDate"), "endDate")
        if end < start:
            raise invalid("endDate is before startDate.")
        out_range["endDate"] = end.isoformat()
    if range_type == "numbered":
        count = rng.get("numberOfOccurrences")
        if not isinstance(count, int) or count < 1:
            raise invalid("a numbered range needs numberOfOccurrences of at least 1.")
        out_range["numberOfOccurrences"] = count
    if out_range["recurrenceTimeZone"]:
        times.zone(out_range["recurrenceTimeZone"])
    return {
        "pattern": {
            "type": kind,
            "interval": interval,
            "month": pattern.get("month", 0) or 0,
            "dayOfMonth": pattern.get("dayOfMonth", 0) or 0,
            "daysOfWeek": days,
            "firstDayOfWeek": first_day,
            "index": index,
        },
        "range": out_range,
    }


def rule(rec: dict[str, Any], first: datetime) -> rrule.rrule:
    pattern, rng = rec["pattern"], rec["range"]
    kind = pattern["type"]
    args: dict[str, Any] = {
        "dtstart": first,
        "interval": pattern["interval"],
        "wkst": DAYS.index(pattern["firstDayOfWeek"]),
    }
    weekdays = [getattr(rrule, d[:2].upper()) for d in pattern["daysOfWeek"]]
    if kind == "weekly":
        args["byweekday"] = weekdays
    elif kind in ("absoluteMonthly", "absoluteYearly"):
        args["bymonthday"] = pattern["dayOfMonth"]
    elif kind in ("relativeMonthly", "relativeYearly"):
        args["byweekday"] = weekdays
        args["bysetpos"] = INDEX[pattern["index"]]
    if kind in ("absoluteYearly", "relativeYearly"):
        args["bymonth"] = pattern["month"]
    if rng["type"] == "numbered":
        args["count"] = rng["numberOfOccurrences"]
    elif rng["type"] == "endDate":
        args["until"] = datetime.combine(date.fromisoformat(rng["endDate"]), time(23, 59, 59))
    return rrule.rrule(PATTERNS[kind], **args)


def expand(
    rec: dict[str, Any], start: datetime, end: datetime, zone_name: str, all_day: bool
) -> list[tuple[str, datetime, datetime]]:
    """(key, start UTC, end UTC) of every occurrence; the key is the original start in UTC."""
    zone = times.zone(rec["range"]["recurrenceTimeZone"] or zone_name)
    wall = start if all_day else start.astimezone(zone)
    duration = end - start
    first = datetime.combine(date.fromisoformat(rec["range"]["startDate"]), wall.time())
    horizon = first + HORIZON
    out: list[tuple[str, datetime, datetime]] = []
    for local in rule(rec, first):
        if local > horizon or len(out) >= MAX_OCCURRENCES:
            break
        begin = local.replace(tzinfo=UTC) if all_day else local.replace(tzinfo=zone)
        begin = begin.astimezone(UTC)
        out.append((times.iso_utc(begin), begin, begin + duration))
    return out
