"""One SOAP request being served: who asks, for which mailbox, and how ids resolve for them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET

from .faults import Faults
from .meetings import ItemSend
from .recurrence import series_of, split_occurrence_id
from .soap import EwsError, t
from .store import Account, Item, Mailbox, State

FOLDERS = ("root", "msgfolderroot", "calendar")


@dataclass
class Call:
    state: State
    account: Account
    operation: str
    version: str
    faults: Faults
    push: Any = None  # push.Push, for Subscribe / Unsubscribe
    impersonated: str | None = None  # lower-cased address from ExchangeImpersonation
    sends: list[tuple[str, str, str]] = field(default_factory=list)
    item_sends: list[ItemSend] = field(default_factory=list)  # per item: value, attendees, mail
    mailboxes_touched: list[str] = field(default_factory=list)
    writes: list[tuple[str, str, str]] = field(
        default_factory=list
    )  # (operation, mailbox, item id)

    def record_write(self, mailbox: str, item_id: str) -> None:
        self.writes.append((self.operation, mailbox.lower(), item_id))

    def record_send(self, attribute: str, value: str | None) -> None:
        self.sends.append((self.operation, attribute, value if value is not None else ""))

    def record_item_send(self, record: ItemSend) -> None:
        self.item_sends.append(record)

    def default_mailbox(self) -> Mailbox:
        if self.impersonated:
            return self.state.mailbox(self.impersonated)
        own = sorted(self.account.mailboxes)
        if not own:
            raise EwsError("ErrorMissingEmailAddress", "The account has no mailbox of its own.")
        return self.state.mailbox(own[0])

    def check_access(self, box: Mailbox) -> None:
        key = box.email.lower()
        allowed = key == self.impersonated if self.impersonated else key in self.account.mailboxes
        if not allowed:
            raise EwsError(
                "ErrorAccessDenied", "Access is denied. Check credentials and try again."
            )
        if key not in self.mailboxes_touched:
            self.mailboxes_touched.append(key)

    def folder(self, elem: ET.Element) -> tuple[Mailbox, str]:
        """(mailbox, distinguished name) of a t:FolderId or t:DistinguishedFolderId."""
        tag = elem.tag.split("}")[1]
        if tag == "DistinguishedFolderId":
            name = elem.get("Id", "")
            address = elem.findtext(f"{t('Mailbox')}/{t('EmailAddress')}")
            box = self.state.mailbox(address.strip()) if address else self.default_mailbox()
            if name not in FOLDERS:
                raise EwsError(
                    "ErrorFolderNotFound", f"The distinguished folder {name!r} is not emulated."
                )
        elif tag == "FolderId":
            box, name = self.state.folder_of(elem.get("Id", ""))
        else:
            raise EwsError("ErrorInvalidFolderId", f"unexpected folder id element {tag}")
        self.check_access(box)
        return box, name

    def calendar(self, parent: ET.Element | None) -> Mailbox:
        """The mailbox whose calendar a SavedItemFolderId / ParentFolderIds / SyncFolderId names."""
        if parent is None or len(parent) == 0:
            box = self.default_mailbox()
            self.check_access(box)
            return box
        box, name = self.folder(parent[0])
        if name != "calendar":
            raise EwsError(
                "ErrorInvalidOperation", f"only the calendar folder holds items here, not {name}"
            )
        return box

    def item(self, elem: ET.Element) -> tuple[Item, datetime | None]:
        """The item (and original start of an occurrence) named by ItemId, OccurrenceItemId or
        RecurringMasterItemId."""
        tag = elem.tag.split("}")[1]
        if tag == "ItemId":
            found = self._by_id(elem.get("Id", ""))
        elif tag == "OccurrenceItemId":
            master, _ = self._by_id(elem.get("RecurringMasterId", ""))
            if not master.is_recurring:
                raise EwsError("ErrorItemNotFound", "RecurringMasterId is not a recurring master.")
            index = int(elem.get("InstanceIndex", "0"))
            orig = series_of(master.fields).at_index(index)
            if orig in master.deleted:
                raise EwsError(
                    "ErrorCalendarOccurrenceIsDeletedFromRecurrence",
                    "Occurrence with this index was previously deleted from the recurrence.",
                )
            found = (master, orig)
        elif tag == "RecurringMasterItemId":
            item, orig = self._by_id(elem.get("OccurrenceId", ""))
            if orig is None:
                raise EwsError("ErrorItemNotFound", "OccurrenceId is not an occurrence.")
            found = (item, None)
        else:
            raise EwsError("ErrorInvalidIdMalformed", f"unexpected item id element {tag}")
        self.check_access(self.state.mailbox(found[0].mailbox))
        return found

    def _by_id(self, item_id: str) -> tuple[Item, datetime | None]:
        if not item_id:
            raise EwsError("ErrorInvalidIdEmpty", "Id is empty.")
        occurrence = split_occurrence_id(item_id)
        if occurrence is None:
            return self.state.find_item(item_id), None
        master_id, orig = occurrence
        master = self.state.find_item(master_id)
        if not master.is_recurring or series_of(master.fields).index_of(orig) is None:
            raise EwsError("ErrorItemNotFound", "The occurrence was not found.")
        if orig in master.deleted:
            raise EwsError(
                "ErrorCalendarOccurrenceIsDeletedFromRecurrence",
                "Occurrence was deleted from the recurrence.",
            )
        return master, orig
