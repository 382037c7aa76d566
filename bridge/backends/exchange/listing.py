"""The pull of the Exchange backend: SyncFolderItems page by page (IdOnly, ``page_size``
changes each), the SyncState as the cursor, and what the backend knows of its own writes.

- An item still at the ChangeKey our own last write left is not read again on an
  incremental listing (it is our echo): an idle round after a push is one request.
- SyncFolderItems reports changes against what it has told this SyncState; an item we
  created after that state and the user deleted before the next listing is never reported.
  The backend remembers the items it created; one the next listing does not mention at all
  is gone, and is reported as Deleted.
"""

from __future__ import annotations

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
    """The listing state of one backend: its own writes' ChangeKeys and its creations."""

    def __init__(self) -> None:
        self.written: dict[str, str] = {}  # item id -> ChangeKey our last write left
        self.created: set[str] = set()  # items created since the last complete listing

    def wrote(self, item_id: str, changekey: str, created: bool = False) -> None:
        self.written[item_id] = changekey
        if created:
            self.created.add(item_id)

    def forget(self, item_id: str) -> None:
        self.written.pop(item_id, None)
        self.created.discard(item_id)

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
                    self.written.pop(item.id, None)
                    changed.append(ItemId(item.id))
            found.extend(read(changed))
            last = service.includes_last_item_in_range or service.sync_state == state
            if last:
                found.extend(Deleted(gone) for gone in sorted(self.created - mentioned))
                for gone in self.created - mentioned:
                    self.written.pop(gone, None)
                self.created.clear()
            yield ChangePage(found, cursor=service.sync_state if last else None)
            if last:
                return
            state = service.sync_state
