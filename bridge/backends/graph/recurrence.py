"""Graph's recurrence JSON ({pattern, range}) ⇄ an RRULE line. Pure.

Graph expresses daily, weekly, absolute/relative monthly and absolute/relative yearly
patterns with an end date, a count or no end. Any other rule (hourly, BYHOUR, BYWEEKNO,
BYYEARDAY, several month days, a negative month day, RDATE, ...) raises
``UnsupportedRule`` naming what Graph cannot say; the backend then writes the series as
single occurrences or skips it (the binding's ``unsupported_recurrence``), never a changed
rule.

An end date is a date in the series' zone: UNTIL is read back as the last second of that
date in that zone (UTC), or as the date itself for all-day series.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
GRAPH_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY_TO_GRAPH = dict(zip(DAYS, GRAPH_DAYS, strict=True))
GRAPH_TO_DAY = dict(zip(GRAPH_DAYS, DAYS, strict=True))
INDEX = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}
INDEX_OF = {v: k for k, v in INDEX.items()}
KNOWN = {"FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS", "COUNT", "UNTIL", "WKST"}


class UnsupportedRule(ValueError):
    """The rule has a part Graph's recurrence cannot express (the message names it)."""


def _parts(rule: str) -> dict[str, str]:
    body = rule.partition(":")[2] if rule.upper().startswith("RRULE") else rule
    parts: dict[str, str] = {}
    for item in body.split(";"):
        if item:
            key, _, value = item.partition("=")
            parts[key.upper()] = value.upper()
    return parts


def _day(text: str) -> tuple[int | None, str]:
    """(ordinal or None, two-letter day) of a BYDAY item such as 2TU, -1FR or MO."""
    day = text[-2:]
    if day not in DAYS:
        raise UnsupportedRule(f"BYDAY value {text!r} is not a day")
    head = text[:-2]
    return (int(head) if head else None), day


def _local(value: datetime, zone: str) -> datetime:
    return value.astimezone(ZoneInfo(zone)) if zone else value.astimezone(UTC)


def to_graph(rule: str, start: datetime, zone: str, all_day: bool) -> dict[str, Any]:
    """Graph's {pattern, range} for one RRULE of a series starting at ``start``."""
    parts = _parts(rule)
    extra = sorted(set(parts) - KNOWN)
    if extra:
        raise UnsupportedRule(f"Graph recurrence cannot express {', '.join(extra)}")
    freq = parts.get("FREQ", "")
    interval = int(parts.get("INTERVAL", "1") or 1)
    local = start.date() if all_day else _local(start, zone).date()
    days = [_day(d) for d in parts["BYDAY"].split(",")] if "BYDAY" in parts else []
    monthdays = parts.get("BYMONTHDAY", "")
    months = parts.get("BYMONTH", "")
    setpos = parts.get("BYSETPOS", "")
    if "," in monthdays or "," in months or "," in setpos:
        raise UnsupportedRule("Graph recurrence takes one month day, one month and one position")
    if monthdays.startswith("-") or setpos and int(setpos) not in INDEX:
        raise UnsupportedRule(f"Graph recurrence cannot count {monthdays or setpos} from the end")
    pattern: dict[str, Any] = {"interval": interval}
    if freq == "DAILY" and not (days or monthdays or months or setpos):
        pattern["type"] = "daily"
    elif freq in ("DAILY", "WEEKLY") and not (monthdays or months or setpos):
        if freq == "DAILY" and interval != 1:
            raise UnsupportedRule("Graph cannot repeat some weekdays every few days")
        if any(n is not None for n, _ in days):
            raise UnsupportedRule("a weekly rule with numbered days (BYDAY=2MO)")
        chosen = [d for _, d in days] or [DAYS[local.weekday()]]
        pattern |= {"type": "weekly", "daysOfWeek": [DAY_TO_GRAPH[d] for d in chosen]}
        pattern["firstDayOfWeek"] = DAY_TO_GRAPH[parts.get("WKST", "MO")]  # RFC 5545 default
    elif freq in ("MONTHLY", "YEARLY"):
        yearly = freq == "YEARLY"
        if yearly:
            pattern["month"] = int(months) if months else local.month
        elif months:
            raise UnsupportedRule("a monthly rule limited to some months (BYMONTH)")
        if days:
            index = int(setpos) if setpos else None
            numbered = {n for n, _ in days}
            if len(numbered) != 1 or (index is None) == (None in numbered):
                raise UnsupportedRule(f"Graph cannot express BYDAY={parts['BYDAY']} here")
            index = index if index is not None else next(iter(numbered))
            if index not in INDEX or monthdays:
                raise UnsupportedRule(f"Graph cannot express BYDAY={parts['BYDAY']} here")
            if len(days) > 1 and not setpos:
                raise UnsupportedRule("several numbered days in one rule")
            pattern["type"] = "relativeYearly" if yearly else "relativeMonthly"
            pattern |= {"daysOfWeek": [DAY_TO_GRAPH[d] for _, d in days], "index": INDEX[index]}
        else:
            if setpos:
                raise UnsupportedRule("BYSETPOS without BYDAY")
            pattern["type"] = "absoluteYearly" if yearly else "absoluteMonthly"
            pattern["dayOfMonth"] = int(monthdays) if monthdays else local.day
    else:
        raise UnsupportedRule(f"Graph recurrence cannot express FREQ={freq or '?'} as written")
    return {"pattern": pattern, "range": _range(parts, local, zone, all_day)}


def _range(parts: dict[str, str], first: date, zone: str, all_day: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"startDate": first.isoformat(), "recurrenceTimeZone": zone or "UTC"}
    if "COUNT" in parts:
        return out | {"type": "numbered", "numberOfOccurrences": int(parts["COUNT"])}
    if "UNTIL" in parts:
        raw = parts["UNTIL"].rstrip("Z")
        if len(raw) == 8:
            last = datetime.strptime(raw, "%Y%m%d").date()
        else:
            instant = datetime.strptime(raw, "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
            last = instant.date() if all_day else _local(instant, zone).date()
        return out | {"type": "endDate", "endDate": last.isoformat()}
    return out | {"type": "noEnd"}


def from_graph(
    recurrence: dict[str, Any], zone: str, all_day: bool, start: datetime | None = None
) -> str:
    """The RRULE line of Graph's {pattern, range}, in its shortest form for a series that
    starts at ``start`` (what the start implies is left out: INTERVAL=1, the start's
    weekday, month day and month, WKST=MO); UnsupportedRule for an unknown pattern type.
    An end date becomes UNTIL at the series' start time on that date (UTC), or the date
    itself for all-day series."""
    pattern = recurrence.get("pattern") or {}
    span = recurrence.get("range") or {}
    kind = pattern.get("type", "")
    tz = ZoneInfo(span.get("recurrenceTimeZone") or zone or "UTC") if not all_day else UTC
    local = start.astimezone(tz) if start is not None else None
    parts: list[str] = []
    interval = int(pattern.get("interval") or 1)
    if interval != 1:
        parts.append(f"INTERVAL={interval}")
    days = [GRAPH_TO_DAY[d.lower()] for d in pattern.get("daysOfWeek") or []]
    if kind == "daily":
        parts.insert(0, "FREQ=DAILY")
    elif kind == "weekly":
        parts.insert(0, "FREQ=WEEKLY")
        if local is None or days != [DAYS[local.weekday()]]:
            parts.append(f"BYDAY={','.join(days)}")
        first = GRAPH_TO_DAY.get(str(pattern.get("firstDayOfWeek", "monday")).lower(), "MO")
        if first != "MO":
            parts.append(f"WKST={first}")
    elif kind in ("absoluteMonthly", "absoluteYearly"):
        yearly = kind == "absoluteYearly"
        parts.insert(0, "FREQ=YEARLY" if yearly else "FREQ=MONTHLY")
        day = int(pattern["dayOfMonth"])
        if yearly and (local is None or int(pattern["month"]) != local.month):
            parts.append(f"BYMONTH={int(pattern['month'])}")
        if local is None or day != local.day:
            parts.append(f"BYMONTHDAY={day}")
    elif kind in ("relativeMonthly", "relativeYearly"):
        parts.insert(0, "FREQ=MONTHLY" if kind == "relativeMonthly" else "FREQ=YEARLY")
        index = INDEX_OF[str(pattern.get("index", "first"))]
        if len(days) == 1:
            parts.append(f"BYDAY={index}{days[0]}")
        else:
            parts += [f"BYDAY={','.join(days)}", f"BYSETPOS={index}"]
        if kind == "relativeYearly":
            parts.append(f"BYMONTH={int(pattern['month'])}")
    else:
        raise UnsupportedRule(f"unknown Graph recurrence pattern {kind!r}")
    end = span.get("type", "noEnd")
    if end == "numbered":
        parts.append(f"COUNT={int(span['numberOfOccurrences'])}")
    elif end == "endDate":
        last = date.fromisoformat(span["endDate"])
        if all_day:
            parts.append(f"UNTIL={last.strftime('%Y%m%d')}")
        else:
            at = local.time() if local is not None else time(23, 59, 59)
            until = datetime.combine(last, at, tz).astimezone(UTC)
            parts.append(f"UNTIL={until.strftime('%Y%m%dT%H%M%SZ')}")
    return "RRULE:" + ";".join(parts)


def canonical(rule: str, start: datetime, zone: str, all_day: bool) -> str:
    """The rule as Graph will give it back (what a write of ``rule`` reads back as)."""
    return from_graph(to_graph(rule, start, zone, all_day), zone, all_day, start)


def occurrence_starts(start: datetime, lines: tuple[str, ...], until: datetime) -> list[datetime]:
    """Every occurrence start of the series before ``until`` (EXDATE/RDATE applied); for
    writing a rule Graph cannot express as single events."""
    from dateutil.rrule import rruleset, rrulestr

    tz = start.tzinfo or UTC
    naive = start.replace(tzinfo=None)
    rules = rruleset()
    for line in lines:
        name, _, value = line.partition(":")
        head = name.split(";")[0].upper()
        if head == "RRULE":
            rules.rrule(rrulestr(value, dtstart=naive, ignoretz=True))  # type: ignore[arg-type]
        elif head in ("EXDATE", "RDATE"):
            for raw in value.split(","):
                text = raw.strip().rstrip("Z")
                fmt = "%Y%m%d" if len(text) == 8 else "%Y%m%dT%H%M%S"
                when = datetime.strptime(text, fmt).replace(tzinfo=UTC).astimezone(tz)
                if len(text) == 8:
                    when = datetime.combine(when.date(), naive.time(), tz)
                local = when.replace(tzinfo=None)
                rules.exdate(local) if head == "EXDATE" else rules.rdate(local)
    horizon = until.astimezone(tz).replace(tzinfo=None)
    out = []
    for when in rules:
        if when >= horizon or len(out) >= 1000:
            break
        out.append(when.replace(tzinfo=tz))
    return out
