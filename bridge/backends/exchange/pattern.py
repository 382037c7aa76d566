"""An iCalendar RRULE as an EWS recurrence (exchangelib's ``Recurrence``: a pattern and a
range) and back, and the instance index EWS names an occurrence by.

EWS holds a subset of RRULE: daily, weekly on days, monthly and yearly on a day of the
month or the n-th (or last) weekday, ended by a count, a date or never. Anything else is a
``ValueError`` naming what EWS cannot hold. All pure: no I/O.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from exchangelib.recurrence import (
    AbsoluteMonthlyPattern,
    AbsoluteYearlyPattern,
    DailyPattern,
    EndDatePattern,
    NoEndPattern,
    NumberedPattern,
    Recurrence,
    RelativeMonthlyPattern,
    RelativeYearlyPattern,
    WeeklyPattern,
)

DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")  # EWS weekday n is DAYS[n - 1]
_GROUPS = {8: DAYS, 9: DAYS[:5], 10: DAYS[5:]}  # EWS Day, Weekday, WeekendDay
_KNOWN = {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH"}
_KNOWN |= {"BYSETPOS", "WKST"}
_MAX_INDEX = 5000


def _parts(rule: str) -> dict[str, str]:
    text = rule.strip().removeprefix("RRULE:")
    parts = dict(p.split("=", 1) for p in text.upper().split(";") if "=" in p)
    unknown = sorted(set(parts) - _KNOWN)
    if unknown:
        raise ValueError(f"EWS cannot hold RRULE parts {', '.join(unknown)}")
    return parts


def _day(name: str) -> int:
    if name not in DAYS:
        raise ValueError(f"EWS cannot hold BYDAY={name}")
    return DAYS.index(name) + 1


def _relative(parts: dict[str, str]) -> tuple[int, int] | None:
    """(EWS weekday, EWS week number) of BYDAY=2TU or BYDAY=..;BYSETPOS=n, or None."""
    byday = parts.get("BYDAY")
    if not byday:
        return None
    days = byday.split(",")
    if "BYSETPOS" in parts:
        position = int(parts["BYSETPOS"])
        group = [k for k, v in _GROUPS.items() if sorted(v) == sorted(days)]
        weekday = group[0] if group else (_day(days[0]) if len(days) == 1 else 0)
    elif len(days) == 1 and days[0][:-2] not in ("", "+"):
        position, weekday = int(days[0][:-2]), _day(days[0][-2:])
    else:
        raise ValueError(f"EWS cannot hold BYDAY={byday} in a monthly or yearly rule")
    if not weekday or position not in (1, 2, 3, 4, -1):
        raise ValueError(f"EWS cannot hold BYDAY={byday} with position {position}")
    return weekday, 5 if position == -1 else position


def _pattern(parts: dict[str, str], local_start: date):
    freq = parts.get("FREQ", "")
    interval = int(parts.get("INTERVAL", "1"))
    if freq == "DAILY" and "BYDAY" not in parts:
        return DailyPattern(interval=interval)
    if freq in ("DAILY", "WEEKLY"):
        days = parts.get("BYDAY", DAYS[local_start.weekday()]).split(",")
        first = _day(parts.get("WKST", "MO"))
        return WeeklyPattern(
            interval=interval, weekdays=sorted(_day(d) for d in days), first_day_of_week=first
        )
    if "BYMONTHDAY" in parts and "," in parts["BYMONTHDAY"]:
        raise ValueError(f"EWS cannot hold BYMONTHDAY={parts['BYMONTHDAY']}")
    relative = _relative(parts)
    day_of_month = int(parts.get("BYMONTHDAY", local_start.day))
    if freq == "MONTHLY":
        if relative:
            return RelativeMonthlyPattern(
                interval=interval, weekday=relative[0], week_number=relative[1]
            )
        return AbsoluteMonthlyPattern(interval=interval, day_of_month=day_of_month)
    if freq == "YEARLY":
        if interval != 1:
            raise ValueError("EWS cannot hold a yearly rule with INTERVAL")
        month = int(parts.get("BYMONTH", local_start.month))
        if relative:
            return RelativeYearlyPattern(weekday=relative[0], week_number=relative[1], month=month)
        return AbsoluteYearlyPattern(day_of_month=day_of_month, month=month)
    raise ValueError(f"EWS cannot hold FREQ={freq or '(none)'}")


def _until_date(value: str, tz: ZoneInfo) -> date:
    text = value.rstrip("Z")
    if len(text) == 8:
        return datetime.strptime(text, "%Y%m%d").date()
    return datetime.strptime(text, "%Y%m%dT%H%M%S").replace(tzinfo=UTC).astimezone(tz).date()


def to_ews(rule: str, local_start: datetime) -> Recurrence:
    """The EWS recurrence of ``rule`` for a series starting at ``local_start`` (aware, in
    the series' zone; midnight for an all-day series)."""
    parts = _parts(rule)
    pattern = _pattern(parts, local_start.date())
    first = local_start.date()
    if "COUNT" in parts:
        boundary = NumberedPattern(start=first, number=int(parts["COUNT"]))
    elif "UNTIL" in parts:
        tz = local_start.tzinfo if isinstance(local_start.tzinfo, ZoneInfo) else ZoneInfo("UTC")
        boundary = EndDatePattern(start=first, end=_until_date(parts["UNTIL"], tz))
    else:
        boundary = NoEndPattern(start=first)
    return Recurrence(pattern=pattern, boundary=boundary)


def _byday(weekday: int) -> list[str]:
    return list(_GROUPS[weekday]) if weekday in _GROUPS else [DAYS[weekday - 1]]


def from_ews(recurrence: Recurrence, local_start: datetime, all_day: bool) -> str:
    """The RRULE value (no ``RRULE:``) of an EWS recurrence for a series starting at
    ``local_start``; ValueError for a pattern it cannot read."""
    pattern, boundary = recurrence.pattern, recurrence.boundary
    parts: dict[str, str] = {}
    interval = getattr(pattern, "interval", 1) or 1
    if isinstance(pattern, DailyPattern):
        parts["FREQ"] = "DAILY"
    elif isinstance(pattern, WeeklyPattern):
        parts["FREQ"] = "WEEKLY"
        parts["BYDAY"] = ",".join(DAYS[d - 1] for d in sorted(pattern.weekdays))
        if pattern.first_day_of_week not in (None, 1):
            parts["WKST"] = DAYS[pattern.first_day_of_week - 1]
    elif isinstance(pattern, AbsoluteMonthlyPattern | AbsoluteYearlyPattern):
        parts["FREQ"] = "MONTHLY" if isinstance(pattern, AbsoluteMonthlyPattern) else "YEARLY"
        parts["BYMONTHDAY"] = str(pattern.day_of_month)
    elif isinstance(pattern, RelativeMonthlyPattern | RelativeYearlyPattern):
        parts["FREQ"] = "MONTHLY" if isinstance(pattern, RelativeMonthlyPattern) else "YEARLY"
        parts["BYDAY"] = ",".join(_byday(pattern.weekday))
        parts["BYSETPOS"] = "-1" if pattern.week_number == 5 else str(pattern.week_number)
    else:
        raise ValueError(f"unreadable EWS recurrence pattern {type(pattern).__name__}")
    if isinstance(pattern, AbsoluteYearlyPattern | RelativeYearlyPattern):
        parts["BYMONTH"] = str(pattern.month)
    if interval != 1:
        parts["INTERVAL"] = str(interval)
    if isinstance(boundary, NumberedPattern):
        parts["COUNT"] = str(boundary.number)
    elif isinstance(boundary, EndDatePattern):
        end = boundary.end
        if all_day:
            parts["UNTIL"] = end.strftime("%Y%m%d")
        else:
            last = datetime.combine(end, local_start.timetz().replace(tzinfo=None))
            local = last.replace(tzinfo=local_start.tzinfo)
            parts["UNTIL"] = local.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return ";".join(f"{k}={v}" for k, v in sorted(parts.items()))


def same_series(rule_a: str, rule_b: str, local_start: datetime, all_day: bool) -> bool:
    """Whether two RRULEs make one EWS recurrence for this start (so the one we wrote may
    be reported for the one EWS gives back)."""
    try:
        one = from_ews(to_ews(rule_a, local_start), local_start, all_day)
        two = from_ews(to_ews(rule_b, local_start), local_start, all_day)
    except ValueError:
        return False
    return one == two


def instance_index(rule: str, local_start: datetime, original: datetime) -> int:
    """The 1-based EWS instance index of the occurrence originally at ``original`` (an
    aware instant, or midnight UTC of the date for an all-day series); ValueError when
    the rule has no such occurrence."""
    tz = local_start.tzinfo
    naive = local_start.replace(tzinfo=None)
    rule = rule.strip().removeprefix("RRULE:")
    parts = _parts(rule)
    if "UNTIL" in parts:  # as a local wall time, as the naive start (dateutil insists)
        end = _until_date(parts["UNTIL"], tz if isinstance(tz, ZoneInfo) else ZoneInfo("UTC"))
        rule = rule.replace(parts["UNTIL"], end.strftime("%Y%m%d") + "T235959")
    target = original.astimezone(UTC)
    for index, when in enumerate(rrulestr(rule, dtstart=naive), start=1):
        if index > _MAX_INDEX:
            break
        at = when.replace(tzinfo=tz).astimezone(UTC)
        if at == target:
            return index
        if at > target + timedelta(days=1):
            break
    raise ValueError(f"the series has no occurrence at {target.isoformat()}")
