"""Keep what the CRM does not model when a meeting's iCalendar is written anew.

When sync changes a meeting, its iCalendar is rendered from the Meeting's fields
(meeting_to_ical); ``carry_unmodelled`` then copies from the text stored before everything
that rendering does not own — alarms, categories, URLs, attachments, other clients' X-
properties, attendee parameters such as PARTSTAT — so a calendar-side edit changes only
the fields sync carries (DESIGN: the full text round-trips untouched).
"""

from __future__ import annotations

import copy

import vobject

from bridge.ical.errors import events

# Master properties written by meeting_to_ical / ical_overrides: the new text decides them.
OWNED = frozenset(
    {
        "UID",
        "DTSTAMP",
        "DTSTART",
        "DTEND",
        "DURATION",
        "SUMMARY",
        "LOCATION",
        "DESCRIPTION",
        "SEQUENCE",
        "CLASS",
        "TRANSP",
        "STATUS",
        "X-MICROSOFT-CDO-BUSYSTATUS",
        "RRULE",
        "EXDATE",
        "RDATE",
        "RECURRENCE-ID",
        "ORGANIZER",
        "ATTENDEE",
    }
)
OWNED_PREFIX = "X-CRM-"
CALENDAR_OWNED = frozenset({"PRODID", "VERSION"})


def _master(vcal: vobject.base.Component) -> vobject.base.Component | None:
    for event in events(vcal):
        if not hasattr(event, "recurrence_id"):
            return event
    return None


def _address(line: vobject.base.ContentLine) -> str:
    return str(line.value).lower().removeprefix("mailto:")


def carry_unmodelled(old_text: str, new_text: str) -> str:
    """``new_text`` plus what ``old_text`` had that the CRM does not model."""
    old, new = vobject.readOne(old_text), vobject.readOne(new_text)
    old_master, new_master = _master(old), _master(new)
    if old_master is None or new_master is None:
        return new_text
    for line in old.lines():
        if line.name.upper() not in CALENDAR_OWNED and not hasattr(new, line.name.lower()):
            new.add(copy.copy(line))
    # What the new text has already (by name) is its own; the rest comes from the old one.
    present = {line.name.upper() for line in new_master.lines()}
    present |= {component.name.upper() for component in new_master.components()}
    for line in old_master.lines():
        name = line.name.upper()
        if name not in OWNED and not name.startswith(OWNED_PREFIX) and name not in present:
            new_master.add(copy.copy(line))
    for component in old_master.components():  # VALARM and the like
        if component.name.upper() not in present:
            new_master.add(copy.deepcopy(component))
    # Attendees the CRM knows keep the parameters their clients gave them (PARTSTAT ...).
    before = {_address(line): line.params for line in old_master.lines() if line.name == "ATTENDEE"}
    for line in new_master.lines():
        if line.name == "ATTENDEE" and _address(line) in before:
            line.params = {**line.params, **before[_address(line)]}
    return str(new.serialize())
