"""An update as read-merge-write: the CRM's event merged into the object the server holds.
Pure: no I/O, no sync rules.

``merged(current_text, event)`` starts from ``wire.event_to_ical(event)`` (so the synced
fields, the ones ``RemoteEvent.content_hash`` covers, are written exactly as a create writes
them and read back to the same hash) and carries over everything else the current object
has: the master's alarms (VALARM), CATEGORIES, COLOR, X- properties, SEQUENCE, CREATED,
attendees; each override's own extras when the event still has that override (matched by
RECURRENCE-ID); the calendar's extra properties, time zones and components. An override the
event no longer has is dropped; one it gains is added. The UID stays the current one.

What is replaced, never carried over (``SYNCED``): the texts, times, recurrence, busy and
privacy lines, the tags, UID, DTSTAMP and LAST-MODIFIED. Three of them are carried over when
they say nothing the event contradicts: STATUS unless TENTATIVE (busy), the Outlook busy
status unless OOF, and CLASS when its privacy equals the event's (CONFIDENTIAL stays
CONFIDENTIAL). An override's CLASS follows its series. The user's attendees stay, marked
SCHEDULE-AGENT=CLIENT (RFC 6638 9.1): the server mails nobody.
"""

from __future__ import annotations

from collections.abc import Callable

import vobject

from bridge.backends.base import RemoteEvent
from bridge.backends.caldav import wire
from bridge.ical.errors import events, lines

SYNCED = frozenset(
    {
        "uid",
        "dtstamp",
        "last-modified",
        "recurrence-id",
        "dtstart",
        "dtend",
        "duration",
        "summary",
        "location",
        "description",
        "rrule",
        "rdate",
        "exdate",
        "exrule",
        "transp",
        "status",
        "class",
        "x-microsoft-cdo-busystatus",
        wire.MEETING_ID.lower(),
        wire.INVITE_COPY.lower(),
    }
)
PRIVATE = ("PRIVATE", "CONFIDENTIAL")
CALENDAR_OWN = frozenset({"version", "prodid", "method"})  # METHOD: never in a stored object


def _value(line: vobject.base.ContentLine) -> str:
    return str(line.value).strip().upper()


def _kept_when(private: bool) -> dict[str, Callable[[str], bool]]:
    """For the SYNCED names carried over on a condition: whether a current value stays.
    STATUS and the Outlook busy status only where the event wrote none; a kept CLASS
    replaces the event's (same privacy: the series' CLASS, an override's follows it)."""
    return {
        "status": lambda value: value != "TENTATIVE",
        "x-microsoft-cdo-busystatus": lambda value: value != "OOF",
        "class": lambda value: (value in PRIVATE) == private,
    }


def _carry(
    target: vobject.base.Component,
    source: vobject.base.Component,
    *,
    private: bool,
) -> None:
    """The lines and subcomponents of ``source`` that sync does not own, added to ``target``."""
    conditional = _kept_when(private)
    for name, found in list(source.contents.items()):
        if name in SYNCED and name not in conditional:
            continue
        for item in found:
            if isinstance(item, vobject.base.Component):
                target.add(item)
                continue
            if name in conditional:
                if not conditional[name](_value(item)):
                    continue
                if name != "class" and lines(target, name):
                    continue
                for line in lines(target, name):  # the user's CLASS of the same privacy
                    target.remove(line)
            target.add(item)


def _client_scheduled(vcal: vobject.base.Component) -> None:
    for event in events(vcal):
        for name in wire.PEOPLE:
            for line in lines(event, name):
                line.params["SCHEDULE-AGENT"] = ["CLIENT"]


def _rid(component: vobject.base.Component) -> str:
    return wire.rid_key(component.recurrence_id.value)


def _tzid(component: vobject.base.Component) -> str:
    return str(component.tzid.value) if "tzid" in component.contents else ""


def merged(current_text: str, event: RemoteEvent, *, uid: str) -> str:
    """The object to PUT: ``event``'s synced fields with the rest of ``current_text`` kept.
    When the current text holds no readable series, the event as a create writes it, with
    ``uid``; else the current UID stays."""
    try:
        current = wire.parse(current_text)
    except wire.WireError:
        current = None
    current_events = events(current) if current is not None else []
    masters = [e for e in current_events if "recurrence-id" not in e.contents]
    if current is None or not masters:
        return wire.event_to_ical(event, uid=uid)
    master = masters[0]
    uid = str(master.uid.value) if "uid" in master.contents else uid
    vcal = wire.parse(wire.event_to_ical(event, uid=uid))
    new_master, *new_children = events(vcal)
    _carry(new_master, master, private=event.private)
    new_master.add("last-modified").value = new_master.dtstamp.value
    old_children = {
        _rid(c): c
        for c in current_events
        if "recurrence-id" in c.contents and _value_of(c, "status") != "CANCELLED"
    }
    for child in new_children:
        old = old_children.get(_rid(child))
        if old is not None:
            _carry(child, old, private=event.private)
    _carry_calendar(vcal, current)
    _client_scheduled(vcal)
    return str(vcal.serialize())


def _value_of(component: vobject.base.Component, name: str) -> str:
    found = lines(component, name)
    return _value(found[0]) if found else ""


def _carry_calendar(vcal: vobject.base.Component, current: vobject.base.Component) -> None:
    """The calendar's own extra lines (CALSCALE, X-WR-...), the time zones the new text does
    not define, and any other component (not a VEVENT of this series)."""
    zones = {_tzid(c) for c in vcal.getChildren() if getattr(c, "name", None) == "VTIMEZONE"}
    for name, found in list(current.contents.items()):
        if name in CALENDAR_OWN or name == "vevent":
            continue
        for item in found:
            if isinstance(item, vobject.base.Component):
                if item.name == "VTIMEZONE" and _tzid(item) in zones:
                    continue
                vcal.add(item)
            elif name not in vcal.contents:
                vcal.add(item)
