"""Radicale items ⇄ store rows: the time index of an uploaded item, items from rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from radicale import item as radicale_item
from sqlalchemy import Row

from bridge.storage_plugin.paths import http_date
from bridge.store.items import ItemData, ObjectIndex, event_index

if TYPE_CHECKING:
    from radicale.storage import BaseCollection

VCARD = "VCARD"


def object_index(
    item: radicale_item.Item, *, horizon_days: int, max_occurrences: int
) -> ObjectIndex:
    """Exact occurrences for events; the overall range for anything else."""
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


def to_item(collection: BaseCollection, row: Row, *, redact: bool = False) -> radicale_item.Item:
    """A Radicale item built from stored columns: no iCalendar is parsed."""
    if row.meeting_id is not None:
        if redact:
            text, etag = row.busy_ical, row.busy_etag
        elif row.text is not None and getattr(collection, "personal_copies", True):
            text, etag = row.text, row.etag  # an attendee's own rendering
        else:
            text, etag = row.meeting_ical, row.meeting_etag
    else:
        text, etag = row.text, row.etag
    component = row.component
    return radicale_item.Item(
        collection=collection,
        href=row.href,
        last_modified=http_date(row.last_modified),
        etag=etag,
        text=text,
        uid=row.uid,
        name=VCARD if component == VCARD else "VCALENDAR",
        component_name="" if component == VCARD else component,
        time_range=(row.start_utc, row.end_utc),
    )
