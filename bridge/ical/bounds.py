"""Bounded cost of recurrences: what a calendar object may ask a server to expand.

Radicale and dateutil expand a recurrence instance by instance from DTSTART, on writes
(Radicale's own item check runs under the store's write lock) and on every free-busy,
expand and time-range report. The rules here keep that work small, for every calendar:

- one RRULE (and one EXRULE) per component: RFC 5545 says SHOULD NOT occur more than
  once, and Radicale checks only the first one before expanding them all;
- no FREQ=SECONDLY (more than one instance a minute);
- at most ``MAX_PER_DAY`` instances on any one day (BYHOUR x BYMINUTE x BYSECOND), and at
  most ``MAX_PER_DAY_OPEN`` for a rule without COUNT or UNTIL, because an endless rule is
  expanded from DTSTART at every query;
- COUNT, RDATE values and overridden instances each within the store's
  ``max_occurrences``.

Writes are checked on the parsed object (``parsed_cost_problem``: exactly what Radicale
will expand, however unusual the text). Reads check the stored text line by line
(``cost_problem``: no parsing; stored text was serialized by vobject) to spot objects
stored before these rules existed. Those are evaluated through ``capped``: their
recurrences are cut after ``READ_CAP`` instances in total, so they cost a bounded
amount and never push a report over Radicale's own occurrence limits.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dateutil import rrule as du_rrule

MAX_PER_DAY = 1440  # one a minute on average
MAX_PER_DAY_OPEN = 24  # an endless rule: one an hour on average
# Instances a stored object that breaks these rules shows to reports (see ``capped``):
# Radicale's expand builds a component per instance, about a millisecond each.
READ_CAP = 1000
_FREQS = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY", "SECONDLY")
_INSTANCE_COMPONENTS = ("VEVENT", "VTODO", "VJOURNAL", "VAVAILABILITY", "AVAILABLE")
_UNFOLD = re.compile(r"\r?\n[ \t]")


@dataclass
class ComponentSummary:
    """What one component asks to be expanded."""

    name: str
    rrules: list[str] = field(default_factory=list)
    exrules: list[str] = field(default_factory=list)
    rdates: int = 0
    override: bool = False


def _name_and_value(line: str) -> tuple[str, str]:
    """NAME and VALUE of a content line; parameter values may be quoted and hold ':'."""
    quoted = False
    for index, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == ":" and not quoted:
            head = line[:index]
            return head.split(";", 1)[0].strip().upper(), line[index + 1 :]
    return line.split(";", 1)[0].strip().upper(), ""


def summarise(text: str) -> list[ComponentSummary]:
    """The instance-bearing components of iCalendar ``text``, outside VTIMEZONE."""
    found: list[ComponentSummary] = []
    stack: list[ComponentSummary | None] = []
    for raw in _UNFOLD.sub("", text).splitlines():
        name, value = _name_and_value(raw)
        if name == "BEGIN":
            kind = value.strip().upper()
            inside_zone = any(s is None for s in stack)
            if kind in _INSTANCE_COMPONENTS and not inside_zone:
                summary = ComponentSummary(kind)
                found.append(summary)
                stack.append(summary)
            else:
                stack.append(None if kind == "VTIMEZONE" or inside_zone else _OTHER)
        elif name == "END":
            if stack:
                stack.pop()
        elif stack and isinstance(stack[-1], ComponentSummary) and stack[-1] is not _OTHER:
            current = stack[-1]
            if name == "RRULE":
                current.rrules.append(value.strip())
            elif name == "EXRULE":
                current.exrules.append(value.strip())
            elif name == "RDATE":
                current.rdates += len([v for v in value.split(",") if v.strip()])
            elif name == "RECURRENCE-ID":
                current.override = True
    return found


_OTHER = ComponentSummary("")  # a component whose lines do not matter here


def rule_parts(value: str) -> dict[str, str]:
    """NAME=VALUE parts of a rule, names upper-cased; malformed pieces are skipped."""
    parts: dict[str, str] = {}
    for piece in value.replace("\\", "").split(";"):
        key, sep, val = piece.partition("=")
        if sep:
            parts[key.strip().upper()] = val.strip()
    return parts


def _count(parts: dict[str, str], name: str) -> int | None:
    if name not in parts:
        return None
    return len({v.strip() for v in parts[name].split(",") if v.strip()}) or None


def instances_per_day(parts: dict[str, str]) -> int:
    """An upper bound of the instances a rule makes on one day."""
    freq = parts.get("FREQ", "").upper()
    try:
        interval = max(int(parts.get("INTERVAL", "1") or 1), 1)
    except ValueError:
        interval = 1
    hours, minutes, seconds = (_count(parts, n) for n in ("BYHOUR", "BYMINUTE", "BYSECOND"))
    if freq == "SECONDLY":
        return math.ceil(86400 / interval)
    if freq == "MINUTELY":
        slots = min(math.ceil(1440 / interval), (hours or 24) * (minutes or 60))
        return slots * (seconds or 1)
    if freq == "HOURLY":
        return min(math.ceil(24 / interval), hours or 24) * (minutes or 1) * (seconds or 1)
    return (hours or 1) * (minutes or 1) * (seconds or 1)


def rule_problem(value: str, max_occurrences: int) -> str | None:
    """Why expanding this RRULE/EXRULE value would cost too much, or None."""
    parts = rule_parts(value)
    freq = parts.get("FREQ", "").upper()
    if freq not in _FREQS:
        return None  # not a rule we can judge; the parser refuses it
    if freq == "SECONDLY":
        return f"RRULE {value!r}: FREQ=SECONDLY repeats more than once a minute (not accepted)"
    bounded = "COUNT" in parts or "UNTIL" in parts
    per_day = instances_per_day(parts)
    if per_day > MAX_PER_DAY:
        return (
            f"RRULE {value!r} makes up to {per_day} instances a day "
            f"(limit {MAX_PER_DAY}); use fewer BYHOUR/BYMINUTE/BYSECOND values"
        )
    if not bounded and freq in ("HOURLY", "MINUTELY"):
        return f"RRULE FREQ={freq} without COUNT or UNTIL would expand forever"
    if not bounded and per_day > MAX_PER_DAY_OPEN:
        return (
            f"RRULE {value!r} without COUNT or UNTIL makes up to {per_day} instances a day "
            f"(limit {MAX_PER_DAY_OPEN} for a rule that never ends)"
        )
    if "COUNT" in parts:
        try:
            count = int(parts["COUNT"])
        except ValueError:
            return None
        if count > max_occurrences:
            return f"RRULE COUNT={count} exceeds the limit of {max_occurrences} occurrences"
    return None


def summarise_parsed(component: Any) -> list[ComponentSummary]:
    """Like ``summarise``, from a parsed vobject tree (what Radicale will expand)."""
    found: list[ComponentSummary] = []
    for child in component.getChildren():
        name = str(getattr(child, "name", "") or "").upper()
        if not hasattr(child, "getChildren") or name == "VTIMEZONE":
            continue
        if name in _INSTANCE_COMPONENTS:
            contents = child.contents
            found.append(
                ComponentSummary(
                    name,
                    rrules=[str(line.value) for line in contents.get("rrule", [])],
                    exrules=[str(line.value) for line in contents.get("exrule", [])],
                    rdates=sum(
                        len(line.value) if isinstance(line.value, list) else 1
                        for line in contents.get("rdate", [])
                    ),
                    override="recurrence-id" in contents,
                )
            )
        found.extend(summarise_parsed(child))
    return found


def cost_problem(text: str, max_occurrences: int) -> str | None:
    """The first reason why expanding iCalendar ``text`` would cost too much, or None."""
    return summary_problem(summarise(text), max_occurrences)


def parsed_cost_problem(component: Any, max_occurrences: int) -> str | None:
    """``cost_problem`` of a parsed object: for writes, where the text may be unusual."""
    return summary_problem(summarise_parsed(component), max_occurrences)


def summary_problem(components: list[ComponentSummary], max_occurrences: int) -> str | None:
    """The first reason why expanding these components would cost too much, or None."""
    overrides = sum(1 for c in components if c.override)
    if overrides > max_occurrences:
        return (
            f"{overrides} overridden instances (RECURRENCE-ID) in one object "
            f"exceed the limit of {max_occurrences}"
        )
    for component in components:
        for name, rules in (("RRULE", component.rrules), ("EXRULE", component.exrules)):
            if len(rules) > 1:
                return (
                    f"{component.name} has {len(rules)} {name} properties; one is accepted "
                    "(RFC 5545: it SHOULD NOT occur more than once)"
                )
            for value in rules:
                problem = rule_problem(value, max_occurrences)
                if problem is not None:
                    return problem.replace("RRULE", name, 1)
        if component.rdates > max_occurrences:
            return (
                f"{component.name} has {component.rdates} RDATE values, "
                f"more than the limit of {max_occurrences} occurrences"
            )
    return None


class _Capped(du_rrule.rrulebase):
    """A recurrence set cut after ``limit`` instances (dateutil's between/after work on it)."""

    def __init__(self, inner: Any, limit: int) -> None:
        super().__init__(cache=False)
        self._inner = inner
        self._limit = limit

    def _iter(self) -> Iterator[Any]:
        return itertools.islice(iter(self._inner), self._limit)


def _capped_method(method: Callable[..., Any], limit: int) -> Callable[..., Any]:
    def getrruleset(*args: Any, **kwargs: Any) -> Any:
        rules = method(*args, **kwargs)
        return None if rules is None else _Capped(rules, limit)

    return getrruleset


def capped(vcal: Any, limit: int) -> Any:
    """Make every recurrence of a parsed VCALENDAR stop after ``limit`` instances in total.

    Works on vobject components in place (their ``getrruleset``, which Radicale's
    filter, free-busy and expand call); overridden instances beyond ``limit`` are left
    out. The text of the object is not changed.
    """
    components = [c for c in vcal.getChildren() if hasattr(c, "getrruleset")]
    overrides = [c for c in components if "recurrence-id" in c.contents]
    for extra in overrides[limit:]:
        vcal.remove(extra)
    recurring = [
        c for c in components if any(n in c.contents for n in ("rrule", "rdate", "exrule"))
    ]
    share = max(limit // max(len(recurring), 1), 1)
    for component in recurring:
        # vobject's __setattr__ would turn the name into a content line
        object.__setattr__(component, "getrruleset", _capped_method(component.getrruleset, share))
    return vcal
