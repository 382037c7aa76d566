"""What private means, the busy-only redaction of private components, the canonical hash."""

from __future__ import annotations

import hashlib

import vobject

from bridge.ical.check import parse_calendar
from bridge.ical.errors import ICalError

# CLASS values that make a component private.
PRIVATE_CLASSES = frozenset({"PRIVATE", "CONFIDENTIAL"})
# What someone who does not take part may see of a private component: its times only.
BUSY_ONLY_PROPS = (
    "uid",
    "dtstart",
    "dtend",
    "duration",
    "rrule",
    "rdate",
    "exdate",
    "recurrence-id",
    "transp",
    "status",
    "dtstamp",
    "sequence",
)
# Left out of the canonical hash: bookkeeping that changes without the meeting changing.
# SEQUENCE is left out too: a client bumping it without other edits is no change to sync.
HASH_IGNORED = frozenset({"DTSTAMP", "PRODID", "LAST-MODIFIED", "CREATED", "SEQUENCE"})
_MULTI_VALUED = frozenset({"EXDATE", "RDATE"})


def is_private(component: vobject.base.Component) -> bool:
    """The one definition of private: CLASS is PRIVATE or CONFIDENTIAL (RFC 5545 3.8.1.3)."""
    found = component.contents.get("class", [])
    return bool(found) and str(found[0].value).strip().upper() in PRIVATE_CLASSES


def busy_only(vcal: vobject.base.Component) -> str:
    """The calendar object as someone who does not take part in it may see it.

    Every private VEVENT is reduced to busy time (a whitelist of time properties,
    SUMMARY "Busy", no alarms); public ones are kept whole. A private series master makes
    every occurrence private, whatever its own CLASS says: an overridden instance that
    omits CLASS must not reveal what its series hides.
    """
    vevents = [c for c in vcal.getChildren() if getattr(c, "name", None) == "VEVENT"]
    series_private = any(is_private(e) for e in vevents if "recurrence-id" not in e.contents)
    out = vobject.iCalendar()
    out.add("prodid").value = "-//crm-calendar-bridge//EN"
    for component in vcal.getChildren():
        if not isinstance(component, vobject.base.Component):
            continue
        if component.name == "VTIMEZONE":
            out.add(vobject.base.Component.duplicate(component))
        elif component.name == "VEVENT":
            if series_private or is_private(component):
                out.add(_busy_time(component))
            else:
                out.add(vobject.base.Component.duplicate(component))
    try:
        return str(out.serialize())
    except Exception as exc:
        raise ICalError(f"cannot write the busy-only view: {exc}") from None


def _busy_time(event: vobject.base.Component) -> vobject.base.Component:
    busy = vobject.newFromBehavior("vevent")
    for name in BUSY_ONLY_PROPS:
        for line in event.contents.get(name, []):
            busy.add(vobject.base.ContentLine.duplicate(line))
    busy.add("summary").value = "Busy"
    busy.add("class").value = "PRIVATE"
    return busy


def canonical_hash(vcal_or_text: vobject.base.Component | str) -> str:
    """sha256 hex of the calendar's content, blind to how it was written.

    Ignores line folding, property, parameter and component order, VTIMEZONE definitions
    (events keep their TZIDs) and the properties in HASH_IGNORED.
    """
    if isinstance(vcal_or_text, str):
        vcal = parse_calendar(vcal_or_text)
    else:
        vcal = vobject.base.Component.duplicate(vcal_or_text)
    try:
        text = vcal.serialize(validate=False)
        raw = vobject.readOne(text, transform=False)
    except Exception as exc:
        raise ICalError(f"cannot serialise calendar for hashing: {exc}") from None
    return hashlib.sha256(_canonical(raw).encode("utf-8")).hexdigest()


def _canonical(component: vobject.base.Component) -> str:
    props: list[str] = []
    children: list[str] = []
    for child in component.getChildren():
        if isinstance(child, vobject.base.Component):
            if child.name != "VTIMEZONE":
                children.append(_canonical(child))
            continue
        name = child.name.upper()
        if name in HASH_IGNORED:
            continue
        params = ";".join(
            f"{key.upper()}={','.join(sorted(str(v) for v in values))}"
            for key, values in sorted(child.params.items())
            if not key.upper().startswith("X-VOBJ-")
        )
        values = str(child.value).split(",") if name in _MULTI_VALUED else [str(child.value)]
        props.extend(f"{name};{params}:{value}" for value in values)
    body = sorted(props) + sorted(children)
    return "\n".join([f"BEGIN:{component.name}", *body, f"END:{component.name}"])
