"""Radicale storage plugin: `[storage] type = bridge.storage_plugin`, `url = <SQLAlchemy URL>`.

Translates Radicale's paths and items into store calls; it holds no business rules
(those live in bridge.meeting_service and the store). Layout, as in Radicale's own
storage: paths.py (what a path names), collection.py (reads, writes, sync), discover.py
(finding collections and items), this module (the Storage: locking, create, move).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager as ContextManager
from contextlib import contextmanager
from typing import Any

from radicale import config as radicale_config
from radicale import item as radicale_item
from radicale import storage, types

from bridge.meeting_rights import move_refusal
from bridge.storage_plugin import discover as discovery
from bridge.storage_plugin.collection import MeetingsCollection, StoreCollection
from bridge.store import Store, shared_store
from bridge.store import collections as collection_store
from bridge.store.errors import ReadOnly, StoreError

PLUGIN_SCHEMA: types.CONFIG_SCHEMA = {
    "storage": {
        "url": {
            "value": "sqlite:///var/bridge.sqlite3",
            "help": "SQLAlchemy URL of the bridge store",
            "type": str,
        },
        "max_occurrences": {
            "value": "5000",
            "help": "occurrences of a series kept in the time index",
            "type": int,
        },
        "index_horizon_days": {
            "value": "1830",
            "help": "how far ahead series are expanded in the time index",
            "type": int,
        },
        "change_retention_days": {
            "value": "30",
            "help": "days the change log (sync tokens) is kept",
            "type": int,
        },
        "auto_migrate": {
            "value": "True",
            "help": "bring the database schema up to date at start",
            "type": bool,
        },
    }
}


class Storage(storage.BaseStorage):
    # Names are database values, not file names: any Unicode, white space or punctuation
    # that Radicale accepts in a path can be stored.
    _is_collision_free = True
    _supports_unicode = True
    _supports_trailing_whitespace = True
    _supports_problematic_chars = True

    def __init__(self, configuration: radicale_config.Configuration) -> None:
        configuration = configuration.copy(PLUGIN_SCHEMA)
        super().__init__(configuration)
        get = configuration.get
        self.store: Store = shared_store(
            get("storage", "url"),
            max_occurrences=get("storage", "max_occurrences"),
            index_horizon_days=get("storage", "index_horizon_days"),
            change_retention_days=get("storage", "change_retention_days"),
            migrate=get("storage", "auto_migrate"),
        )

    def discover(
        self,
        path: str,
        depth: str = "0",
        child_context_manager: Callable[[str, str | None], ContextManager[None]] | None = None,
        user_groups: set[str] = set(),  # noqa: B006 - Radicale's signature
    ) -> Iterator[types.CollectionOrItem]:
        return discovery.discover(self, path, depth, child_context_manager)

    def create_collection(
        self,
        href: str,
        items: Iterable[radicale_item.Item] | None = None,
        props: Mapping[str, str] | None = None,
    ) -> tuple[StoreCollection, dict[str, radicale_item.Item], list[str]]:
        return discovery.create_collection(self, href, items, props)

    def move(
        self, item: radicale_item.Item, to_collection: storage.BaseCollection, to_href: str
    ) -> None:
        source = item.collection
        if not isinstance(source, StoreCollection) or not isinstance(
            to_collection, StoreCollection
        ):
            raise StoreError("cannot move between this storage and another")
        assert item.href is not None
        href = item.href
        if source.path == to_collection.path:  # a rename: the object keeps everything
            self.store.write(lambda tx: source._rename(tx, href, to_href))
            return
        if isinstance(source, MeetingsCollection) or isinstance(to_collection, MeetingsCollection):
            raise move_refusal(source.path, to_collection.path)
        prepared = to_collection._prepare(to_href, item)

        def work(tx: Any) -> None:
            source._drop(tx, href)
            to_collection._put(tx, to_href, prepared)

        self.store.write(work)

    def delete_collection(self, path: str) -> None:
        def work(tx: Any) -> None:
            doomed = collection_store.subtree(tx.conn, path)
            if any(row.kind == collection_store.MEETINGS for row in doomed):
                raise ReadOnly(f"{path!r} holds a CRM meetings calendar and cannot be deleted")
            collection_store.delete_tree(tx, path)

        self.store.write(work)

    @contextmanager
    def acquire_lock(self, mode: str, user: str = "", *args: Any, **kwargs: Any) -> Iterator[None]:
        """ "w": one store transaction holding the writer lock for the whole request."""
        if mode == "w":
            with self.store.request_transaction(origin=f"caldav:{user}" if user else "caldav"):
                yield
        else:
            yield

    def verify(self) -> bool:
        """Parse every stored object once; report the ones that no longer parse."""
        return discovery.verify(self)
