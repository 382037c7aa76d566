"""Radicale collections backed by the store: generic, a user's meetings, a colleague's view.

Reads build Radicale items from stored columns (text, etag, time range) without parsing
iCalendar; writes validate and index before the transaction, then change the store and
the change log together.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from radicale import item as radicale_item
from radicale import storage
from radicale.item import filter as radicale_filter
from sqlalchemy import Connection, Row

from bridge import ical, meeting_service
from bridge.storage_plugin import convert, sync_token
from bridge.storage_plugin.paths import http_date
from bridge.store import changes as change_log
from bridge.store import collections as collection_store
from bridge.store import items as item_store
from bridge.store.changes import Tx
from bridge.store.errors import ReadOnly, StoreError
from bridge.store.items_read import Listed

if TYPE_CHECKING:
    from bridge.storage_plugin import Storage


class StoreCollection(storage.BaseCollection):
    """A collection with a row in the store (generic calendars, address books, homes)."""

    #: Meeting entries show their member's own rendering (an attendee's alarms ...).
    personal_copies = True

    def __init__(self, storage_: Storage, path: str, row: Row | None) -> None:
        self._storage = storage_
        self._path = path
        self._row = row

    # -- identity and properties ---------------------------------------------------

    @property
    def path(self) -> str:
        return self._path

    @property
    def source_id(self) -> int:
        """The collection whose items and change log this collection shows."""
        assert self._row is not None
        return self._row.id

    def get_meta(self, key: str | None = None) -> Any:
        meta = json.loads(self._row.props) if self._row is not None else {}
        return meta if key is None else meta.get(key)

    def set_meta(self, props: Mapping[str, str]) -> None:
        self._refuse_kind_change(props)
        store = self._storage.store
        store.write(lambda tx: collection_store.set_props(tx, self.source_id, props))
        self._row = store.read(lambda conn: collection_store.by_id(conn, self.source_id))

    def _refuse_kind_change(self, props: Mapping[str, str]) -> None:
        """DAV:resourcetype is protected (RFC 4918 15.9): a PROPPATCH cannot change it."""
        before, after = self.get_meta("tag") or "", props.get("tag") or ""
        if after != before:
            kinds = {"VCALENDAR": "a calendar", "VADDRESSBOOK": "an address book"}
            raise ReadOnly(
                f"DAV:resourcetype is protected: /{self.path}/ is "
                f"{kinds.get(before, 'a plain collection')} and stays one"
            )

    @property
    def etag(self) -> str:
        seq = self._storage.store.read(lambda conn: change_log.position(conn, self.source_id))
        digest = hashlib.sha256(
            f"{self.path}\0{self.source_id}\0{seq}\0".encode()
            + json.dumps(self.get_meta(), sort_keys=True).encode()
        )
        return f'"{digest.hexdigest()}"'

    @property
    def last_modified(self) -> str:
        return http_date(self._row.modified_at if self._row is not None else 0)

    # -- reads ----------------------------------------------------------------------

    def _items(self, conn: Connection, rows: Iterable[Listed]) -> list[radicale_item.Item]:
        return [convert.to_item(self, row) for row in rows]

    def _shown(self, conn: Connection, rows: Iterable[Listed]) -> list[tuple[Listed, Any, Any]]:
        """(row, text, etag) as this collection shows each row (bridge.fastpath)."""
        return [(row, *convert.shown(self, row)) for row in rows]

    def get_multi(self, hrefs: Iterable[str]) -> Iterator[tuple[str, radicale_item.Item | None]]:
        wanted = list(hrefs)

        def load(conn: Connection) -> list[tuple[str, radicale_item.Item | None]]:
            rows = item_store.get_many(conn, self.source_id, wanted)
            built = {i.href: i for i in self._items(conn, rows.values())}
            return [(href, built.get(href)) for href in wanted]

        yield from self._storage.store.read(load)

    def get_all(self) -> Iterator[radicale_item.Item]:
        store = self._storage.store
        yield from store.read(
            lambda conn: self._items(conn, item_store.all_in(conn, self.source_id))
        )

    def has_uid(self, uid: str) -> bool:
        return self._storage.store.read(lambda conn: item_store.has_uid(conn, self.source_id, uid))

    def get_filtered(self, filters: Iterable[Any]) -> Iterator[tuple[radicale_item.Item, bool]]:
        tag, start, end, simple = radicale_filter.simplify_prefilters(filters, self.tag)
        bounded = start > radicale_filter.TIMESTAMP_MIN or end < radicale_filter.TIMESTAMP_MAX
        if not tag or not bounded:
            for item in self.get_all():
                if tag is not None and tag != item.component_name:
                    continue
                istart, iend = item.time_range
                if istart >= end or iend <= start:
                    continue
                yield item, simple and (start <= istart or iend <= end)
            return

        def load(conn: Connection) -> list[tuple[radicale_item.Item, bool]]:
            found = [
                (row, exact)
                for row, exact in item_store.in_range(conn, self.source_id, start, end)
                if row.component == tag
            ]
            built = self._items(conn, [row for row, _ in found])
            return [(item, simple and exact) for item, (_, exact) in zip(built, found, strict=True)]

        yield from self._storage.store.read(load)

    def sync(self, old_token: str = "") -> tuple[str, Iterable[str]]:
        def load(conn: Connection) -> tuple[str, list[str]]:
            current = change_log.position(conn, self.source_id)
            token = sync_token.make(self.source_id, current)
            if not old_token:
                return token, item_store.hrefs_in(conn, self.source_id)
            since = sync_token.parse(old_token, self.source_id)
            if since > current:
                raise ValueError(f"sync token {old_token!r} is from the future")
            if since < change_log.floor(conn):
                raise ValueError(f"sync token {old_token!r} has expired")
            return token, change_log.changed_hrefs(conn, self.source_id, since, current)

        return self._storage.store.read(load)

    # -- writes ---------------------------------------------------------------------

    def _prepare(self, href: str, item: radicale_item.Item) -> Any:
        """Validate and index an incoming item before any transaction."""
        if item.name == "VCALENDAR":
            ical.check_time_zones(item.vobject_item)
        return convert.item_data(item, href, self._index(item))

    def _index(self, item: radicale_item.Item) -> item_store.ObjectIndex:
        store = self._storage.store
        return convert.object_index(
            item,
            horizon_days=store.index_horizon_days,
            max_occurrences=store.max_occurrences,
        )

    def _put(self, tx: Tx, href: str, prepared: Any) -> None:
        item_store.upsert(tx, self.source_id, prepared)

    def _drop(self, tx: Tx, href: str) -> None:
        item_store.remove(tx, self.source_id, href)

    def _rename(self, tx: Tx, href: str, new_href: str) -> None:
        """MOVE inside this collection: same object, new name."""
        item_store.remove(tx, self.source_id, new_href)  # Radicale checked Overwrite
        item_store.rename(tx, self.source_id, href, new_href)

    def _get_one(self, href: str) -> radicale_item.Item | None:
        return dict(self.get_multi([href])).get(href)

    def upload(
        self, href: str, item: radicale_item.Item
    ) -> tuple[radicale_item.Item, radicale_item.Item | None]:
        prepared = self._prepare(href, item)
        old = self._get_one(href)
        self._storage.store.write(lambda tx: self._put(tx, href, prepared))
        new = self._get_one(href)
        if new is None:
            # The write moved the object out of this calendar (booked on behalf).
            new = radicale_item.Item(collection=self, href=href, text=item.serialize())
        return new, old

    def delete(self, href: str | None = None) -> None:
        store = self._storage.store
        if href is None:
            self._storage.delete_collection(self.path)
            return
        store.write(lambda tx: self._drop(tx, href))


class MeetingsCollection(StoreCollection):
    """A CRM user's meetings calendar: its items are the meetings the user takes part in."""

    @property
    def owner_login(self) -> str:
        return self.path.split("/", 1)[0]

    def set_meta(self, props: Mapping[str, str]) -> None:
        # Clients may rename or colour it; what it is stays fixed.
        self._refuse_kind_change(props)
        fixed = collection_store.meetings_props("CRM meetings")
        super().set_meta(
            {
                **props,
                "tag": fixed["tag"],
                "C:supported-calendar-component-set": fixed["C:supported-calendar-component-set"],
            }
        )

    def _prepare(self, href: str, item: radicale_item.Item) -> Any:
        if item.name != "VCALENDAR":
            raise StoreError("the CRM meetings calendar accepts only iCalendar events (VEVENT)")
        vcal = item.vobject_item
        ical.validate_meeting_calendar(vcal, max_occurrences=self._storage.store.max_occurrences)
        return vcal, item.serialize(), self._index(item)

    def _put(self, tx: Tx, href: str, prepared: Any) -> None:
        vcal, text, index = prepared
        meeting_service.save_from_caldav(
            tx,
            writer=self.owner_login,
            collection_id=self.source_id,
            href=href,
            vcal=vcal,
            text=text,
            index=index,
        )

    def _drop(self, tx: Tx, href: str) -> None:
        row = item_store.get_many(tx.conn, self.source_id, [href]).get(href)
        if row is not None and row.meeting_id is not None:
            store = self._storage.store
            meeting_service.remove_from_calendar(
                tx,
                writer=self.owner_login,
                meeting_id=row.meeting_id,
                horizon_days=store.index_horizon_days,
                max_occurrences=store.max_occurrences,
            )

    def _rename(self, tx: Tx, href: str, new_href: str) -> None:
        meeting_service.rename_in_calendar(tx, self.source_id, href, new_href)

    def delete(self, href: str | None = None) -> None:
        if href is None:
            raise ReadOnly("the CRM meetings calendar cannot be deleted")
        super().delete(href)


class ColleagueView(StoreCollection):
    """viewer's read-only view of a colleague's meetings; private parts as busy time only."""

    personal_copies = False  # the colleague's own alarms are not the viewer's business

    def __init__(
        self,
        storage_: Storage,
        path: str,
        source: Row,
        *,
        display_name: str,
        viewer_collection_id: int | None,
    ) -> None:
        super().__init__(storage_, path, source)
        self._display_name = display_name
        self._viewer_collection_id = viewer_collection_id

    def get_meta(self, key: str | None = None) -> Any:
        meta = {
            **collection_store.meetings_props(f"CRM meetings: {self._display_name}"),
            "C:calendar-description": f"Meetings of {self._display_name} (read-only)",
        }
        return meta if key is None else meta.get(key)

    def set_meta(self, props: Mapping[str, str]) -> None:
        raise ReadOnly("a colleague's meetings calendar is read-only")

    def _items(self, conn: Connection, rows: Iterable[Listed]) -> list[radicale_item.Item]:
        # A meeting the viewer takes part in (it is in their own calendar) shows in full;
        # any other shows as its stored rendering for non-participants, in which every
        # private component is busy time only (bridge.ical.redact.busy_only).
        rows = list(rows)
        shared = self._shared(conn, rows)
        return [convert.to_item(self, row, redact=row.meeting_id not in shared) for row in rows]

    def _shown(self, conn: Connection, rows: Iterable[Listed]) -> list[tuple[Listed, Any, Any]]:
        rows = list(rows)
        shared = self._shared(conn, rows)
        return [
            (row, *convert.shown(self, row, redact=row.meeting_id not in shared)) for row in rows
        ]

    def _shared(self, conn: Connection, rows: list[Listed]) -> set[int]:
        """The meetings among ``rows`` that are also in the viewer's own calendar."""
        if self._viewer_collection_id is None:
            return set()
        return item_store.meeting_ids_in(
            conn,
            self._viewer_collection_id,
            {row.meeting_id for row in rows if row.meeting_id is not None},
        )

    def _prepare(self, href: str, item: radicale_item.Item) -> Any:
        raise ReadOnly("a colleague's meetings calendar is read-only")

    def delete(self, href: str | None = None) -> None:
        raise ReadOnly("a colleague's meetings calendar is read-only")


class RootCollection(StoreCollection):
    """The root "/": always there, holds the homes, no items."""

    def __init__(self, storage_: Storage) -> None:
        super().__init__(storage_, "", None)

    def get_all(self) -> Iterator[radicale_item.Item]:
        return iter(())

    def get_multi(self, hrefs: Iterable[str]) -> Iterator[tuple[str, radicale_item.Item | None]]:
        return ((href, None) for href in hrefs)

    def has_uid(self, uid: str) -> bool:
        return False

    def sync(self, old_token: str = "") -> tuple[str, Iterable[str]]:
        raise ValueError("the root collection has no sync token")

    def set_meta(self, props: Mapping[str, str]) -> None:
        raise ReadOnly("the root collection has no properties")

    @property
    def etag(self) -> str:
        return '"root"'

    def _prepare(self, href: str, item: radicale_item.Item) -> Any:
        raise ReadOnly("items cannot be stored in the root collection")

    def delete(self, href: str | None = None) -> None:
        raise ReadOnly("the root collection cannot be deleted")
