"""Parsing and validation of incoming iCalendar data."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime

import vobject
from dateutil import rrule as du_rrule

from bridge.ical.errors import (
    TIME_PROPS,
    ICalError,
    as_utc,
    events,
    fix_tz,
    iana_zone,
    lines,
    tz_name,
)

_BOUNDLESS_FORBIDDEN = ("SECONDLY", "MINUTELY", "HOURLY")
# How far ahead a rule's first occurrence is looked for, per FREQ; a rule with none in
# this window is rejected. Keeps dateutil from iterating to year 9999 on impossible rules.
_SEARCH_YEARS = {"YEARLY": 400, "MONTHLY": 400, "WEEKLY": 100, "DAILY": 30}
_SUBDAILY_SEARCH_YEARS = 5
_FREQ_SECONDS = {
    "YEARLY": 365 * 86400,
    "MONTHLY": 365 * 86400 / 12,
    "WEEKLY": 7 * 86400,
    "DAILY": 86400,
    "HOURLY": 3600,
    "MINUTELY": 60,
    "SECONDLY": 1,
}


def parse_calendar(text: str) -> vobject.base.Component:
    """Parse exactly one VCALENDAR; every parser error becomes an ICalError."""
    if not isinstance(text, str):
        raise ICalError("iCalendar data must be text")
    if not text.strip():
        raise ICalError("empty iCalendar data")
    try:
        components = list(vobject.readComponents(text, transform=False))
    except vobject.base.VObjectError as exc:
        raise ICalError(f"cannot parse iCalendar data: {_vobject_message(exc)}") from None
    except Exception as exc:  # vobject raises assorted errors on malformed input
        raise ICalError(f"cannot parse iCalendar data: {exc}") from None
    if len(components) != 1:
        raise ICalError(f"expected one VCALENDAR, found {len(components)} top-level objects")
    vcal = components[0]
    if vcal.name != "VCALENDAR":
        raise ICalError(f"expected a VCALENDAR, found {vcal.name}")
    _transform(vcal, text)
    return vcal


def _vobject_message(exc: Exception) -> str:
    message = str(exc)
    return re.sub(r"^At line \d+: ", "", message)


def _transform(component: vobject.base.Component, text: str) -> None:
    """Like vobject's transformChildrenToNative, naming the line that fails."""
    for key in component.sortChildKeys():
        for child in list(component.contents[key]):
            if isinstance(child, vobject.base.Component):
                try:
                    child.transformToNative()
                except Exception as exc:
                    raise ICalError(f"invalid {child.name} component: {exc}") from None
                _transform(child, text)
                continue
            raw = child.value
            try:
                child.transformToNative()
            except Exception:
                where = _line_of(text, child.name, raw)
                raise ICalError(f"{where}cannot parse {child.name} value {raw!r}") from None


def _line_of(text: str, name: str, raw: object) -> str:
    """'line N: ' for the first physical line holding property ``name`` with value ``raw``."""
    physical = text.splitlines()
    for number, line in enumerate(physical):
        if line[:1] in (" ", "\t"):
            continue
        logical = line + "".join(
            cont[1:]
            for cont in itertools.takewhile(lambda s: s[:1] in (" ", "\t"), physical[number + 1 :])
        )
        head = re.split(r"[;:]", logical, maxsplit=1)[0].upper()
        if head == name.upper() and logical.endswith(f":{raw}"):
            return f"line {number + 1}: "
    return ""


def check_time_zones(vcal: vobject.base.Component) -> None:
    """Every TZID used must be a VTIMEZONE of this calendar or an IANA name zoneinfo knows.

    vobject silently turns an unknown TZID into a floating time, so the TZID is read back
    from the parameters vobject leaves behind (TZID or X-VOBJ-ORIGINAL-TZID).
    """
    defined = {
        str(vtz.tzid.value) for vtz in vcal.contents.get("vtimezone", []) if "tzid" in vtz.contents
    }
    for component in vcal.getChildren():
        if not isinstance(component, vobject.base.Component) or component.name == "VTIMEZONE":
            continue
        for prop in TIME_PROPS:
            for line in lines(component, prop):
                name = _used_tzid(line)
                if name is None or name in defined or iana_zone(name) is not None:
                    continue
                raise ICalError(
                    f"unknown time zone {name!r} in {line.name} of {component.name}"
                    " (no VTIMEZONE and not an IANA name)"
                )


def _used_tzid(line: vobject.base.ContentLine) -> str | None:
    for param in ("TZID", "X-VOBJ-ORIGINAL-TZID"):
        values = line.params.get(param)
        if values:
            return str(values[0])
    value = line.value
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, tuple):  # PERIOD
        value = value[0]
    if isinstance(value, datetime):
        name = tz_name(value.tzinfo)
        return None if name in (None, "UTC") else name
    return None


def check_recurrence(vcal: vobject.base.Component, *, max_occurrences: int) -> None:
    """Reject RRULEs that expand forever, absurdly, or not at all."""
    for component in vcal.getChildren():
        if not isinstance(component, vobject.base.Component):
            continue
        for line in lines(component, "rrule"):
            _check_rule(component, str(line.value), max_occurrences)


def rule_parts(value: str) -> dict[str, str]:
    """The NAME=VALUE parts of an RRULE value, names upper-cased."""
    parts: dict[str, str] = {}
    for piece in value.replace("\\", "").split(";"):
        if not piece.strip():
            continue
        key, sep, val = piece.partition("=")
        if not sep:
            raise ICalError(f"cannot parse RRULE {value!r}: {piece!r} is not NAME=VALUE")
        parts[key.strip().upper()] = val.strip()
    return parts


def naive_start(component: vobject.base.Component) -> datetime:
    """DTSTART as a naive wall-clock datetime (DATE at midnight)."""
    if "dtstart" not in component.contents:
        raise ICalError(f"{component.name} with RRULE has no DTSTART")
    value = component.dtstart.value
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    raise ICalError(f"cannot parse DTSTART value {value!r}")


def parse_until(text: str, start: date) -> datetime:
    """UNTIL as a naive wall-clock datetime in DTSTART's time zone."""
    try:
        if len(text) == 8:
            day = datetime.strptime(text, "%Y%m%d")
            if isinstance(start, datetime):
                return datetime.combine(day.date(), start.time().replace(tzinfo=None))
            return day
        until = datetime.strptime(text.rstrip("Zz"), "%Y%m%dT%H%M%S")
    except ValueError:
        raise ICalError(f"cannot parse RRULE UNTIL value {text!r}") from None
    if text[-1:] in "Zz" and isinstance(start, datetime) and start.tzinfo is not None:
        zone = fix_tz(start).tzinfo  # type: ignore[union-attr]
        return until.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)
    return until


def build_rule(value: str, dtstart: datetime, until: datetime | None) -> du_rrule.rrule:
    """A dateutil rule from an RRULE value, with UNTIL given separately as naive wall clock.

    An aware ``dtstart`` gives an aware rule; ``until`` then takes DTSTART's zone.
    """
    kept = ";".join(
        p for p in value.replace("\\", "").split(";") if p.split("=")[0].strip().upper() != "UNTIL"
    )
    try:
        rule = du_rrule.rrulestr(kept, dtstart=dtstart)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ICalError(f"cannot parse RRULE {value!r}: {exc}") from None
    if not isinstance(rule, du_rrule.rrule):
        raise ICalError(f"cannot parse RRULE {value!r}")
    if until is not None:
        rule = rule.replace(until=until.replace(tzinfo=dtstart.tzinfo), count=None)
    return rule


def _check_rule(component: vobject.base.Component, value: str, max_occurrences: int) -> None:
    try:
        _check_rule_parts(component, value, max_occurrences)
    except ICalError:
        raise
    except (ValueError, OverflowError) as exc:  # dateutil leaving the datetime range
        raise ICalError(f"RRULE {value!r} cannot be evaluated: {exc}") from None


def _check_rule_parts(component: vobject.base.Component, value: str, max_occurrences: int) -> None:
    parts = rule_parts(value)
    freq = parts.get("FREQ", "").upper()
    if not freq:
        raise ICalError(f"RRULE {value!r} has no FREQ")
    if freq not in _FREQ_SECONDS:
        raise ICalError(f"RRULE {value!r} has an unknown FREQ {freq!r}")
    interval = parts.get("INTERVAL", "1")
    if not (interval.isascii() and interval.isdigit() and int(interval) >= 1):
        raise ICalError(f"RRULE INTERVAL={interval!r} must be a positive integer (RFC 5545)")
    has_count, has_until = "COUNT" in parts, "UNTIL" in parts
    if has_count and has_until:
        raise ICalError(f"RRULE {value!r} has both COUNT and UNTIL (RFC 5545 allows one)")
    if freq in _BOUNDLESS_FORBIDDEN and not (has_count or has_until):
        raise ICalError(f"RRULE FREQ={freq} without COUNT or UNTIL would expand forever")
    if has_count:
        try:
            count = int(parts["COUNT"])
        except ValueError:
            raise ICalError(f"cannot parse RRULE COUNT value {parts['COUNT']!r}") from None
        if count < 1:
            raise ICalError(f"RRULE COUNT={count} yields no occurrence")
        if count > max_occurrences:
            raise ICalError(
                f"RRULE COUNT={count} exceeds the limit of {max_occurrences} occurrences"
            )
    start = naive_start(component)
    until = parse_until(parts["UNTIL"], component.dtstart.value) if has_until else None
    if until is not None and until < start:
        raise ICalError(f"RRULE UNTIL {parts['UNTIL']} is before DTSTART")
    years = _SEARCH_YEARS.get(freq, _SUBDAILY_SEARCH_YEARS)
    # dateutil only stops at UNTIL when a candidate matches, so an impossible rule runs to
    # year 9999 whatever UNTIL says. Probe a copy moved close to 9999 instead: 28 years
    # keep weekdays and leap years aligned, so the copy sees the same pattern.
    if next(iter(build_rule(value, _near_year_max(start, years), None)), None) is None:
        raise ICalError(f"RRULE {value!r} yields no occurrence within {years} years of DTSTART")
    if until is not None and next(iter(build_rule(value, start, until)), None) is None:
        raise ICalError(f"RRULE {value!r} yields no occurrence between DTSTART and UNTIL")
    if until is not None:
        periods = (until - start).total_seconds() / _FREQ_SECONDS[freq] / int(interval)
        rule = build_rule(value, start, until)
        if periods > max_occurrences and _more_than(rule, max_occurrences):
            raise ICalError(
                f"RRULE {value!r} would produce more than {max_occurrences} occurrences"
            )


def _near_year_max(start: datetime, years: int) -> datetime:
    target = 9999 - years
    if start.year >= target:
        return start
    try:
        return start.replace(year=target - (target - start.year) % 28)
    except ValueError:  # 29 February
        return start


def _more_than(rule: du_rrule.rrule, limit: int) -> bool:
    return sum(1 for _ in itertools.islice(rule, limit + 1)) > limit


def validate_meeting_calendar(vcal: vobject.base.Component, *, max_occurrences: int) -> None:
    """Accept only what the CRM meetings calendar can hold: one event series."""
    for component in vcal.getChildren():
        if not isinstance(component, vobject.base.Component):
            continue
        if component.name not in ("VEVENT", "VTIMEZONE"):
            raise ICalError(
                f"{component.name} is not accepted in the CRM meetings calendar (only VEVENT)"
            )
    vevents = events(vcal)
    if not vevents:
        raise ICalError("the calendar object holds no VEVENT")
    uids = []
    for event in vevents:
        if "uid" not in event.contents or not str(event.uid.value).strip():
            raise ICalError("VEVENT without UID")
        uids.append(str(event.uid.value))
    if len(set(uids)) > 1:
        raise ICalError(
            "UID clash: one calendar object holds VEVENTs with different UIDs "
            + ", ".join(sorted(set(uids)))
        )
    masters = [e for e in vevents if "recurrence-id" not in e.contents]
    if not masters:
        raise ICalError("VEVENT series without a master (every VEVENT has a RECURRENCE-ID)")
    if len(masters) > 1:
        raise ICalError(f"{len(masters)} VEVENTs without RECURRENCE-ID; one master is allowed")
    seen: set[str] = set()
    for event in vevents:
        if "dtstart" not in event.contents:
            raise ICalError("VEVENT without DTSTART")
        if "dtend" in event.contents and "duration" in event.contents:
            raise ICalError("VEVENT has both DTEND and DURATION")
        if "recurrence-id" in event.contents:
            key = str(event.recurrence_id.value)
            if key in seen:
                raise ICalError(f"two VEVENTs override the same RECURRENCE-ID {key}")
            seen.add(key)
            if "rrule" in event.contents:
                raise ICalError("an overridden instance (RECURRENCE-ID) must not have an RRULE")
        if "dtend" in event.contents:
            start, end = event.dtstart.value, event.dtend.value
            if isinstance(start, datetime) != isinstance(end, datetime):
                raise ICalError("DTSTART and DTEND must both be dates or both date-times")
            if as_utc(end) < as_utc(start):
                raise ICalError("DTEND is before DTSTART")
    check_time_zones(vcal)
    check_recurrence(vcal, max_occurrences=max_occurrences)


__all__ = [
    "ICalError",
    "check_recurrence",
    "check_time_zones",
    "parse_calendar",
    "validate_meeting_calendar",
]
