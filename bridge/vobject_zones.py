"""Time zones belong to one iCalendar object, not to the whole process.

vobject keeps one process-wide map TZID -> tzinfo and fills it from the first VTIMEZONE it
ever parses for a name ("register if not registered yet"); every later object that uses
that TZID gets that definition, even when it carries a VTIMEZONE of its own. In a server
that many users share, whoever is parsed first defines "Europe/Berlin" for everyone until
restart - a refused upload too, since Radicale parses a body before any check - and
Radicale's expand, free-busy and filters then place other users' events at the wrong
times. (Found by the fuzz campaign: its bodies moved a stock Radicale's answers in the
same process.)

``isolate()`` makes the map per top-level object: each object parsed starts with an empty
map of its own, so its VTIMEZONEs define its TZIDs, and a TZID it does not define
resolves as vobject does with nothing registered (UTC, or the IANA zone of that name).
Serialising, which registers the zones it writes, uses the same per-thread map.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import tzinfo
from typing import Any

from vobject import base, icalendar

_local = threading.local()
_ORIGINAL_GET = icalendar.getTzid
_ORIGINAL_READ = base.readComponents


def _own() -> dict[str, tzinfo]:
    zones = getattr(_local, "zones", None)
    if zones is None:
        zones = _local.zones = {}
    return zones


def _register(tzid: str, zone: tzinfo) -> None:
    _own()[icalendar.toUnicode(tzid)] = zone


def _get(tzid: str | None, smart: bool = True) -> tzinfo | None:
    if tzid is None:
        return None
    found = _own().get(icalendar.toUnicode(tzid))
    if found is not None or not smart:
        return found
    # vobject's own fallback: UTC, or the zone of an IANA name (it registers what it
    # finds through registerTzid, which is ours now: into this object's map).
    return _ORIGINAL_GET(tzid, smart)


def _read(*args: Any, **kwargs: Any) -> Iterator[base.Component]:
    """vobject's readComponents with a fresh zone map for every top-level object (each
    is parsed and transformed entirely inside ``next``)."""
    parsed = _ORIGINAL_READ(*args, **kwargs)
    while True:
        _local.zones = {}
        try:
            component = next(parsed)
        except StopIteration:
            return
        yield component


def isolate() -> None:
    """Install the per-object zone maps (idempotent; call before anything is parsed)."""
    import vobject

    icalendar.getTzid = _get
    icalendar.registerTzid = _register
    base.readComponents = _read  # readOne calls it through the module
    vobject.readComponents = _read  # Radicale calls vobject.readComponents
