"""The Invite action on EWS: the external copy as a meeting in the organiser's own calendar.

- create: CreateItem of a CalendarItem with the external participants as required
  attendees, ``SendMeetingInvitations`` SendToAllAndSaveCopy when sending, SendToNone to hold
  it unsent (the organiser adds text and sends it from Outlook). Tagged with the invite-copy
  named property and the sha256 of the idempotency key (looked up first: a retry never makes
  a second copy); never the CRM id. Its UID is the invite's (``InviteCopy.uid``) when given.
- update: UpdateItem of the same fields and attendees, ``SendMeetingInvitationsOrCancellations``
  SendToAllAndSaveCopy (everyone gets the update; removed attendees a cancellation) or
  SendToNone; ConflictResolution NeverOverwrite on the ChangeKey given.
- a series' exceptions: after CreateItem/UpdateItem of the series, each excluded occurrence is
  deleted and each moved one updated (series.py, by instance index), with the same Send*
  choice as the copy: guests get a cancellation or an update per occurrence, as when the
  organiser edits the series in Outlook.
- cancel: DeleteItem (to Deleted Items, as Outlook's cancel does) with
  ``SendMeetingCancellations`` SendToAllAndSaveCopy or SendToNone.

Update and cancel touch only an item tagged as an invite copy (Rejected otherwise): this is
the one place the bridge mails anyone, and it mails only about its own copies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from exchangelib import CalendarItem
from exchangelib.items import SAVE_ONLY, SEND_TO_ALL_AND_SAVE_COPY, SEND_TO_NONE
from exchangelib.properties import Attendee, ItemId, Mailbox

from bridge.backends.base import (
    CannotCarry,
    InviteAbilities,
    InviteCopy,
    NotFound,
    PreconditionFailed,
    Rejected,
    RemoteEvent,
    SentInvite,
)
from bridge.backends.exchange import series, wire
from bridge.backends.exchange.session import mapped
from bridge.backends.microsoft_tags import INVITE_COPY_VALUE

if TYPE_CHECKING:
    from bridge.backends.exchange.backend import ExchangeBackend

T = TypeVar("T")

#: The fields an update of the copy writes (attendees included: this is the Invite action).
WRITTEN = (*wire.WRITTEN, "required_attendees", "optional_attendees")


def key_hash(idempotency_key: str) -> str:
    """What the copy carries of its idempotency key (no CRM id ever reaches the item)."""
    return hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()


class ExchangeInvites:
    """InviteCapability over one ExchangeBackend's mailbox (its session, folder, errors)."""

    def __init__(self, backend: ExchangeBackend) -> None:
        self.backend = backend

    def abilities(self) -> InviteAbilities:
        return InviteAbilities(
            can_send=True,
            can_hold_unsent=True,
            restores_occurrences=False,
            note="Exchange can hold the copy unsent (SendToNone): the organiser sends it "
            "from Outlook.",
        )

    # --- the item -----------------------------------------------------------------------
    def _fields(self, copy: InviteCopy) -> dict[str, object]:
        owner = self.backend.settings.email
        if copy.organiser.email.strip().lower() != owner.strip().lower():
            raise CannotCarry(
                "organiser",
                f"EWS invite: the organiser {copy.organiser.email!r} is not this binding's "
                f"mailbox {owner!r}; an invitation goes out from the organiser's own calendar",
            )
        if not copy.attendees:
            raise CannotCarry("attendees", "EWS invite: no external participant to invite")
        event = copy.as_event()
        try:
            values = wire.item_fields(event)
        except ValueError as error:  # every one of these is about the series' rule
            raise CannotCarry("recurrence", f"EWS cannot hold this series: {error}") from None
        people = [
            Attendee(mailbox=Mailbox(email_address=a.email, name=a.name or None))
            for a in copy.attendees
        ]
        return {**values, "required_attendees": people, "optional_attendees": None}

    def _call(self, what: str, action: Callable[[], T]) -> T:
        return self.backend.session.call(what, action)

    def _answers(self, what: str, answers: list) -> list:
        for answer in answers:
            if isinstance(answer, BaseException):
                raise mapped(answer, what, self.backend.settings.email)
        return answers

    def _held(self, remote_id: str) -> CalendarItem:
        """The invite copy ``remote_id`` (its ChangeKey and tag); NotFound, or Rejected when
        the item is not an invite copy."""
        found = self.backend._fetch([ItemId(remote_id)], ("changekey", "crm_invite_copy"))
        if not found:
            raise NotFound(f"EWS GetItem: invite copy {remote_id} is gone")
        item = found[0]
        if item.crm_invite_copy != INVITE_COPY_VALUE:
            raise Rejected(f"EWS invite: {remote_id} is not an invite copy; it is not written")
        return item

    def _existing(self, tag: str) -> CalendarItem | None:
        query = self.backend.folder.filter(crm_invite_key=tag)
        found = self._call("FindItem", lambda: list(query.only("crm_invite_key")))
        self._answers("FindItem", found)
        return found[0] if found else None

    # --- the capability -------------------------------------------------------------------
    def check(self, copy: InviteCopy) -> None:
        self._fields(copy)

    def create_invite(self, copy: InviteCopy, *, send: bool, idempotency_key: str) -> SentInvite:
        values = self._fields(copy)
        tag = key_hash(idempotency_key)
        earlier = self._existing(tag)
        mode = SEND_TO_ALL_AND_SAVE_COPY if send else SEND_TO_NONE
        if earlier is not None:  # an earlier attempt with this key made it (its occurrences
            # perhaps not yet: they are brought to the copy, as an update does)
            self._series(earlier.id, copy, mode)
            return SentInvite(earlier.id, self.backend._changekey(earlier.id), mailed=send)
        backend = self.backend
        item = CalendarItem(
            account=backend.account, folder=backend.folder, crm_invite_copy=INVITE_COPY_VALUE,
            crm_invite_key=tag, **values,
        )  # fmt: skip
        if copy.uid:  # the invite's own UID (never the meeting's); EWS keeps it for good
            item.uid = copy.uid
        made = self._call("CreateItem", lambda: list(backend.account.bulk_create(
            folder=backend.folder, items=[item], message_disposition=SAVE_ONLY,
            send_meeting_invitations=mode,
        )))  # fmt: skip
        answer = self._answers("CreateItem", made)[0]
        changekey = answer.changekey
        event = copy.as_event()
        if wire.rule_of(event) and (event.overrides or wire.exdates(event)):
            master = CalendarItem(account=backend.account, folder=backend.folder, id=answer.id)
            self._occurrences(master, event, series.Exceptions(frozenset(), {}), mode)
            changekey = backend._changekey(answer.id)
        backend.listing.wrote(answer.id, changekey, created=True)
        return SentInvite(answer.id, changekey, mailed=send)

    def _occurrences(
        self, master: CalendarItem, event: RemoteEvent, now: series.Exceptions, mode: str
    ) -> None:
        """Delete the excluded occurrences and update the moved ones (series.py, as sync
        writes them) with the copy's Send* choice: guests get a cancellation or an update
        per occurrence, as when the organiser edits the series in Outlook."""
        try:
            series.apply(self._call, master, event, now, self.backend.folder, send=mode)
        except ValueError as error:
            raise Rejected(f"EWS cannot hold this invitation: {error}") from None

    def _series(self, remote_id: str, copy: InviteCopy, mode: str) -> None:
        """Bring the series ``remote_id``'s occurrences to the copy's, from what EWS holds
        now. An occurrence deleted (its guests sent a cancellation) is not brought back:
        ``abilities().restores_occurrences`` is false, so the Invite action refuses such an
        update before writing."""
        event = copy.as_event()
        if not wire.rule_of(event):
            return
        backend = self.backend
        master = backend._read(remote_id)
        if master is None:
            raise NotFound(f"EWS GetItem: invite copy {remote_id} is gone")
        now = series.held(backend._events([master])[0])
        self._occurrences(master, event, now, mode)

    def update_invite(
        self, remote_id: str, copy: InviteCopy, *, send: bool, etag: str
    ) -> SentInvite:
        values = self._fields(copy)
        current = self._held(remote_id)
        if etag and etag != current.changekey:
            raise PreconditionFailed("EWS UpdateItem: the invite copy changed since its ChangeKey")
        backend = self.backend
        item = CalendarItem(account=backend.account, folder=backend.folder, **values)
        item._id = ItemId(remote_id, etag or current.changekey)
        fields = [f for f in WRITTEN if f != "recurrence" or copy.recurrence]
        if not copy.recurrence and not copy.all_day:
            fields = [f for f in fields if f != "crm_rule"]
        mode = SEND_TO_ALL_AND_SAVE_COPY if send else SEND_TO_NONE
        answers = self._call("UpdateItem", lambda: list(backend.account.bulk_update(
            items=[(item, fields)], conflict_resolution="NeverOverwrite",
            send_meeting_invitations_or_cancellations=mode,
        )))  # fmt: skip
        self._answers("UpdateItem", answers)
        self._series(remote_id, copy, mode)
        changekey = backend._changekey(remote_id)
        backend.listing.wrote(remote_id, changekey)
        return SentInvite(remote_id, changekey, mailed=send)

    def cancel_invite(self, remote_id: str, *, send: bool, etag: str) -> None:
        current = self._held(remote_id)
        if etag and etag != current.changekey:
            raise PreconditionFailed("EWS DeleteItem: the invite copy changed since its ChangeKey")
        backend = self.backend
        mode = SEND_TO_ALL_AND_SAVE_COPY if send else SEND_TO_NONE
        answers = self._call("DeleteItem", lambda: list(backend.account.bulk_delete(
            ids=[ItemId(remote_id, current.changekey)], delete_type="MoveToDeletedItems",
            send_meeting_cancellations=mode,
        )))  # fmt: skip
        self._answers("DeleteItem", answers)
        backend.listing.forget(remote_id)
