"""The emulator's state: accounts, mailboxes, calendar items, ids, change keys, sync snapshots.

Every public method of `State` is called with `State.lock` held by the caller (the HTTP handler
or the control API), so the state itself does no locking.
"""

from __future__ import annotations

import base64
import copy
import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from .soap import EwsError

PropKey = tuple[str, str, str]  # (property set id lower-cased, property name, property type)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def new_change_key() -> str:
    return _b64(b"\x0f\x00\x00\x00\x16\x00\x00\x00" + secrets.token_bytes(14))


@dataclass
class Account:
    username: str
    password: str
    mailboxes: frozenset[str]  # own / delegate-accessible mailboxes (lower-cased addresses)
    impersonation: frozenset[str]  # mailboxes this account may impersonate (lower-cased)


@dataclass
class Occurrence:
    """A modified occurrence (an exception): fields that differ from the master."""

    fields: dict[str, ET.Element] = field(default_factory=dict)
    extended: dict[PropKey, str] = field(default_factory=dict)


@dataclass
class Item:
    """A calendar item (single or recurring master) as stored: EWS elements by local name."""

    id: str
    mailbox: str
    change_key: str
    fields: dict[str, ET.Element]
    extended: dict[PropKey, str]
    created: datetime
    modified_at: datetime
    seq: int = 0  # position in the mailbox's write order (for sync ordering)
    exceptions: dict[datetime, Occurrence] = field(default_factory=dict)  # by original start (UTC)
    deleted: set[datetime] = field(default_factory=set)  # original starts (UTC)
    sequence: int = 0  # AppointmentSequenceNumber: +1 per meeting update sent to all attendees

    @property
    def is_recurring(self) -> bool:
        return "Recurrence" in self.fields


@dataclass
class Mailbox:
    email: str
    display_name: str
    items: dict[str, Item] = field(default_factory=dict)

    def folder_id(self, name: str) -> str:
        return _b64(f"FLD|{self.email}|{name}".encode())


@dataclass
class SyncSnapshot:
    mailbox: str
    generation: int
    seen: dict[str, str]  # item id -> change key the client has been told about


class State:
    """`on_event(kind, item, old_id)` is called for every write: CreatedEvent, ModifiedEvent,
    DeletedEvent, MovedEvent (old_id set)."""

    def __init__(self) -> None:
        self.on_event: Callable[[str, Item, str], None] | None = None
        self.accounts: dict[str, Account] = {}
        self.mailboxes: dict[str, Mailbox] = {}
        self.snapshots: dict[str, SyncSnapshot] = {}
        self.sync_generation = 0
        self._seq = itertools.count(1)

    # --- directory -----------------------------------------------------------------------
    def mailbox(self, email: str) -> Mailbox:
        try:
            return self.mailboxes[email.lower()]
        except KeyError:
            raise EwsError("ErrorNonExistentMailbox", f"No mailbox for {email}") from None

    def add_mailbox(self, email: str, display_name: str | None = None) -> Mailbox:
        key = email.lower()
        if key not in self.mailboxes:
            self.mailboxes[key] = Mailbox(email, display_name or email.split("@")[0])
        return self.mailboxes[key]

    # --- ids -----------------------------------------------------------------------------
    def new_item_id(self, mailbox: Mailbox) -> str:
        return _b64(b"AAMkA" + mailbox.email.encode() + b"|" + secrets.token_bytes(18))

    def find_item(self, item_id: str) -> Item:
        try:
            base64.b64decode(item_id, validate=True)
        except ValueError:
            raise EwsError("ErrorInvalidIdMalformed", "Id is malformed.") from None
        for box in self.mailboxes.values():
            item = box.items.get(item_id)
            if item is not None:
                return item
        raise EwsError("ErrorItemNotFound", "The specified object was not found in the store.")

    def folder_of(self, folder_id: str) -> tuple[Mailbox, str]:
        try:
            kind, email, name = base64.b64decode(folder_id, validate=True).decode().split("|")
        except (ValueError, UnicodeDecodeError):
            raise EwsError("ErrorInvalidIdMalformed", "Id is malformed.") from None
        if kind != "FLD" or email.lower() not in self.mailboxes:
            raise EwsError("ErrorFolderNotFound", "The specified folder could not be found.")
        return self.mailboxes[email.lower()], name

    # --- writes --------------------------------------------------------------------------
    def touch(self, item: Item, event: str | None = "ModifiedEvent", old_id: str = "") -> None:
        item.change_key = new_change_key()
        item.modified_at = datetime.now(UTC)
        item.seq = next(self._seq)
        if event is not None:
            self._emit(event, item, old_id)

    def _emit(self, kind: str, item: Item, old_id: str = "") -> None:
        if self.on_event is not None:
            self.on_event(kind, item, old_id)

    def insert(self, mailbox: Mailbox, fields: dict[str, ET.Element], extended: dict) -> Item:
        now = datetime.now(UTC)
        item = Item(self.new_item_id(mailbox), mailbox.email, "", fields, extended, now, now)
        self.touch(item, event="CreatedEvent")
        mailbox.items[item.id] = item
        return item

    def remove(self, item: Item) -> None:
        self.mailboxes[item.mailbox.lower()].items.pop(item.id, None)
        self._emit("DeletedEvent", item)

    def move(self, item: Item, target: Mailbox | None = None) -> Item:
        """The item gets a new id (as a move between folders does); its content is unchanged."""
        source = self.mailboxes[item.mailbox.lower()]
        target = target or source
        source.items.pop(item.id)
        moved = copy.copy(item)
        moved.id = self.new_item_id(target)
        moved.mailbox = target.email
        self.touch(moved, event="MovedEvent", old_id=item.id)
        target.items[moved.id] = moved
        return moved

    # --- sync states ---------------------------------------------------------------------
    def snapshot(self, state: str | None, mailbox: Mailbox) -> SyncSnapshot:
        if not state:
            return SyncSnapshot(mailbox.email, self.sync_generation, {})
        snap = self.snapshots.get(state)
        if snap is None or snap.generation != self.sync_generation or snap.mailbox != mailbox.email:
            raise EwsError(
                "ErrorInvalidSyncStateData",
                "Synchronization state data is corrupt or otherwise invalid.",
            )
        return snap

    def save_snapshot(self, snap: SyncSnapshot) -> str:
        token = _b64(b"H4sIAAAAAAAEAO29B2AcSZYl" + secrets.token_bytes(24))
        self.snapshots[token] = snap
        return token

    def expire_sync_states(self) -> None:
        self.sync_generation += 1
        self.snapshots.clear()
