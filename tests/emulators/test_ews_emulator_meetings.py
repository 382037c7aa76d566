"""The EWS emulator's meetings, driven by exchangelib alone (not our backend): the Send*
attribute of each write decides who is mailed (MS-OXWSMTGS), per item; a sent update raises
AppointmentSequenceNumber; a guest's response shows as the attendee's ResponseType."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from exchangelib import (
    Account,
    CalendarItem,
    EWSDateTime,
    EWSTimeZone,
)
from exchangelib.items import (
    SEND_ONLY_TO_ALL,
    SEND_ONLY_TO_CHANGED,
    SEND_TO_ALL_AND_SAVE_COPY,
    SEND_TO_CHANGED_AND_SAVE_COPY,
    SEND_TO_NONE,
)
from exchangelib.properties import Attendee, Mailbox
from exchangelib.transport import BASIC

from tests.emulators.ews import EwsEmulator
from tests.emulators.ews_client import connect

ALICE = "alice@corp.test"
ANN, BEN, DORA = "ann@partner.test", "ben@client.test", "dora@third.test"
UTC = EWSTimeZone("UTC")


@pytest.fixture
def ews() -> Iterator[EwsEmulator]:
    with EwsEmulator() as emulator:
        emulator.add_account("alice", "pw", mailboxes=(ALICE,))
        yield emulator


@pytest.fixture
def alice(ews: EwsEmulator) -> Account:
    return connect(ews, ALICE, "alice", "pw", BASIC)


def people(*emails: str) -> list[Attendee]:
    return [Attendee(mailbox=Mailbox(email_address=e)) for e in emails]


def meeting(alice: Account, *guests: str, send: str) -> CalendarItem:
    item = CalendarItem(
        account=alice, folder=alice.calendar, subject="Review",
        start=EWSDateTime(2026, 3, 2, 9, tzinfo=UTC), end=EWSDateTime(2026, 3, 2, 10, tzinfo=UTC),
        required_attendees=people(*guests) if guests else None,
    )  # fmt: skip
    item.save(send_meeting_invitations=send)
    return item


def sent(ews: EwsEmulator) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(m.operation, m.kind, m.recipients) for m in ews.mailed]


@pytest.mark.parametrize("send", [SEND_ONLY_TO_ALL, SEND_TO_ALL_AND_SAVE_COPY])
def test_create_sending_mails_every_attendee(ews, alice, send):
    item = meeting(alice, ANN, BEN, send=send)
    assert sent(ews) == [("CreateItem", "invitation", (ANN, BEN))]
    [record] = ews.item_sends
    assert (record.item_id, record.value, record.attendees) == (item.id, send, (ANN, BEN))


def test_send_to_none_or_no_attendees_mails_nobody(ews, alice):
    meeting(alice, ANN, send=SEND_TO_NONE)
    meeting(alice, send=SEND_TO_ALL_AND_SAVE_COPY)  # an appointment: nobody to mail
    assert ews.mailed == []
    assert [(s.value, s.attendees) for s in ews.item_sends] == [
        ("SendToNone", (ANN,)),
        ("SendToAllAndSaveCopy", ()),
    ]


def test_update_to_all_mails_all_and_cancels_the_removed(ews, alice):
    item = meeting(alice, ANN, BEN, send=SEND_TO_NONE)
    item.required_attendees = people(ANN, DORA)
    item.subject = "Review (moved)"
    item.save(update_fields=["subject", "required_attendees"],
              send_meeting_invitations=SEND_TO_ALL_AND_SAVE_COPY)  # fmt: skip
    assert sent(ews) == [
        ("UpdateItem", "update", (ANN, DORA)),
        ("UpdateItem", "cancellation", (BEN,)),
    ]
    assert ews.mailbox(ALICE).item(item.id)["sequence"] == 1


@pytest.mark.parametrize("send", [SEND_ONLY_TO_CHANGED, SEND_TO_CHANGED_AND_SAVE_COPY])
def test_update_to_changed_mails_only_the_added_and_removed(ews, alice, send):
    item = meeting(alice, ANN, BEN, send=SEND_TO_ALL_AND_SAVE_COPY)
    item.required_attendees = people(ANN, DORA)
    item.save(update_fields=["required_attendees"], send_meeting_invitations=send)
    assert sent(ews)[1:] == [
        ("UpdateItem", "invitation", (DORA,)),
        ("UpdateItem", "cancellation", (BEN,)),
    ]
    assert ews.mailbox(ALICE).item(item.id)["sequence"] == 0


def test_silent_update_mails_nobody_and_keeps_the_sequence(ews, alice):
    item = meeting(alice, ANN, send=SEND_TO_ALL_AND_SAVE_COPY)
    item.subject = "quiet"
    item.save(update_fields=["subject"], send_meeting_invitations=SEND_TO_NONE)
    assert len(ews.mailed) == 1 and ews.mailbox(ALICE).item(item.id)["sequence"] == 0
    [read] = alice.fetch(ids=[item], only_fields=["appointment_sequence_number"])
    assert read.appointment_sequence_number == 0


def test_delete_sends_the_cancellation_only_when_asked(ews, alice):
    quiet = meeting(alice, ANN, send=SEND_TO_ALL_AND_SAVE_COPY)
    loud = meeting(alice, BEN, send=SEND_TO_ALL_AND_SAVE_COPY)
    quiet.delete(send_meeting_cancellations=SEND_TO_NONE)
    loud.delete(send_meeting_cancellations=SEND_TO_ALL_AND_SAVE_COPY)
    assert sent(ews)[2:] == [("DeleteItem", "cancellation", (BEN,))]


def test_a_guest_response_reaches_the_organisers_item(ews, alice):
    item = meeting(alice, ANN, BEN, send=SEND_TO_ALL_AND_SAVE_COPY)
    before = item.changekey
    ews.mailbox(ALICE).respond(item.id, BEN, "Decline")
    [read] = alice.fetch(ids=[item], only_fields=["required_attendees", "changekey"])
    assert {a.mailbox.email_address: a.response_type for a in read.required_attendees} == {
        ANN: "Unknown",
        BEN: "Decline",
    }
    assert read.changekey != before
    with pytest.raises(KeyError):
        ews.mailbox(ALICE).respond(item.id, DORA, "Accept")
    assert "CrmMeetingId" not in ews.mailbox(ALICE).raw(item.id)
