"""The pull of the Exchange backend: SyncFolderItems page by page (IdOnly, ``page_size``
changes each), the SyncState as the cursor, and what the backend knows of its own writes.

- An item still at the ChangeKey our own last write left is not read again on an
  incremental listing (it is our echo): an idle round after a push is one request.
- SyncFolderItems reports changes against what it has told this SyncState; an item we
  created after that state and the user deleted before the next listing is never reported.
  The process remembers the items it created in each mailbox (``Listing.of``: shared by
  every backend of that endpoint and mailbox, as the scheduler, a one-off round and the
  tests make several); one the next incremental listing does not mention at all is gone,
  and is reported as Deleted. (A full listing reports it too, and forgets nothing.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from exchangelib.items import ID_ONLY
from exchangelib.properties import ItemId
from exchangelib.services import SyncFolderItems
from exchangelib.services.sync_folder_hierarchy import SyncFolder

from bridge.backends.base import Change, ChangePage, Deleted, RemoteEvent


class _Sync(SyncFolderItems):
    """exchangelib reads SyncState before the ResponseClass, so an error answer (which has
    none: ErrorInvalidSyncStateData) would fail as an AttributeError; raise it as EWS said."""

    def _get_element_container(self, message, name=None):  # noqa: ANN001, ANN202
        if message.get("ResponseClass") == "Error":
            return super(SyncFolder, self)._get_element_container(message=message, name=name)
        return super()._get_element_container(message=message, name=name)


class Listing:
    """The listing state of one mailbox: our writes' ChangeKeys and our creations."""

    _shared: dict[tuple[str, str], Listing] = {}
    _shared_lock = threading.Lock()

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.written: dict[str, str] = {}  # item id -> ChangeKey our last write left
        self.created: set[str] = set()  # items created since the last incremental listing

    @classmethod
    def of(cls, url: str, mailbox: str) -> Listing:
        key = (url.lower(), mailbox.lower())
        with cls._shared_lock:
            return cls._shared.setdefault(key, cls())

    def wrote(self, item_id: str, changekey: str, created: bool = False) -> None:
        with self.lock:
            self.written[item_id] = changekey
            if created:
                self.created.add(item_id)

    def forget(self, item_id: str) -> None:
        with self.lock:
            self.written.pop(item_id, None)
            self.created.discard(item_id)

    def _gone(self, mentioned: set[str], incremental: bool) -> list[str]:
        """Created items no page mentioned (gone); forgotten after an incremental list."""
        with self.lock:
            gone = sorted(self.created - mentioned)
            if incremental:
                for item_id in gone:
                    self.written.pop(item_id, None)
                self.created.clear()
            return gone

    def pages(
        self,
        call: Callable,
        account: object,
        folder: object,
        cursor: str | None,
        page_size: int,
        read: Callable[[list[ItemId]], list[RemoteEvent]],
        failed: Callable[[BaseException], Exception],
    ) -> Iterator[ChangePage]:
        state = cursor or None
        service = _Sync(account=account)
        mentioned: set[str] = set()
        while True:
            changes = call("SyncFolderItems", lambda s=state: list(service.call(
                folder=folder, shape=ID_ONLY, additional_fields=set(), sync_state=s,
                ignore=None, max_changes_returned=page_size, sync_scope=None,
            )))  # fmt: skip
            found: list[Change] = []
            changed = []
            for change in changes:
                if isinstance(change, BaseException):
                    raise failed(change)
                kind, item = change
                mentioned.add(item.id)
                if kind == SyncFolderItems.DELETE:
                    self.forget(item.id)
                    found.append(Deleted(item.id))
                elif kind not in (SyncFolderItems.CREATE, SyncFolderItems.UPDATE):
                    continue
                elif cursor and self.written.get(item.id) == item.changekey:
                    continue  # our own write, unchanged since
                else:
                    changed.append(ItemId(item.id))
            found.extend(read(changed))
            last = service.includes_last_item_in_range or service.sync_state == state
            if last:
                found.extend(Deleted(gone) for gone in self._gone(mentioned, bool(cursor)))
            yield ChangePage(found, cursor=service.sync_state if last else None)
            if last:
                return
            state = service.sync_state
