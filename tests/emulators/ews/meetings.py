"""Who a write of a calendar item mails, from its Send* attribute and its attendees.

From MS-OXWSMTGS (CalendarItemCreateOrDeleteOperationType, CalendarItemUpdateOperationType):

* CreateItem ``SendMeetingInvitations``: SendToNone creates the meeting without sending the
  request; SendOnlyToAll / SendToAllAndSaveCopy send it to every attendee.
* UpdateItem ``SendMeetingInvitationsOrCancellations``: SendToNone sends nothing;
  SendOnlyToAll / SendToAllAndSaveCopy send the update to every attendee (and, as Outlook
  does, a cancellation to the attendees the update removed); SendOnlyToChanged /
  SendToChangedAndSaveCopy send only to the attendees the update added (a request) or removed
  (a cancellation).
* DeleteItem ``SendMeetingCancellations``: SendOnlyToAll / SendToAllAndSaveCopy send a
  cancellation to every attendee; SendToNone deletes silently.

Only an item with attendees (a meeting) mails anyone. Every item-level write is recorded as
an ``ItemSend`` (SendToNone ones too), so a test sees per item which value it was written
with, its attendees then, and whom that mailed.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree import ElementTree as ET

from .soap import t

ATTENDEE_FIELDS = ("RequiredAttendees", "OptionalAttendees", "Resources")
TO_ALL = ("SendOnlyToAll", "SendToAllAndSaveCopy")
TO_CHANGED = ("SendOnlyToChanged", "SendToChangedAndSaveCopy")


@dataclass(frozen=True)
class ItemSend:
    """One item written with a Send* attribute: what it was, who attended, who was mailed."""

    operation: str
    mailbox: str
    item_id: str
    attribute: str
    value: str
    attendees: tuple[str, ...]
    kind: str  # "invitation" | "update" | "cancellation" | "" (nobody mailed)
    mailed_to: tuple[str, ...]
    cancelled_to: tuple[str, ...] = ()  # attendees an update removed, sent a cancellation


@dataclass(frozen=True)
class Mail:
    """One meeting message sent: by which operation, about which item, of what kind, to whom."""

    operation: str
    item_id: str
    kind: str
    recipients: tuple[str, ...]


def addresses(fields: dict[str, ET.Element]) -> tuple[str, ...]:
    """The attendees' addresses (lower-cased, in order, once each)."""
    out: list[str] = []
    for name in ATTENDEE_FIELDS:
        for attendee in fields.get(name, ()):
            address = (attendee.findtext(f"{t('Mailbox')}/{t('EmailAddress')}") or "").strip()
            if address and address.lower() not in out:
                out.append(address.lower())
    return tuple(out)


def created(mailbox: str, item_id: str, value: str, after: tuple[str, ...]) -> ItemSend:
    mailed = after if value in TO_ALL else ()
    kind = "invitation" if mailed else ""
    return ItemSend("CreateItem", mailbox, item_id, "SendMeetingInvitations", value, after,
                    kind, mailed)  # fmt: skip


def updated(
    mailbox: str, item_id: str, value: str, before: tuple[str, ...], after: tuple[str, ...]
) -> ItemSend:
    added = tuple(a for a in after if a not in before)
    removed = tuple(a for a in before if a not in after)
    if value in TO_ALL:
        mailed, kind = after, "update"
    elif value in TO_CHANGED:
        mailed, kind = added, "invitation"
    else:
        mailed, kind, removed = (), "", ()
    return ItemSend("UpdateItem", mailbox, item_id, "SendMeetingInvitationsOrCancellations",
                    value, after, kind if mailed else "", mailed, removed)  # fmt: skip


def deleted(mailbox: str, item_id: str, value: str, before: tuple[str, ...]) -> ItemSend:
    mailed = before if value in TO_ALL else ()
    kind = "cancellation" if mailed else ""
    return ItemSend("DeleteItem", mailbox, item_id, "SendMeetingCancellations", value, before,
                    kind, mailed)  # fmt: skip


def respond(fields: dict[str, ET.Element], address: str, response: str) -> bool:
    """An attendee's meeting response reached the organiser: their ResponseType is set on the
    organiser's item (MS-OXWSMTGS AttendeeType: Mailbox, ResponseType, LastResponseTime).
    False when ``address`` is no attendee."""
    for name in ATTENDEE_FIELDS:
        for attendee in fields.get(name, ()):
            found = attendee.findtext(f"{t('Mailbox')}/{t('EmailAddress')}") or ""
            if found.strip().lower() != address.lower():
                continue
            element = attendee.find(t("ResponseType"))
            if element is None:
                element = ET.Element(t("ResponseType"))
                mailbox = attendee.find(t("Mailbox"))
                index = list(attendee).index(mailbox) + 1 if mailbox is not None else 0
                attendee.insert(index, element)
            element.text = response
            return True
    return False
