"""Finding what a path names (lazily: one query for a collection, one for its children)
and creating collections."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager as ContextManager
from typing import TYPE_CHECKING, Any

from radicale import item as radicale_item
from radicale import types
from radicale.log import logger
from sqlalchemy import Connection, Row

from bridge.storage_plugin import convert, paths
from bridge.storage_plugin.collection import (
    ColleagueView,
    MeetingsCollection,
    RootCollection,
    StoreCollection,
)
from bridge.store import collections as collection_store
from bridge.store import items as item_store
from bridge.store import users as user_store
from bridge.store.changes import Tx
from bridge.store.errors import ReadOnly

if TYPE_CHECKING:
    from bridge.storage_plugin import Storage


def _null_context(path: str, href: str | None) -> ContextManager[None]:
    return contextlib.nullcontext()


def collection_for(storage_: Storage, conn: Connection, path: str) -> StoreCollection | None:
    """The collection at a stripped path, or None."""
    if path == "":
        return RootCollection(storage_)
    row = collection_store.by_path(conn, path)
    if row is not None and storage_.store.lock_collections([row.id]):
        # A write request holds the collection it addresses from here to its end, so
        # what Radicale checks (ETags, UIDs) stays true until it writes; read it again.
        row = collection_store.by_id(conn, row.id)
    if row is not None:
        return _wrap(storage_, path, row)
    colleague = paths.colleague_path(path)
    if colleague is None:
        return None
    for seen in user_store.colleagues(conn, colleague.viewer):
        if seen.login == colleague.owner:
            return _view(storage_, conn, colleague.viewer, seen)
    return None


def _wrap(storage_: Storage, path: str, row: Row) -> StoreCollection:
    if row.kind == collection_store.MEETINGS:
        return MeetingsCollection(storage_, path, row)
    return StoreCollection(storage_, path, row)


def _view(storage_: Storage, conn: Connection, viewer: str, seen: Any) -> ColleagueView:
    source = collection_store.by_id(conn, seen.meetings_collection_id)
    own = collection_store.by_path(conn, user_store.meetings_path(viewer))
    return ColleagueView(
        storage_,
        f"{viewer}/{paths.colleague_name(seen.login)}",
        source,
        display_name=seen.display_name,
        viewer_collection_id=own.id if own is not None else None,
    )


def _children(storage_: Storage, conn: Connection, collection: StoreCollection) -> list[Any]:
    rows = collection_store.children(conn, collection.path)
    found: list[Any] = [_wrap(storage_, row.path, row) for row in rows]
    if collection.path and "/" not in collection.path:  # a home: add colleagues' calendars
        found += [
            _view(storage_, conn, collection.path, seen)
            for seen in user_store.colleagues(conn, collection.path)
        ]
    return found


def discover(
    storage_: Storage,
    path: str,
    depth: str,
    child_context_manager: Callable[[str, str | None], ContextManager[None]] | None,
) -> Iterator[types.CollectionOrItem]:
    context = child_context_manager or _null_context
    sane = paths.strip(path)

    def find(conn: Connection) -> Any:
        collection = collection_for(storage_, conn, sane)
        if collection is not None or not sane:
            return collection
        parent_path, href = paths.split_item(sane)
        parent = collection_for(storage_, conn, parent_path)
        if parent is None or isinstance(parent, RootCollection):
            return None
        return dict(parent.get_multi([href])).get(href)

    found = storage_.store.read(find)
    if found is None:
        return
    yield found
    # Lazily: Radicale often takes only the first result (e.g. the principal on every
    # request), so members and children are read only when iterated.
    if depth == "0" or not isinstance(found, StoreCollection):
        return
    for item in found.get_all():
        with context(sane, item.href):
            yield item
    for child in storage_.store.read(lambda conn: _children(storage_, conn, found)):
        with context(child.path, None):
            yield child


def create_collection(
    storage_: Storage,
    href: str,
    items: Iterable[radicale_item.Item] | None,
    props: Mapping[str, str] | None,
) -> tuple[StoreCollection, dict[str, radicale_item.Item], list[str]]:
    path = paths.strip(href)
    if collection_store.is_reserved(path):
        raise ReadOnly(
            f"{path!r}: names 'meetings' and 'meetings-*' are reserved for CRM calendars"
        )
    store = storage_.store
    if not props:
        # A plain collection (a principal's home): create it if it is missing.
        def ensure(tx: Tx) -> None:
            if collection_store.by_path(tx.conn, path) is None:
                collection_store.create(tx, path, {})

        store.write(ensure)
        return _load(storage_, path), {}, []

    suffix = {"VCALENDAR": ".ics", "VADDRESSBOOK": ".vcf"}.get(props.get("tag", ""), "")
    probe = StoreCollection(storage_, path, None)
    prepared = []
    if items is not None and suffix:
        taken: set[str] = set()
        for item in items:
            name = _free_href(item.uid, suffix, taken)
            taken.add(name)
            prepared.append(convert.item_data(item, name, probe._index(item)))

    def replace(tx: Tx) -> tuple[dict[str, radicale_item.Item], list[str]]:
        old = collection_store.by_path(tx.conn, path)
        replaced: dict[str, radicale_item.Item] = {}
        if old is not None:
            if any(
                r.kind == collection_store.MEETINGS for r in collection_store.subtree(tx.conn, path)
            ):
                raise ReadOnly(f"{path!r} holds a CRM meetings calendar and cannot be replaced")
            previous = StoreCollection(storage_, path, old)
            rows = item_store.get_many(tx.conn, old.id, [d.href for d in prepared])
            replaced = {href: convert.to_item(previous, row) for href, row in rows.items()}
            collection_store.delete_tree(tx, path)
        new_id = collection_store.create(tx, path, props)
        for data in prepared:
            item_store.upsert(tx, new_id, data)
        return replaced, [d.href for d in prepared if d.href not in replaced]

    replaced, new_hrefs = store.write(replace)
    return _load(storage_, path), replaced, new_hrefs


def _free_href(uid: str, suffix: str, taken: set[str]) -> str:
    for candidate in (
        uid if uid.lower().endswith(suffix) else uid + suffix,
        radicale_item.get_etag(uid).strip('"') + suffix,
    ):
        if candidate not in taken and "/" not in candidate and candidate not in (".", ".."):
            return candidate
    return radicale_item.find_available_uid(lambda h: h in taken, suffix)


def _load(storage_: Storage, path: str) -> StoreCollection:
    collection = storage_.store.read(lambda conn: collection_for(storage_, conn, path))
    assert collection is not None
    return collection


def verify(storage_: Storage) -> bool:
    """Parse every stored generic object and meeting; log the ones that fail."""
    from bridge.store.items import every_text

    ok = True
    for href, text in storage_.store.read(every_text):
        ok &= _parses(href, text)
    return ok


def _parses(href: str, text: str) -> bool:
    try:
        radicale_item.read_components(text)
    except Exception as e:  # noqa: BLE001 - report every broken object
        logger.error("stored object %r does not parse: %s", href, e)
        return False
    return True
