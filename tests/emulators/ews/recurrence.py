"""EWS recurrence: pattern + range -> original starts, evaluated in the start time zone."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from dateutil import rrule

from .soap import EwsError, t
from .times import parse_datetime, zone_for

_DAYS = {
    "Monday": rrule.MO,
    "Tuesday": rrule.TU,
    "Wednesday": rrule.WE,
    "Thursday": rrule.TH,
    "Friday": rrule.FR,
    "Saturday": rrule.SA,
    "Sunday": rrule.SU,
}
_GROUPS = {
    "Day": list(_DAYS.values()),
    "Weekday": [rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR],
    "WeekendDay": [rrule.SA, rrule.SU],
}
_INDEX = {"First": 1, "Second": 2, "Third": 3, "Fourth": 4, "Last": -1}
_MONTHS = [
    "January", "February", "March", "April", "May", "June", "July",
    "August", "September", "October", "November", "December",
]  # fmt: skip
MAX_EXPANSION = 5000  # occurrences considered for a NoEndRecurrence


def _text(elem: ET.Element, tag: str) -> str:
    child = elem.find(t(tag))
    if child is None or not (child.text or "").strip():
        raise EwsError("ErrorInvalidRecurrence", f"{elem.tag.split('}')[1]} lacks {tag}")
    return child.text.strip()


def _interval(pattern: ET.Element) -> int:
    value = int(_text(pattern, "Interval"))
    if value < 1:
        raise EwsError("ErrorInvalidRecurrence", "Interval must be at least 1")
    return value


def _days(text: str) -> list:
    out = []
    for word in text.split():
        if word in _DAYS:
            out.append(_DAYS[word])
        elif word in _GROUPS:
            out.extend(_GROUPS[word])
        else:
            raise EwsError("ErrorInvalidRecurrence", f"unknown day of week {word!r}")
    return out


def _relative(pattern: ET.Element) -> dict:
    days = _days(_text(pattern, "DaysOfWeek"))
    index = _INDEX.get(_text(pattern, "DayOfWeekIndex"))
    if index is None:
        raise EwsError("ErrorInvalidRecurrence", "bad DayOfWeekIndex")
    return {"byweekday": days, "bysetpos": index}


def _month(pattern: ET.Element) -> int:
    name = _text(pattern, "Month")
    if name not in _MONTHS:
        raise EwsError("ErrorInvalidRecurrence", f"unknown month {name!r}")
    return _MONTHS.index(name) + 1


def _rule_args(pattern: ET.Element) -> dict:
    kind = pattern.tag.split("}")[1]
    if kind == "DailyRecurrence":
        return {"freq": rrule.DAILY, "interval": _interval(pattern)}
    if kind == "WeeklyRecurrence":
        first = pattern.find(t("FirstDayOfWeek"))
        wkst = _DAYS.get((first.text or "").strip(), rrule.SU) if first is not None else rrule.SU
        days = _days(_text(pattern, "DaysOfWeek"))
        return {
            "freq": rrule.WEEKLY,
            "interval": _interval(pattern),
            "byweekday": days,
            "wkst": wkst,
        }
    if kind == "AbsoluteMonthlyRecurrence":
        day = int(_text(pattern, "DayOfMonth"))
        return {"freq": rrule.MONTHLY, "interval": _interval(pattern), "bymonthday": day}
    if kind == "RelativeMonthlyRecurrence":
        return {"freq": rrule.MONTHLY, "interval": _interval(pattern), **_relative(pattern)}
    if kind == "AbsoluteYearlyRecurrence":
        day = int(_text(pattern, "DayOfMonth"))
        return {"freq": rrule.YEARLY, "bymonth": _month(pattern), "bymonthday": day}
    if kind == "RelativeYearlyRecurrence":
        return {"freq": rrule.YEARLY, "bymonth": _month(pattern), **_relative(pattern)}
    raise EwsError("ErrorInvalidRecurrence", f"unsupported recurrence pattern {kind}")


def _date(text: str) -> date:
    # xs:date, possibly with a zone suffix ("2026-03-01Z", "2026-03-01+01:00")
    return date.fromisoformat(text[:10])


class Series:
    """The occurrences of one recurring master."""

    def __init__(self, recurrence: ET.Element, start: datetime, end: datetime, zone: ZoneInfo):
        children = list(recurrence)
        if len(children) != 2:
            raise EwsError("ErrorInvalidRecurrence", "Recurrence needs a pattern and a range")
        pattern, range_ = children
        self.zone = zone
        self.duration = end - start
        local = start.astimezone(zone)
        self.time_of_day: time = local.time().replace(tzinfo=None)
        args = _rule_args(pattern)
        kind = range_.tag.split("}")[1]
        start_date = _date(_text(range_, "StartDate"))
        args["dtstart"] = datetime.combine(start_date, self.time_of_day)
        if kind == "EndDateRecurrence":
            end_date = _date(_text(range_, "EndDate"))
            if end_date < start_date:
                raise EwsError("ErrorInvalidRecurrence", "EndDate precedes StartDate")
            args["until"] = datetime.combine(end_date, time(23, 59, 59))
        elif kind == "NumberedRecurrence":
            count = int(_text(range_, "NumberOfOccurrences"))
            if count < 1:
                raise EwsError("ErrorInvalidRecurrence", "NumberOfOccurrences must be at least 1")
            args["count"] = count
        elif kind != "NoEndRecurrence":
            raise EwsError("ErrorInvalidRecurrence", f"unsupported recurrence range {kind}")
        self.bounded = kind != "NoEndRecurrence"
        self.rule = rrule.rrule(**args)

    def _utc(self, naive: datetime) -> datetime:
        return naive.replace(tzinfo=self.zone).astimezone(UTC)

    def starts(self) -> Iterator[datetime]:
        """Original starts (UTC) in order, at most MAX_EXPANSION of them."""
        for n, naive in enumerate(self.rule):
            if n >= MAX_EXPANSION:
                return
            yield self._utc(naive)

    def index_of(self, original_start: datetime) -> int | None:
        for n, start in enumerate(self.starts(), 1):
            if start == original_start:
                return n
            if start > original_start:
                return None
        return None

    def at_index(self, index: int) -> datetime:
        if index >= 1:
            for n, start in enumerate(self.starts(), 1):
                if n == index:
                    return start
        raise EwsError(
            "ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange",
            "Occurrence index is out of recurrence range.",
        )

    def last(self) -> datetime | None:
        if not self.bounded:
            return None
        result = None
        for result in self.starts():  # noqa: B007 - want the final one
            pass
        return result


def series_of(fields: dict[str, ET.Element]) -> Series:
    start = parse_datetime(fields["Start"].text or "")
    end = parse_datetime(fields["End"].text or "")
    return Series(fields["Recurrence"], start, end, zone_for(fields, "StartTimeZone"))


def occurrence_id(master_id: str, original_start: datetime) -> str:
    stamp = original_start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return base64.b64encode(f"OCC|{master_id}|{stamp}".encode()).decode()


def split_occurrence_id(item_id: str) -> tuple[str, datetime] | None:
    try:
        text = base64.b64decode(item_id, validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    parts = text.split("|")
    if len(parts) != 3 or parts[0] != "OCC":
        return None
    stamp = datetime.strptime(parts[2], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return parts[1], stamp
