"""The Exchange (EWS) backend: one mailbox's calendar folder through exchangelib.

- ``list_changes``: SyncFolderItems page by page (``page_size`` changes each, IdOnly), the
  changed items read with GetItem (only the fields sync needs), modified occurrences of the
  page's masters in one more GetItem; the cursor is the SyncState. A first pull (no cursor)
  reaches the SyncState IdOnly and reads only what the window needs (view.py: CalendarView,
  one master per series).
- writes: CreateItem (``batch_size`` items per request in ``create_many``), UpdateItem and
  DeleteItem on the ChangeKey, occurrences by instance index (series.py), every one with
  SendToNone; attendees are never written (but by invite.py).
- idempotent creates: the CRM tag (a named extended property) is looked up first.
- push: EWS push subscriptions on the calendar folder (push.py); polling goes on.
- invites: the Invite action's external copy, the one write with attendees and the only one
  that may mail (invite.py: SendToAllAndSaveCopy or SendToNone, by the caller's ``send``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import TypeVar

from exchangelib import CalendarItem
from exchangelib.errors import ResponseMessageError
from exchangelib.folders import Calendar
from exchangelib.items import SAVE_ONLY, SEND_TO_NONE
from exchangelib.properties import ItemId
from exchangelib.services import CreateItem

from bridge.backends.base import (
    BackendError,
    BaseBackend,
    Change,
    ChangePage,
    Deleted,
    InviteCapability,
    NotFound,
    PreconditionFailed,
    PushChannel,
    Rejected,
    RemoteEvent,
    Window,
)
from bridge.backends.exchange import series, view, wire
from bridge.backends.exchange.check import check_session
from bridge.backends.exchange.invite import ExchangeInvites
from bridge.backends.exchange.listing import Listing
from bridge.backends.exchange.push import ExchangePush
from bridge.backends.exchange.session import Session, mapped
from bridge.backends.exchange.settings import ExchangeSettings

T = TypeVar("T")


class ExchangeBackend(BaseBackend):
    kind = "exchange"

    def __init__(self, settings: ExchangeSettings, session: Session | None = None) -> None:
        self.settings = settings
        self.session = session or Session(settings)
        self.account = self.session.account
        self._folder: Calendar | None = None
        self.listing = Listing.of(settings.url, settings.email)

    # --- plumbing -----------------------------------------------------------------------
    def _call(self, what: str, action: Callable[[], T]) -> T:
        return self.session.call(what, action)

    @property
    def folder(self) -> Calendar:
        if self._folder is None:
            self._folder = self._call("GetFolder", lambda: self.account.calendar)
        return self._folder

    def _fetch(self, ids: list, fields: tuple[str, ...]) -> list:
        """GetItem of ``ids`` (one request); an item that is gone is left out."""
        if not ids:
            return []
        found = self._call("GetItem", lambda: list(
            self.account.fetch(ids=ids, folder=self.folder, only_fields=list(fields))
        ))  # fmt: skip
        out = []
        for item in found:
            if isinstance(item, BaseException):
                error = mapped(item, "GetItem", self.settings.email)
                if isinstance(error, NotFound):
                    continue
                raise error
            out.append(item)
        return out

    def _events(self, items: list) -> list[RemoteEvent]:
        """RemoteEvents of fetched masters, their modified occurrences read in one call."""
        masters = [i for i in items if (i.type or "Single") in wire.MASTER_TYPES]
        wanted = {}
        for item in masters:
            for occ in item.modified_occurrences or ():
                wanted[occ.id] = (item.id, occ.original_start)
        read = self._fetch([ItemId(i) for i in wanted], wire.OCCURRENCE_FIELDS)
        by_master: dict[str, list[wire.Occurrence]] = {}
        for occ_item in read:
            master_id, original = wanted.get(occ_item.id, (None, None))
            if master_id is not None:
                original = original or occ_item.original_start
                by_master.setdefault(master_id, []).append(wire.Occurrence(original, occ_item))
        try:
            return [wire.event_from_item(m, by_master.get(m.id, ())) for m in masters]
        except ValueError as error:  # a recurrence pattern the wire cannot read
            raise BackendError(f"EWS GetItem: unreadable calendar item: {error}") from None

    # --- reading ------------------------------------------------------------------------
    def list_changes(self, cursor: str | None, window: Window) -> Iterator[ChangePage]:
        return self.listing.pages(
            self._call, self.account, self.folder, cursor, window, self.settings.page_size,
            read=lambda ids: self._events(self._fetch(ids, wire.FIELDS)),
            failed=lambda error: mapped(error, "SyncFolderItems", self.settings.email),
            in_range=self._window_ids,
        )  # fmt: skip

    def _window_ids(self, window: Window) -> list | None:
        try:
            return view.window_ids(self._call, self.folder, window, self.settings.view_size)
        except ResponseMessageError as error:  # an entry of the answer was an error
            raise mapped(error, "FindItem", self.settings.email) from None
        except ValueError as error:
            raise BackendError(f"EWS FindItem: {error}") from None

    def _read(self, remote_id: str) -> CalendarItem | None:
        items = self._fetch([ItemId(remote_id)], (*wire.FIELDS, "parent_folder_id"))
        return items[0] if items else None

    def get(self, remote_id: str) -> Change | None:
        item = self._read(remote_id)
        if item is None:
            return None
        parent = getattr(item.parent_folder_id, "id", None)
        if parent and parent != self.folder.id:  # moved to Deleted Items
            return Deleted(remote_id)
        events = self._events([item])
        return events[0] if events else None

    def _tagged_many(self, meeting_ids: list[str]) -> dict[tuple[str, bool], RemoteEvent]:
        """The copies tagged with any of ``meeting_ids`` (one FindItem, one GetItem), by
        (meeting id, is invite copy)."""
        if not meeting_ids:
            return {}
        if len(meeting_ids) == 1:
            query = self.folder.filter(crm_meeting_id=meeting_ids[0])
        else:
            query = self.folder.filter(crm_meeting_id__in=meeting_ids)
        found = self._call("FindItem", lambda: list(query.only("crm_meeting_id")))
        for item in found:
            if isinstance(item, BaseException):
                raise mapped(item, "FindItem", self.settings.email)
        events = self._events(self._fetch([ItemId(i.id) for i in found], wire.FIELDS))
        return {(e.crm_meeting_id or "", e.is_invite_copy): e for e in events}

    def _tagged(self, meeting_id: str, invite_copy: bool) -> RemoteEvent | None:
        return self._tagged_many([meeting_id]).get((meeting_id, invite_copy))

    def find_by_meeting_id(self, meeting_id: str) -> RemoteEvent | None:
        return self._tagged(meeting_id, invite_copy=False)

    # --- writing ------------------------------------------------------------------------
    def _item(self, event: RemoteEvent) -> CalendarItem:
        try:
            values = {**wire.item_fields(event), **wire.tag_fields(event)}
        except ValueError as error:
            raise Rejected(f"EWS cannot hold this event: {error}") from None
        return CalendarItem(account=self.account, folder=self.folder, **values)

    def _finish(self, event: RemoteEvent, item_id: str, changekey: str) -> RemoteEvent:
        """Write the series' exceptions of a new master; the event as created."""
        if wire.rule_of(event) and (event.overrides or wire.exdates(event)):
            master = CalendarItem(account=self.account, folder=self.folder, id=item_id)
            empty = series.Exceptions(frozenset(), {})
            series.apply(self._call, master, event, empty, self.folder)
            changekey = self._changekey(item_id)
        self.listing.wrote(item_id, changekey, created=True)
        return replace(event, remote_id=item_id, etag=changekey, attendees=(), updated=None)

    def _changekey(self, item_id: str) -> str:
        items = self._fetch([ItemId(item_id)], ("changekey",))
        if not items:
            raise NotFound(f"EWS GetItem: item {item_id} is gone")
        return items[0].changekey

    def create(self, event: RemoteEvent, *, idempotency_key: str) -> RemoteEvent:
        return self._create_chunk([(event, idempotency_key)])[0].result()

    def create_many(
        self, events: Sequence[tuple[RemoteEvent, str]]
    ) -> list[RemoteEvent | BackendError]:
        size = self.settings.batch_size
        out: list[RemoteEvent | BackendError] = []
        for start in range(0, len(events), size):
            out.extend(r.value for r in self._create_chunk(list(events[start : start + size])))
        return out

    def _create_chunk(self, pairs: list[tuple[RemoteEvent, str]]) -> list[_Result]:
        results: list[_Result] = [_Result(None) for _ in pairs]
        todo: list[tuple[int, CalendarItem]] = []
        tags = sorted({e.crm_meeting_id for e, _ in pairs if e.crm_meeting_id})
        try:
            tagged = self._tagged_many(tags)
        except BackendError as error:
            return [_Result(error) for _ in pairs]
        for index, (event, _key) in enumerate(pairs):
            try:
                existing = tagged.get((event.crm_meeting_id or "", event.is_invite_copy))
                if existing is not None:
                    results[index] = _Result(existing)
                    continue
                todo.append((index, self._item(event)))
            except BackendError as error:
                results[index] = _Result(error)
        if todo:
            try:
                service = _CreateItem(account=self.account, chunk_size=self.settings.batch_size)
                made = self._call("CreateItem", lambda: list(service.call(
                    items=[item for _, item in todo], folder=self.folder,
                    message_disposition=SAVE_ONLY, send_meeting_invitations=SEND_TO_NONE,
                )))  # fmt: skip
            except BackendError as error:  # the request as a whole (or its only item) failed
                made = [error] * len(todo)
            for (index, _item), answer in zip(todo, made, strict=True):
                if isinstance(answer, BaseException):
                    results[index] = _Result(mapped(answer, "CreateItem", self.settings.email))
                    continue
                try:
                    event = pairs[index][0]
                    results[index] = _Result(self._finish(event, answer.id, answer.changekey))
                except BackendError as error:
                    results[index] = _Result(error)
        return results

    def update(self, remote_id: str, event: RemoteEvent, *, etag: str) -> RemoteEvent:
        item = self._item(event)
        item._id = ItemId(remote_id, etag or None)
        fields = [f for f in wire.WRITTEN if f != "recurrence" or event.recurrence]
        fields += [f for f in ("crm_meeting_id", "crm_invite_copy") if getattr(item, f)]
        if not event.recurrence and not event.all_day:
            fields = [f for f in fields if f != "crm_rule"]
        self._save(item, fields, etag)
        if wire.rule_of(event):
            master = self._read(remote_id)
            if master is None:
                raise NotFound(f"EWS GetItem: item {remote_id} is gone")
            now = series.held(self._events([master])[0])
            if series.needs_reset(event, now):  # write the rule again: exceptions go
                self._save(item, ["recurrence"], "")
                now = series.Exceptions(frozenset(), {})
            series.apply(self._call, master, event, now, self.folder)
        now = self._read(remote_id)
        if now is None:
            raise NotFound(f"EWS GetItem: item {remote_id} is gone")
        read = wire.event_from_item(now)
        self.listing.wrote(remote_id, read.etag)
        return replace(event, remote_id=remote_id, etag=read.etag, attendees=read.attendees)

    def _save(self, item: CalendarItem, fields: list[str], etag: str) -> None:
        resolution = "NeverOverwrite" if etag else "AlwaysOverwrite"
        answers = self._call("UpdateItem", lambda: list(self.account.bulk_update(
            items=[(item, fields)], conflict_resolution=resolution,
            send_meeting_invitations_or_cancellations=SEND_TO_NONE,
        )))  # fmt: skip
        for answer in answers:
            if isinstance(answer, BaseException):
                raise mapped(answer, "UpdateItem", self.settings.email)

    def set_tag(self, remote_id: str, meeting_id: str, *, etag: str) -> RemoteEvent:
        item = CalendarItem(account=self.account, folder=self.folder, crm_meeting_id=meeting_id)
        item._id = ItemId(remote_id, etag or None)
        self._save(item, ["crm_meeting_id"], etag)
        found = self.get(remote_id)
        if not isinstance(found, RemoteEvent):
            raise NotFound(f"EWS GetItem: item {remote_id} is gone")
        self.listing.wrote(remote_id, found.etag)
        return found

    def delete(self, remote_id: str, *, etag: str) -> None:
        current = self._changekey(remote_id)
        if etag and etag != current:
            raise PreconditionFailed("EWS DeleteItem: the item changed since its ChangeKey")
        answers = self._call("DeleteItem", lambda: list(self.account.bulk_delete(
            ids=[ItemId(remote_id, current)], delete_type="MoveToDeletedItems",
            send_meeting_cancellations=SEND_TO_NONE,
        )))  # fmt: skip
        for answer in answers:
            if isinstance(answer, BaseException):
                raise mapped(answer, "DeleteItem", self.settings.email)
        self.listing.forget(remote_id)

    def check(self) -> str | None:
        return check_session(self.session)

    def push(self) -> PushChannel | None:
        """EWS push subscriptions on the calendar folder (push.py)."""
        return ExchangePush(self)

    def invites(self) -> InviteCapability | None:
        """The Invite action's copy as a meeting with attendees (invite.py)."""
        return ExchangeInvites(self)

    def close(self) -> None:
        self.session.close()


class _CreateItem(CreateItem):
    """CreateItem answering every item's error as that item's result: exchangelib raises
    most per-item errors (ErrorAccessDenied, ErrorInvalid...), which would lose the
    results of the other items of the batch."""

    ERRORS_TO_CATCH_IN_RESPONSE = (*CreateItem.ERRORS_TO_CATCH_IN_RESPONSE, ResponseMessageError)


class _Result:
    """One create's outcome: the event or the BackendError of that one alone."""

    def __init__(self, value: RemoteEvent | BackendError | None) -> None:
        self.value = value

    def result(self) -> RemoteEvent:
        if isinstance(self.value, BaseException):
            raise self.value
        assert self.value is not None
        return self.value
