"""Time indexing of event series: the ranges the store answers CalDAV time-range queries with.

Conventions follow Radicale's filter (radicale/item/filter.py) so that the store's answers
equal Radicale's: DATE values are midnight UTC and floating times are UTC; an instance with
DTEND covers [start, start + (DTEND - DTSTART)); one with a positive DURATION covers
[start, start + DURATION); a date-time with neither (or a zero DURATION) covers one second
[start, start + 1); a DATE with neither covers one day. DTEND equal to DTSTART gives the
empty range [start, start]. With these ranges the store's overlap test is the plain
``occ_start < query_end AND occ_end > query_start`` -- no special case for zero length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import vobject
from dateutil import rrule as du_rrule

from bridge.ical.check import build_rule, naive_start, parse_until, rule_parts
from bridge.ical.errors import END_OF_TIME, ICalError, as_utc, events, fix_tz, lines

SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class TimeIndex:
    """Where an event series lies in time, in epoch seconds.

    ``start``/``end`` enclose everything (``end`` is END_OF_TIME for an unbounded series)
    and equal Radicale's ``Item.time_range``. ``occurrences`` holds every instance starting
    before ``expanded_until`` (END_OF_TIME once the whole series is expanded), sorted; moved
    overrides are always included, wherever they moved to.
    """

    start: int
    end: int
    occurrences: list[tuple[int, int]] = field(default_factory=list)
    expanded_until: int = END_OF_TIME
    recurring: bool = False


def _epochs(start: datetime, end: datetime) -> tuple[int, int]:
    return math.floor(start.timestamp()), math.ceil(end.timestamp())


class _Shape:
    """How long each instance of one VEVENT lasts, Radicale style."""

    def __init__(self, event: vobject.base.Component) -> None:
        start = event.dtstart.value
        self.fixed: timedelta | None = None
        self.duration: timedelta | None = None
        if "dtend" in event.contents:
            end = event.dtend.value
            self.fixed = as_utc(_align(end, start)) - as_utc(_align(start, end))
        elif "duration" in event.contents:
            self.duration = event.duration.value
        self.timed = isinstance(start, datetime)

    def range(self, occurrence: date) -> tuple[int, int]:
        begin = as_utc(occurrence)
        if self.fixed is not None:
            return _epochs(begin, begin + self.fixed)
        if self.duration is not None:
            if self.duration > timedelta(0):
                local = fix_tz(occurrence)
                if isinstance(local, datetime) and local.tzinfo is not None:
                    return _epochs(begin, as_utc(local + self.duration))
                return _epochs(begin, begin + self.duration)
            return _epochs(begin, begin + SECOND)
        return _epochs(begin, begin + (SECOND if self.timed else DAY))


def _align(value: date, other: date) -> date:
    """Give a floating value the zone of its partner, as Radicale does."""
    if isinstance(value, datetime) and isinstance(other, datetime):
        if value.tzinfo is None and other.tzinfo is not None:
            return value.replace(tzinfo=other.tzinfo)
    return value


def _key(value: date) -> int:
    return math.floor(as_utc(fix_tz(value)).timestamp())


def _like(value: date, ref: datetime, ref_is_date: bool) -> datetime:
    """Normalise an RDATE/EXDATE value to DTSTART's kind, as Radicale's sanitiser does."""
    if isinstance(value, tuple):  # PERIOD: its start
        value = value[0]
    if not isinstance(value, datetime):
        if ref_is_date:
            return datetime(value.year, value.month, value.day)
        return datetime.combine(value, ref.timetz())
    value = fix_tz(value)  # type: ignore[assignment]
    if ref_is_date:
        return datetime(value.year, value.month, value.day)
    if ref.tzinfo is None:
        return value.replace(tzinfo=None)
    if value.tzinfo is None:
        return value.replace(tzinfo=ref.tzinfo)
    return value


def _ruleset(master: vobject.base.Component, *, exdates: bool = True) -> du_rrule.rruleset:
    raw = master.dtstart.value
    is_date = not isinstance(raw, datetime)
    dtstart = naive_start(master)
    if not is_date:
        dtstart = fix_tz(raw)  # type: ignore[assignment]
    rules = du_rrule.rruleset()
    rules.rdate(dtstart)
    for line in lines(master, "rrule"):
        value = str(line.value)
        parts = rule_parts(value)
        until = parse_until(parts["UNTIL"], raw) if "UNTIL" in parts else None
        rule = build_rule(value, dtstart, until)
        first = next(iter(rule), None)
        count = rule._count  # dateutil keeps COUNT here; vobject adjusts it the same way
        if first != dtstart and count is not None:
            if count <= 1:
                continue
            rule = rule.replace(count=count - 1)
        rules.rrule(rule)
    for name, add in (("rdate", rules.rdate), ("exdate", rules.exdate)):
        if name == "exdate" and not exdates:
            continue
        for line in lines(master, name):
            for value in line.value:
                add(_like(value, dtstart, is_date))
    return rules


def _radicale_unbounded(master: vobject.base.Component) -> bool:
    """Radicale's own test (filter.py getrruleset) for a series without end."""
    for line in lines(master, "rrule"):
        text = str(line.value).upper()
        if ";UNTIL=" not in text and ";COUNT=" not in text:
            return True
    return False


def index_times(
    vcal: vobject.base.Component,
    *,
    horizon: int,
    max_occurrences: int,
    include_cancelled: bool = True,
) -> TimeIndex | None:
    """Expand a VEVENT series into instance ranges up to ``horizon`` (epoch seconds).

    Returns None when the calendar has no VEVENT (the caller falls back to Radicale).
    At most ``max_occurrences`` ranges are stored. Overrides (RECURRENCE-ID) replace the
    instance they name. Overrides with STATUS:CANCELLED keep their range by default,
    because Radicale's filter matches them too; ``include_cancelled=False`` drops them.
    """
    vevents = events(vcal)
    if not vevents:
        return None
    for event in vevents:
        if "dtstart" not in event.contents:
            raise ICalError("VEVENT without DTSTART")
    overrides = [e for e in vevents if "recurrence-id" in e.contents]
    masters = [e for e in vevents if "recurrence-id" not in e.contents]
    if len(masters) > 1:
        raise ICalError(f"{len(masters)} VEVENTs without RECURRENCE-ID; one master is allowed")
    found: list[tuple[int, int]] = []
    for event in overrides:
        status = str(event.status.value).upper() if "status" in event.contents else ""
        if status != "CANCELLED" or include_cancelled:
            found.append(_Shape(event).range(event.dtstart.value))
    starts = [s for s, _ in found]
    ends = [e for _, e in found]
    expanded_until = END_OF_TIME
    recurring = bool(overrides)
    if masters:
        master = masters[0]
        shape = _Shape(master)
        series = any(n in master.contents for n in ("rrule", "rdate"))
        recurring = recurring or series
        if not series:
            found.append(shape.range(master.dtstart.value))
            starts.append(found[-1][0])
            ends.append(found[-1][1])
        else:
            skip = {_key(e.recurrence_id.value) for e in overrides}
            budget = max(max_occurrences - len(found), 0)
            unbounded = _radicale_unbounded(master)
            stored = 0
            walked = 0
            for occurrence in _ruleset(master):
                if _key(occurrence) in skip:
                    continue
                span = shape.range(occurrence)
                if walked == 0:
                    starts.append(span[0])
                walked += 1
                if expanded_until == END_OF_TIME:
                    if span[0] >= horizon:
                        expanded_until = horizon
                    elif stored >= budget:
                        expanded_until = span[0]
                    else:
                        found.append(span)
                        stored += 1
                        ends.append(span[1])
                        continue
                if unbounded:
                    break
                ends.append(span[1])
                if walked > max_occurrences + len(overrides):
                    ends.append(END_OF_TIME)  # not validated; give up on the true end
                    break
            if unbounded:
                ends.append(END_OF_TIME)
    found.sort()
    start = min(starts) if starts else -END_OF_TIME
    end = max(ends) if ends else END_OF_TIME
    return TimeIndex(start, end, found, expanded_until, recurring)


def occurs_between(vcal: vobject.base.Component, start: int, end: int, max_steps: int) -> bool:
    """Whether an instance of the VEVENT series overlaps [start, end) (epoch seconds),
    for a series the time index did not expand that far; after ``max_steps`` instances
    it does not judge (True)."""
    vevents = events(vcal)
    skip = {_key(e.recurrence_id.value) for e in vevents if "recurrence-id" in e.contents}
    for master in (e for e in vevents if "recurrence-id" not in e.contents):
        shape = _Shape(master)
        for steps, occurrence in enumerate(_ruleset(master)):
            if steps > max_steps:
                return True
            if _key(occurrence) in skip:
                continue
            first, last = shape.range(occurrence)
            if first >= end:
                break
            if last > start:
                return True
    return False


# How many instances of a series check_overrides walks at most; beyond, it does not judge.
OVERRIDE_SCAN = 100_000


def _rid_text(value: date) -> str:
    if isinstance(value, datetime):
        return as_utc(fix_tz(value)).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%d")


def check_overrides(vcal: vobject.base.Component) -> None:
    """Refuse an overridden instance whose RECURRENCE-ID the series does not produce.

    An instance is an occurrence of DTSTART, the RRULE or an RDATE; an excluded date
    (EXDATE) still counts, so a cancelled and excluded instance is no error. Calendar
    services refuse to write such an instance (Google answers 404 for its id), so the store
    refuses it too. The series is walked once, in order, at most OVERRIDE_SCAN instances.
    """
    vevents = events(vcal)
    masters = [e for e in vevents if "recurrence-id" not in e.contents]
    wanted = {
        _key(e.recurrence_id.value): e.recurrence_id.value
        for e in vevents
        if "recurrence-id" in e.contents
    }
    if not wanted or len(masters) != 1 or "dtstart" not in masters[0].contents:
        return
    missing = dict(wanted)
    last = max(missing)
    for walked, occurrence in enumerate(_ruleset(masters[0], exdates=False)):
        key = _key(occurrence)
        missing.pop(key, None)
        if not missing or key > last:
            break
        if walked >= OVERRIDE_SCAN:
            return  # too far into the series to judge cheaply
    if missing:
        first = missing[min(missing)]
        raise ICalError(f"RECURRENCE-ID {_rid_text(first)} is not an occurrence of the rule")
