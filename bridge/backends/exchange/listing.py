"""The pull of the Exchange backend: SyncFolderItems page by page (IdOnly, ``page_size``
changes each), the SyncState as the cursor, and what the backend knows of its own writes.

- A first pull (no cursor) walks SyncFolderItems IdOnly to the end (reading nothing: it
  only learns every item's id and reaches the SyncState), then reads what the window needs
  (view.py); items outside the window are neither read nor reported. One moved into the
  window later is an Update from that SyncState. The cursor also holds how far past the
  window's end was read (``AHEAD``, a day): when time moves the window's end beyond it, an
  incremental pull reads the slice that came in (CalendarView), so an event nobody touched
  arrives as it enters.

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
from datetime import UTC, datetime, timedelta

from exchangelib.items import ID_ONLY
from exchangelib.properties import ItemId
from exchangelib.services import SyncFolderItems
from exchangelib.services.sync_folder_hierarchy import SyncFolder

from bridge.backends.base import Change, ChangePage, Deleted, RemoteEvent, ResyncRequired, Window


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
        window: Window,
        page_size: int,
        read: Callable[[list[ItemId]], list[RemoteEvent]],
        failed: Callable[[BaseException], Exception],
        in_range: Callable[[Window], list[ItemId] | None],
    ) -> Iterator[ChangePage]:
        """The changes since ``cursor``; from None, the SyncState is reached IdOnly and
        only what ``in_range(window)`` names is read (``page_size`` items a page)."""
        sync = _Pages(call, account, folder, page_size, failed)
        if cursor:
            yield from self._incremental(sync, cursor, window, page_size, read, in_range)
            return
        mentioned: set[str] = set()
        state = ""
        for changes, reached, _last in sync.walk(None):
            mentioned.update(item.id for _kind, item in changes)
            state = reached
        wanted = in_range(Window(window.start, window.end + AHEAD))
        if wanted is None:  # a window too long for CalendarView: every item
            wanted = [ItemId(i) for i in mentioned]
        done: set[str] = set()
        for start in range(0, max(len(wanted), 1), page_size):
            events = [e for e in read(wanted[start : start + page_size]) if e.remote_id not in done]
            done.update(e.remote_id for e in events)
            found: list[Change] = list(events)
            if start + page_size >= len(wanted):
                found.extend(Deleted(i) for i in self._gone(None, mentioned | done, state))
                yield ChangePage(found, cursor=encode(state, window.end + AHEAD))
            else:
                yield ChangePage(found)

    def _incremental(
        self,
        sync: _Pages,
        cursor: str,
        window: Window,
        page_size: int,
        read: Callable[[list[ItemId]], list[RemoteEvent]],
        in_range: Callable[[Window], list[ItemId] | None],
    ) -> Iterator[ChangePage]:
        """SyncFolderItems from the cursor's state; then, when the window's end has moved
        past what the cursor covers, the slice that came into the window as time passed
        (CalendarView, found before the walk, read after it: what the walk read is newer)."""
        since, covered = decode(cursor)
        entered: list[ItemId] = []
        end = covered or window.end + AHEAD
        if covered is not None and window.end > covered:
            end = window.end + AHEAD
            found_ids = in_range(Window(max(covered, window.start), end))
            if found_ids is None:
                raise ResyncRequired("EWS: the window moved by more than CalendarView reads")
            entered = found_ids
        mentioned: set[str] = set()
        seen: set[str] = set()
        for changes, state, last in sync.walk(since):
            found: list[Change] = []
            changed = []
            for kind, item in changes:
                mentioned.add(item.id)
                if kind == SyncFolderItems.DELETE:
                    self.forget(item.id)
                    found.append(Deleted(item.id))
                elif self.written.get(item.id) != item.changekey:
                    changed.append(ItemId(item.id))
                # else: our own write, unchanged since
            events = read(changed)
            seen.update(e.remote_id for e in events)
            found.extend(events)
            if last:
                found.extend(Deleted(i) for i in self._gone(since, mentioned, state))
            done = last and not entered
            yield ChangePage(found, cursor=encode(state, end) if done else None)
        for start in range(0, len(entered), page_size):
            events = [
                e for e in read(entered[start : start + page_size]) if e.remote_id not in seen
            ]
            seen.update(e.remote_id for e in events)
            final = start + page_size >= len(entered)
            yield ChangePage(events, cursor=encode(state, end) if final else None)


def encode(state: str, covered: datetime) -> str:
    """The cursor: the SyncState and the end of the window read so far."""
    return f"{_MARK} {covered.astimezone(UTC).isoformat()} {state}"


def decode(cursor: str) -> tuple[str, datetime | None]:
    """(SyncState, window end covered); a bare SyncState (older cursors) covers nothing known."""
    if cursor.startswith(_MARK + " "):
        _mark, covered, state = cursor.split(" ", 2)
        return state, datetime.fromisoformat(covered)
    return cursor, None


_MARK = "ews1"
#: How far past the window's end a read covers: the window moves with the clock, and its
#: newest slice is read once a day, not on every round (an idle round stays one request).
AHEAD = timedelta(days=1)


class _Pages:
    """SyncFolderItems (IdOnly) page by page from a state: (changes, new state, last)."""

    def __init__(
        self,
        call: Callable,
        account: object,
        folder: object,
        page_size: int,
        failed: Callable[[BaseException], Exception],
    ) -> None:
        self.call, self.folder, self.failed = call, folder, failed
        self.page_size = min(page_size, 512)  # MaxChangesReturned is 1..512 (types.xsd)
        self.service = _Sync(account=account)

    def walk(self, state: str | None) -> Iterator[tuple[list, str, bool]]:
        service = self.service
        while True:
            answers = self.call("SyncFolderItems", lambda s=state: list(service.call(
                folder=self.folder, shape=ID_ONLY, additional_fields=set(), sync_state=s,
                ignore=None, max_changes_returned=self.page_size, sync_scope=None,
            )))  # fmt: skip
            changes = []
            for answer in answers:
                if isinstance(answer, BaseException):
                    raise self.failed(answer)
                kind, item = answer
                if kind in (SyncFolderItems.CREATE, SyncFolderItems.UPDATE, SyncFolderItems.DELETE):
                    changes.append((kind, item))
            last = service.includes_last_item_in_range or service.sync_state == state
            yield changes, service.sync_state, last
            if last:
                return
            state = service.sync_state
