"""Who owns which part of a meeting's iCalendar (RFC 6638's organiser / attendee split).

The organiser owns the meeting. An internal attendee owns only:

- their participation status: the PARTSTAT (and RSVP, SCHEDULE-STATUS, X- parameters) of
  their own ATTENDEE line, which goes into the meeting so the organiser sees it;
- their personal properties: VALARM components, TRANSP and X- properties other than
  X-CRM-*. These are kept per attendee (``personal_part``) and shown only in that
  attendee's calendar (``render_for_attendee``).

Volatile properties that clients rewrite on every save (DTSTAMP, LAST-MODIFIED, SEQUENCE,
CREATED; PRODID at calendar level) are ignored. Everything here is pure: iCalendar in,
iCalendar or a verdict out. Components are compared one by one, keyed by RECURRENCE-ID.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import vobject

from bridge.ical.errors import events

VOLATILE = frozenset({"DTSTAMP", "LAST-MODIFIED", "SEQUENCE", "CREATED"})
PERSONAL_COMPONENTS = frozenset({"VALARM"})
CRM_PREFIX = "X-CRM-"
BOOKED_BY = "X-CRM-BOOKED-BY"
# Parameters of the attendee's own ATTENDEE line that are theirs to set (with X- ones).
OWN_PARAMS = frozenset({"PARTSTAT", "RSVP", "SCHEDULE-STATUS"})
# Parameters a server or client sets on any line without changing what it says (the
# TZID is compared through the instant it gives; X- parameters are clients' own notes,
# such as vobject's X-VOBJ-ORIGINAL-TZID).
NOISE_PARAMS = frozenset({"TZID", "VALUE", "SCHEDULE-STATUS"})
ALLOWED = "as an attendee you may change only your participation status, alarms and transparency"


def is_personal(name: str) -> bool:
    """A property an attendee may set for themselves (kept per attendee)."""
    upper = name.upper()
    return upper == "TRANSP" or (upper.startswith("X-") and not upper.startswith(CRM_PREFIX))


def address(line: vobject.base.ContentLine) -> str:
    """The e-mail of an ORGANIZER or ATTENDEE line, lower case, without mailto:."""
    value = str(line.value).strip()
    if value.lower().startswith("mailto:"):
        value = value[7:]
    return value.strip().lower()


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return ("floating", value.isoformat())
        return ("instant", value.astimezone(UTC).isoformat())
    if isinstance(value, date):
        return ("date", value.isoformat())
    if isinstance(value, timedelta):
        return ("duration", value.total_seconds())
    if isinstance(value, (list, tuple)):
        return tuple(_value(v) for v in value)
    return str(value)


def _params(line: vobject.base.ContentLine, skip: frozenset[str] = frozenset()) -> tuple:
    return tuple(
        sorted(
            (name.upper(), tuple(sorted(str(v) for v in values)))
            for name, values in line.params.items()
            if name.upper() not in NOISE_PARAMS
            and name.upper() not in skip
            and not name.upper().startswith("X-")
        )
    )


def _entries(line: vobject.base.ContentLine) -> list[tuple]:
    """One comparable entry per value: EXDATE:a,b equals EXDATE:a plus EXDATE:b."""
    values = line.value if isinstance(line.value, list) else [line.value]
    params = _params(line)
    return [(_value(v), params) for v in values]


def _key(event: vobject.base.Component) -> str:
    """The component's RECURRENCE-ID as a comparable string ("" for the master)."""
    if "recurrence-id" not in event.contents:
        return ""
    return repr(_value(event.recurrence_id.value))


def _label(event: vobject.base.Component) -> str:
    if "recurrence-id" not in event.contents:
        return ""
    value = event.recurrence_id.value
    shown = value.isoformat() if isinstance(value, date) else str(value)
    return f" in the occurrence RECURRENCE-ID {shown}"


def _by_key(vcal: vobject.base.Component) -> dict[str, vobject.base.Component]:
    return {_key(event): event for event in events(vcal)}


def _shared_lines(event: vobject.base.Component) -> dict[str, Counter]:
    """The organiser's properties of one component (ATTENDEE apart), name -> entries."""
    found: dict[str, Counter] = {}
    for line in event.lines():
        name = line.name.upper()
        if name in VOLATILE or name == "ATTENDEE" or is_personal(name):
            continue
        entries = found.setdefault(name, Counter())
        if name == "ORGANIZER":
            entries[(address(line), _params(line))] += 1
        else:
            entries.update(_entries(line))
    return found


def _fingerprint(component: vobject.base.Component) -> tuple:
    own = sorted(repr(entry) for line in component.lines() for entry in _entries(line))
    subs = sorted(repr(_fingerprint(sub)) for sub in component.components())
    return (component.name.upper(), tuple(own), tuple(subs))


def _attendees(event: vobject.base.Component, me: str) -> dict[str, tuple]:
    return {
        address(line): _params(line, OWN_PARAMS if address(line) == me else frozenset())
        for line in event.contents.get("attendee", [])
    }


def _component_violation(old: vobject.base.Component, new: vobject.base.Component, me: str) -> str:
    before, after = _shared_lines(old), _shared_lines(new)
    for name in sorted(set(before) | set(after)):
        if before.get(name, Counter()) != after.get(name, Counter()):
            return name
    old_people, new_people = _attendees(old, me), _attendees(new, me)
    if set(old_people) != set(new_people):
        return "ATTENDEE (the attendee list)"
    for person in sorted(old_people):
        if old_people[person] != new_people[person]:
            if person == me:
                return f"ATTENDEE parameters other than PARTSTAT ({person})"
            return f"ATTENDEE {person} (another attendee's participation)"
    old_subs = Counter(
        repr(_fingerprint(c)) for c in old.components() if c.name.upper() not in PERSONAL_COMPONENTS
    )
    new_subs = Counter(
        repr(_fingerprint(c)) for c in new.components() if c.name.upper() not in PERSONAL_COMPONENTS
    )
    if old_subs != new_subs:
        return "a component inside the VEVENT"
    return ""


def attendee_violation(
    stored: vobject.base.Component, sent: vobject.base.Component, attendee: str
) -> str | None:
    """What in ``sent`` an attendee (e-mail ``attendee``) may not change, or None.

    The answer names the property and the occurrence, e.g. "SUMMARY" or "DTSTART in the
    occurrence RECURRENCE-ID 2026-11-16 09:00:00+00:00".
    """
    me = attendee.lower()
    old, new = _by_key(stored), _by_key(sent)
    for key in sorted(set(old) | set(new)):
        if key not in old or key not in new:
            event = new.get(key) or old[key]
            return f"RECURRENCE-ID (an added or removed overridden occurrence){_label(event)}"
        problem = _component_violation(old[key], new[key], me)
        if problem:
            return problem + _label(old[key])
    return None


def refusal(problem: str, organiser: str) -> str:
    """The message for an attendee's forbidden change."""
    return f"{problem} belongs to the organiser ({organiser}); {ALLOWED}"


def _own_line(event: vobject.base.Component, me: str) -> vobject.base.ContentLine | None:
    for line in event.contents.get("attendee", []):
        if address(line) == me:
            return line
    return None


def partstat(vcal: vobject.base.Component, attendee: str) -> str | None:
    """The attendee's PARTSTAT on the series master (None when not invited)."""
    master = _by_key(vcal).get("")
    line = _own_line(master, attendee.lower()) if master is not None else None
    if line is None:
        return None
    values = line.params.get("PARTSTAT")
    return str(values[0]).upper() if values else "NEEDS-ACTION"


def with_answers(stored_text: str, sent: vobject.base.Component, attendee: str) -> str:
    """The stored meeting with the attendee's PARTSTAT taken from ``sent``, per component."""
    me = attendee.lower()
    vcal = vobject.readOne(stored_text)
    sent_events = _by_key(sent)
    for key, event in _by_key(vcal).items():
        mine = _own_line(event, me)
        theirs = _own_line(sent_events[key], me) if key in sent_events else None
        if mine is None or theirs is None:
            continue
        answer = theirs.params.get("PARTSTAT")
        if answer:
            mine.params["PARTSTAT"] = [str(answer[0]).upper()]
        else:
            mine.params.pop("PARTSTAT", None)
    return str(vcal.serialize())


_TIMING = ("DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE")


def _timing(event: vobject.base.Component) -> list:
    """When a component happens, comparably: what rescheduling it changes."""
    return sorted(
        repr(entry)
        for line in event.lines()
        if line.name.upper() in _TIMING
        for entry in _entries(line)
    )


def _answer(line: vobject.base.ContentLine) -> str:
    values = line.params.get("PARTSTAT")
    return str(values[0]).upper() if values else "NEEDS-ACTION"


def keep_answers(new_text: str, stored_text: str, attendees: Iterable[str]) -> str:
    """The organiser's ``new_text`` with each of ``attendees``' answers (PARTSTAT) kept
    from the stored meeting, per component: an answer is the attendee's, and an
    organiser's client that still holds an old copy must not undo it. Where the organiser
    rescheduled a component (its times or recurrence changed), what the organiser sent
    stands: a moved meeting is asked again, as RFC 6638 servers do."""
    wanted = {a.lower() for a in attendees if a}
    if not wanted:
        return new_text
    vcal = vobject.readOne(new_text)
    before = _by_key(vobject.readOne(stored_text))
    changed = False
    for key, event in _by_key(vcal).items():
        old = before.get(key)
        if old is None or _timing(old) != _timing(event):
            continue
        for who in wanted:
            mine, theirs = _own_line(event, who), _own_line(old, who)
            if mine is None or theirs is None or _answer(mine) == _answer(theirs):
                continue
            mine.params["PARTSTAT"] = [_answer(theirs)]
            changed = True
    return str(vcal.serialize()) if changed else new_text


def with_partstat(stored_text: str, attendee: str, answer: str) -> str:
    """The stored meeting with the attendee's PARTSTAT set to ``answer`` everywhere."""
    me = attendee.lower()
    vcal = vobject.readOne(stored_text)
    for event in events(vcal):
        mine = _own_line(event, me)
        if mine is not None:
            mine.params["PARTSTAT"] = [answer]
    return str(vcal.serialize())


def personal_part(sent: vobject.base.Component) -> str | None:
    """The attendee's personal properties per component, as a small VCALENDAR (None: none)."""
    out = vobject.iCalendar()
    found = False
    for event in events(sent):
        part = out.add("vevent")
        part.add("uid").value = str(event.uid.value)
        if "recurrence-id" in event.contents:
            part.add(copy.copy(event.recurrence_id))
        for line in event.lines():
            if is_personal(line.name):
                part.add(copy.copy(line))
                found = True
        for component in event.components():
            if component.name.upper() in PERSONAL_COMPONENTS:
                part.add(copy.deepcopy(component))
                found = True
    return str(out.serialize()) if found else None


def render_for_attendee(meeting_text: str, personal: str | None) -> str | None:
    """The meeting as an attendee's calendar shows it: without the organiser's alarms and,
    when the attendee has personal properties, with theirs instead of the organiser's.
    None when that is the meeting text unchanged."""
    vcal = vobject.readOne(meeting_text)
    mine = _by_key(vobject.readOne(personal)) if personal else {}
    changed = False
    for event in events(vcal):
        for component in list(event.components()):
            if component.name.upper() in PERSONAL_COMPONENTS:
                event.remove(component)
                changed = True
        if personal is None:
            continue
        for line in list(event.lines()):
            if is_personal(line.name):
                event.remove(line)
                changed = True
        own = mine.get(_key(event))
        if own is None:
            continue
        for line in own.lines():
            if is_personal(line.name):
                event.add(copy.copy(line))
                changed = True
        for component in own.components():
            event.add(copy.deepcopy(component))
            changed = True
    return str(vcal.serialize()) if changed else None


def set_booked_by(vcal: vobject.base.Component, login: str | None) -> None:
    """Write who booked the meeting (X-CRM-BOOKED-BY) on every component, in place:
    whatever the client claimed is replaced."""
    for event in events(vcal):
        for line in list(event.contents.get(BOOKED_BY.lower(), [])):
            event.remove(line)
        if login and "recurrence-id" not in event.contents:
            event.add(BOOKED_BY.lower()).value = login
