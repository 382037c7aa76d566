"""Recurring events seen as instances: virtual ones from the rules, stored exceptions overriding."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from .store import Calendar, StoredEvent
from .times import Occurrence, occurrences, suffix_bound

READ_ONLY_INSTANCE = ("recurrence",)


def virtual_instance(master: StoredEvent, occ: Occurrence) -> dict[str, Any]:
    resource = copy.deepcopy(master.resource)
    for key in READ_ONLY_INSTANCE:
        resource.pop(key, None)
    resource["id"] = f"{master.id}_{occ.suffix}"
    resource["recurringEventId"] = master.id
    resource["originalStartTime"] = occ.original.to_json()
    resource["start"] = occ.start.to_json()
    resource["end"] = occ.end.to_json()
    return resource


def expand(
    calendar: Calendar, master: StoredEvent, until: datetime | None = None
) -> list[tuple[str, dict[str, Any], int]]:
    """(suffix, resource, change number) for every instance; cancelled exceptions included."""
    overrides = {s.id: s for s in calendar.exceptions_of(master.id)}
    out = []
    for occ in occurrences(master.resource, calendar.tz, until):
        stored = overrides.get(f"{master.id}_{occ.suffix}")
        if stored is not None:
            out.append((occ.suffix, copy.deepcopy(stored.resource), stored.seq))
        else:
            out.append((occ.suffix, virtual_instance(master, occ), master.seq))
    return out


def resolve(calendar: Calendar, event_id: str) -> tuple[StoredEvent | None, dict[str, Any] | None]:
    """An event id as the API sees it: (stored event, None) or (master, virtual instance)."""
    stored = calendar.find(event_id)
    if stored is not None:
        return stored, None
    if "_" not in event_id:
        return None, None
    master_id, suffix = event_id.rsplit("_", 1)
    master = calendar.find(master_id)
    if master is None or not master.recurring:
        return None, None
    try:
        bound = suffix_bound(suffix)
    except ValueError:
        return None, None
    for occ in occurrences(master.resource, calendar.tz, bound):
        if occ.suffix == suffix:
            return master, virtual_instance(master, occ)
    return None, None
