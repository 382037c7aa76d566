"""Overridden occurrences of a series: read from, and written into, iCalendar text.

Meeting models a series master only; its moved or changed instances (RECURRENCE-ID
components) travel as ``bridge.model.Override`` values: read from the stored iCalendar for
outbound sync, written into it when a calendar reports them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import vobject
from vobject.icalendar import utc as VUTC  # vobject serialises its own UTC only

from bridge.ical.errors import as_utc, events, fix_tz
from bridge.ical.meeting import _instance_id, busy_of, text_value, write_busy
from bridge.model import Override


def aware_in(value: date) -> datetime:
    if isinstance(value, datetime):
        return as_utc(fix_tz(value))
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def read_overrides(vcal: vobject.base.Component) -> list[Override]:
    """The overridden instances of the calendar's series, in RECURRENCE-ID order."""
    found = []
    for event in events(vcal):
        rid = getattr(event, "recurrence_id", None)
        if rid is None:
            continue
        start_value = event.dtstart.value
        start = aware_in(start_value)
        if hasattr(event, "dtend"):
            end = aware_in(event.dtend.value)
        elif hasattr(event, "duration"):
            end = start + event.duration.value
        else:
            end = start + (
                timedelta(days=1) if not isinstance(start_value, datetime) else timedelta()
            )
        found.append(
            Override(
                recurrence_id=_instance_id(rid.value),
                start=start,
                end=end,
                subject=text_value(event, "summary"),
                location=text_value(event, "location"),
                description=text_value(event, "description"),
                busy=busy_of(event),
            )
        )
    return sorted(found, key=lambda o: o.recurrence_id)


def _rid_value(recurrence_id: str) -> date:
    if "T" not in recurrence_id:
        return date.fromisoformat(recurrence_id)
    return datetime.fromisoformat(recurrence_id).astimezone(VUTC)


def with_overrides(text: str, overrides: Iterable[Override], *, all_day: bool) -> str:
    """``text`` (one series master) with an override component per ``overrides``."""
    overrides = list(overrides)
    if not overrides:
        return text
    vcal = vobject.readOne(text)
    master = events(vcal)[0]
    uid = master.uid.value
    for o in overrides:
        event = vcal.add("vevent")
        event.add("uid").value = uid
        event.add("dtstamp").value = datetime.now(VUTC).replace(microsecond=0)
        event.add("recurrence-id").value = _rid_value(o.recurrence_id)
        if all_day:
            event.add("dtstart").value = o.start.date()
            event.add("dtend").value = o.end.date()
        else:
            event.add("dtstart").value = o.start.astimezone(VUTC)
            event.add("dtend").value = o.end.astimezone(VUTC)
        for name, value in (
            ("summary", o.subject),
            ("location", o.location),
            ("description", o.description),
        ):
            if value:
                event.add(name).value = value
        write_busy(event, o.busy)
    return vcal.serialize()
