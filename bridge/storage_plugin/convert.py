"""Radicale items ⇄ store rows: the time index of an uploaded item, items from rows."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from radicale import item as radicale_item

from bridge.ical.bounds import READ_CAP, capped, cost_problem, parsed_cost_problem
from bridge.ical.check import check_recurrence
from bridge.ical.errors import ICalError
from bridge.storage_plugin.paths import http_date
from bridge.store.items import ItemData, Listed, ObjectIndex, event_index

if TYPE_CHECKING:
    from radicale.storage import BaseCollection

VCARD = "VCARD"
DEFAULT_OCCURRENCE_LIMIT = 5000
_RECURRENCE_LINE = re.compile(
    r"^(RRULE|EXRULE|RDATE|RECURRENCE-ID)[;:]", re.IGNORECASE | re.MULTILINE
)


class BoundedItem(radicale_item.Item):
    """An item whose recurrences Radicale sees cut after ``limit`` instances.

    For objects stored before the write-time bounds (bridge.ical.bounds): GET still
    serves their text unchanged, but free-busy, expand and time-range filters, which
    expand the parsed object, stop after a bounded number of instances.
    """

    def __init__(self, *args: Any, limit: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limit = limit

    @property
    def vobject_item(self) -> Any:
        if self._vobject_item is None:
            self._vobject_item = capped(super().vobject_item, self._limit)
        return self._vobject_item


def object_index(
    item: radicale_item.Item, *, horizon_days: int, max_occurrences: int
) -> ObjectIndex:
    """Exact occurrences for events; the overall range for anything else.

    Refuses (ICalError, a 4xx) recurrences beyond the bounds of bridge.ical.bounds and
    bridge.ical.check, for every calendar: bridge serve's guard refused them before the
    lock already; this keeps plain Radicale and MOVE from storing them.
    """
    if item.name == "VCALENDAR":
        vcal = item.vobject_item
        problem = parsed_cost_problem(vcal, max_occurrences)
        if problem is not None:
            raise ICalError(problem)
        check_recurrence(vcal, max_occurrences=max_occurrences)
    if item.component_name == "VEVENT":
        index = event_index(
            item.vobject_item, horizon_days=horizon_days, max_occurrences=max_occurrences
        )
        if index is not None:
            return index
    start, end = item.time_range
    return ObjectIndex(start=start, end=end)


def component_of(item: radicale_item.Item) -> str:
    return item.component_name or (VCARD if item.name == VCARD else "")


def item_data(item: radicale_item.Item, href: str, index: ObjectIndex) -> ItemData:
    text = item.serialize()
    return ItemData(
        href=href,
        uid=item.uid,
        component=component_of(item),
        index=index,
        text=text,
        etag=radicale_item.get_etag(text),
    )


def shown(collection: BaseCollection, row: Listed, *, redact: bool = False) -> tuple[Any, Any]:
    """(text, etag) of the rendering a stored row shows in ``collection``: a meeting's
    busy-only rendering when ``redact``, else the member's own copy or the meeting's."""
    if row.meeting_id is not None:
        if redact:
            return row.busy_ical, row.busy_etag
        if row.text is not None and getattr(collection, "personal_copies", True):
            return row.text, row.etag  # an attendee's own rendering
        return row.meeting_ical, row.meeting_etag
    return row.text, row.etag


def names(component: str) -> tuple[str, str]:
    """(item.name, item.component_name) Radicale gives an object of this component."""
    return (VCARD, "") if component == VCARD else ("VCALENDAR", component)


def to_item(collection: BaseCollection, row: Listed, *, redact: bool = False) -> radicale_item.Item:
    """A Radicale item built from stored columns: no iCalendar is parsed."""
    text, etag = shown(collection, row, redact=redact)
    component = row.component
    limit = _occurrence_limit(collection)
    recurring = text is not None and _RECURRENCE_LINE.search(text) is not None
    # Costly objects stored before the write-time bounds: a small cap (READ_CAP).
    costly = recurring and cost_problem(text, limit) is not None
    # Series that go on past the time index (no end, or beyond the horizon): Radicale would
    # walk them up to a report's window, and a window at year 9999 took seconds per object;
    # they are cut after as many instances as the time index keeps (max_occurrences).
    endless = recurring and row.open_from is not None
    kind: Any = BoundedItem if costly or endless else radicale_item.Item
    extra = {"limit": min(limit, READ_CAP) if costly else limit} if costly or endless else {}
    return kind(
        collection=collection,
        href=row.href,
        last_modified=http_date(row.last_modified),
        etag=etag,
        text=text,
        uid=row.uid,
        name=names(component)[0],
        component_name=names(component)[1],
        time_range=(row.start_utc, row.end_utc),
        **extra,
    )


def _occurrence_limit(collection: BaseCollection) -> int:
    storage = getattr(collection, "_storage", None)
    store = getattr(storage, "store", None)
    return int(getattr(store, "max_occurrences", DEFAULT_OCCURRENCE_LIMIT))
