"""Event times: RFC 3339 parsing, validation, and expansion of recurring events into instances."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr

from .errors import ApiError, invalid, required

MAX_INSTANCES = 2500
HORIZON = timedelta(days=2 * 366)


def parse_rfc3339(value: str, name: str) -> datetime:
    """A timestamp with a mandatory offset, as Google requires for timeMin/timeMax/updatedMin."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise invalid(f"Bad value for {name}.", name) from None
    if parsed.tzinfo is None:
        raise invalid(f"Bad value for {name}: a time zone offset is required.", name)
    return parsed


def format_dt(value: datetime) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def format_updated(value: datetime) -> str:
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def zone(name: str | None) -> tzinfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid(f"Invalid time zone definition: {name}") from None


@dataclass(frozen=True)
class When:
    """One end of an event: either an all-day date or an instant with its display zone."""

    all_day: bool
    day: date | None
    instant: datetime | None  # aware, in the event's own zone when it names one
    tz_name: str | None

    def utc(self, cal_tz: tzinfo) -> datetime:
        if self.all_day:
            assert self.day is not None
            return datetime.combine(self.day, time(), cal_tz).astimezone(UTC)
        assert self.instant is not None
        return self.instant.astimezone(UTC)

    def to_json(self) -> dict[str, Any]:
        if self.all_day:
            assert self.day is not None
            return {"date": self.day.isoformat()}
        assert self.instant is not None
        out: dict[str, Any] = {"dateTime": format_dt(self.instant)}
        if self.tz_name:
            out["timeZone"] = self.tz_name
        return out


def parse_when(value: Any, which: str) -> When:
    if not isinstance(value, dict) or not (value.get("date") or value.get("dateTime")):
        raise required(f"Missing {which} time.")
    if value.get("date"):
        try:
            return When(True, date.fromisoformat(value["date"]), None, None)
        except (TypeError, ValueError):
            raise invalid(f"Invalid {which} time.") from None
    try:
        instant = datetime.fromisoformat(value["dateTime"])
    except (TypeError, ValueError):
        raise invalid(f"Invalid {which} time.") from None
    tz_name = value.get("timeZone")
    own = zone(tz_name)
    if instant.tzinfo is None:
        if own is None:
            raise required(f"Missing time zone definition for {which} time.")
        instant = instant.replace(tzinfo=own)
    elif own is not None:
        instant = instant.astimezone(own)
    return When(False, None, instant, tz_name)


def validate_times(resource: dict[str, Any], cal_tz: tzinfo) -> tuple[When, When]:
    start = parse_when(resource.get("start"), "start")
    end = parse_when(resource.get("end"), "end")
    if start.all_day != end.all_day:
        raise invalid("Start and end times must either both be date or both be dateTime.")
    if end.utc(cal_tz) <= start.utc(cal_tz) and not (start.all_day and end.day == start.day):
        raise ApiError(400, "timeRangeEmpty")
    if resource.get("recurrence") is not None:
        recurrence = resource["recurrence"]
        if not isinstance(recurrence, list) or not all(isinstance(x, str) for x in recurrence):
            raise invalid("Invalid recurrence rule.")
        rule_set(recurrence, start)
    return start, end


def rule_set(lines: list[str], start: When) -> Any:
    if start.all_day:
        assert start.day is not None
        dtstart = datetime.combine(start.day, time())
    else:
        dtstart = start.instant
    for line in lines:
        if line.split(":", 1)[0].split(";", 1)[0] not in ("RRULE", "EXRULE", "RDATE", "EXDATE"):
            raise invalid(f"Invalid recurrence rule: {line}")
    try:
        return rrulestr("\n".join(lines), dtstart=dtstart, forceset=True)
    except (ValueError, TypeError) as exc:
        raise invalid(f"Invalid recurrence rule: {exc}") from None


@dataclass(frozen=True)
class Occurrence:
    suffix: str  # appended to the master id: "<id>_<suffix>"
    original: When
    start: When
    end: When


def occurrences(
    resource: dict[str, Any], cal_tz: tzinfo, until: datetime | None = None
) -> list[Occurrence]:
    """The instances a recurring event's rules produce, up to `until` (or a horizon)."""
    start = parse_when(resource["start"], "start")
    end = parse_when(resource["end"], "end")
    limit = until or (max(datetime.now(UTC), start.utc(cal_tz)) + HORIZON)
    out: list[Occurrence] = []
    if start.all_day:
        assert start.day is not None and end.day is not None
        length = end.day - start.day
        for moment in rule_set(resource["recurrence"], start):
            day = moment.date()
            if datetime.combine(day, time(), cal_tz) > limit or len(out) >= MAX_INSTANCES:
                break
            first = When(True, day, None, None)
            out.append(
                Occurrence(
                    day.strftime("%Y%m%d"), first, first, When(True, day + length, None, None)
                )
            )
        return out
    assert start.instant is not None and end.instant is not None
    length = end.instant - start.instant
    own = start.instant.tzinfo
    for moment in rule_set(resource["recurrence"], start):
        moment = moment.astimezone(own)
        if moment > limit or len(out) >= MAX_INSTANCES:
            break
        first = When(False, None, moment, start.tz_name)
        last = When(False, None, (moment + length).astimezone(end.instant.tzinfo), end.tz_name)
        suffix = moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        out.append(Occurrence(suffix, first, first, last))
    return out


def suffix_of(original: dict[str, Any]) -> str:
    """The instance-id suffix for an originalStartTime value."""
    when = parse_when(original, "originalStart")
    if when.all_day:
        assert when.day is not None
        return when.day.strftime("%Y%m%d")
    assert when.instant is not None
    return when.instant.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def suffix_bound(suffix: str) -> datetime:
    """Latest instant an occurrence with this suffix can start at (for bounded expansion)."""
    if "T" in suffix:
        return datetime.strptime(suffix, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) + timedelta(hours=1)
    return datetime.strptime(suffix, "%Y%m%d").replace(tzinfo=UTC) + timedelta(days=2)
