"""The pull of the Exchange backend: SyncFolderItems page by page (IdOnly, ``page_size``
changes each), the SyncState as the cursor, and what the backend knows of its own writes.

- An item still at the ChangeKey our own last write left is not read again on an
  incremental listing (it is our echo): an idle round after a push is one request.
- SyncFolderItems reports changes against what it has told this SyncState; an item we
  created after that state and the user deleted before the next listing is never reported.
  The process remembers the items it created in each mailbox and when each SyncState it
  handed out was made (``Listing.of``: shared by every backend of that endpoint and
  mailbox, as the scheduler, a one-off round and the tests make several). An item created
  after the state listed from, which the listing does not mention at all, is gone: it is
  reported as Deleted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from exchangelib.items import ID_ONLY
from exchangelib.properties import ItemId
from exchangelib.services import SyncFolderItems
from exchangelib.services.sync_folder_hierarchy import SyncFolder

from bridge.backends.base import Change, ChangePage, Deleted, RemoteEvent


def _trim(entries: dict, keep: int) -> None:
    while len(entries) > keep:
        entries.pop(next(iter(entries)))


class _Sync(SyncFolderItems):
    """exchangelib reads SyncState before the ResponseClass, so an error answer (which has
    none: ErrorInvalidSyncStateData) would fail as an AttributeError; raise it as EWS said."""

    def _get_element_container(self, message, name=None):  # noqa: ANN001, ANN202
        if message.get("ResponseClass") == "Error":
            return super(SyncFolder, self)._get_element_container(message=message, name=name)
        return super()._get_element_container(message=message, name=name)


class Listing:
    """The listing state of one mailbox: our writes' ChangeKeys, our creations, and when
    each SyncState we handed out was made (in this process's own order of events)."""

    _shared: dict[tuple[str, str], Listing] = {}
    _shared_lock = threading.Lock()
    KEEP = 10_000  # creations and states remembered (the oldest are dropped)

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tick = 0
        self.written: dict[str, str] = {}  # item id -> ChangeKey our last write left
        self.created: dict[str, int] = {}  # item id -> when we created it
        self.issued: dict[str, int] = {}  # SyncState -> when its listing ended

    @classmethod
    def of(cls, url: str, mailbox: str) -> Listing:
        key = (url.lower(), mailbox.lower())
        with cls._shared_lock:
            return cls._shared.setdefault(key, cls())

    def _next(self) -> int:
        self.tick += 1
        return self.tick

    def wrote(self, item_id: str, changekey: str, created: bool = False) -> None:
        with self.lock:
            self.written[item_id] = changekey
            if created:
                self.created[item_id] = self._next()
                _trim(self.created, self.KEEP)

    def forget(self, item_id: str) -> None:
        with self.lock:
            self.written.pop(item_id, None)
            self.created.pop(item_id, None)

    def _gone(self, cursor: str | None, mentioned: set[str], state: str) -> list[str]:
        """Our creations the state ``cursor`` never knew and this listing did not mention:
        deleted before any listing saw them. A full listing mentions every live item; a
        state made elsewhere (another process) is not judged."""
        with self.lock:
            since = 0 if cursor is None else self.issued.get(cursor)
            gone = []
            if since is not None:
                gone = sorted(
                    i for i, t in self.created.items() if t > since and i not in mentioned
                )
            for item_id in gone if cursor is not None else ():  # a full listing forgets nothing
                self.forget_locked(item_id)
            self.issued[state] = self._next()
            _trim(self.issued, self.KEEP)
            return gone

    def forget_locked(self, item_id: str) -> None:
        self.written.pop(item_id, None)
        self.created.pop(item_id, None)

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
                gone = self._gone(cursor, mentioned, service.sync_state)
                found.extend(Deleted(item_id) for item_id in gone)
            yield ChangePage(found, cursor=service.sync_state if last else None)
            if last:
                return
            state = service.sync_state
