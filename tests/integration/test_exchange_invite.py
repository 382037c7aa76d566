"""The Invite action's copy on EWS, against the EWS emulator over exchangelib: what reaches
the wire (organiser + externals, the invite tag, no CRM id, no notes), which Send* value each
write carries and whom the emulator says it mailed, idempotent create, refusals."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bridge.backends.base import (
    InviteCopy,
    NotFound,
    PreconditionFailed,
    Rejected,
    RemoteAttendee,
    RemoteEvent,
)
from bridge.backends.exchange.backend import ExchangeBackend
from bridge.backends.exchange.invite import key_hash
from bridge.backends.exchange.settings import ExchangeSettings
from bridge.backends.microsoft_tags import (
    INVITE_COPY_NAME,
    INVITE_KEY_NAME,
    PROPERTY_SET_ID,
)
from tests.emulators.ews import EwsEmulator
from tests.support.remote_events import invite_copy

ALICE = "alice@corp.test"
GUESTS = ("ext.one@partner.example", "ext.two@partner.example")
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def ews() -> Iterator[EwsEmulator]:
    with EwsEmulator() as server:
        server.add_account("alice", "pw", mailboxes=(ALICE,))
        yield server


def backend(ews: EwsEmulator) -> ExchangeBackend:
    return ExchangeBackend(
        ExchangeSettings(
            url=ews.url, email=ALICE, username="alice", password="pw", auth_type="basic",
            timeout=10.0, max_back_off=0.05,
        )
    )  # fmt: skip


def copy(**changes) -> InviteCopy:
    return invite_copy(ALICE, GUESTS, START, **changes)


def test_abilities_say_it_can_send_and_hold_unsent(ews):
    abilities = backend(ews).invites().abilities()
    assert abilities.can_send and abilities.can_hold_unsent


def test_sent_copy_holds_exactly_organiser_and_externals_with_the_tag_and_no_crm_id(ews):
    made = backend(ews).invites()
    sent = made.create_invite(copy(uid="abc@invite.test"), send=True, idempotency_key="inv-m1-0")
    assert sent.mailed
    item = ews.mailbox(ALICE).item(sent.remote_id)
    assert item["uid"] == "abc@invite.test"
    assert item["required_attendees"] == list(GUESTS)
    assert "optional_attendees" not in item
    assert item["subject"] == "Quarterly review" and item["body"] == "Agenda: the figures."
    tags = {name: value for (_set, name, _type), value in item["extended"].items()}
    assert tags[INVITE_COPY_NAME] == "true"
    assert tags[INVITE_KEY_NAME] == key_hash("inv-m1-0") and "m1" not in tags[INVITE_KEY_NAME]
    assert "CrmMeetingId" not in tags
    assert all(s == PROPERTY_SET_ID for (s, _n, _t) in item["extended"])
    [record] = ews.item_sends
    assert (record.operation, record.value) == ("CreateItem", "SendToAllAndSaveCopy")
    assert record.attendees == GUESTS
    assert [(m.kind, m.recipients) for m in ews.mailed] == [("invitation", GUESTS)]


def test_held_unsent_mails_nobody_and_the_organiser_owns_it(ews):
    made = backend(ews)
    held = made.invites().create_invite(copy(), send=False, idempotency_key="k")
    assert not held.mailed and ews.mailed == []
    assert [s.value for s in ews.item_sends] == ["SendToNone"]
    assert ews.mailbox(ALICE).item(held.remote_id)["required_attendees"] == list(GUESTS)
    read = made.get(held.remote_id)
    assert isinstance(read, RemoteEvent) and read.is_invite_copy and read.crm_meeting_id is None
    assert made.find_by_meeting_id("m1") is None


def test_the_same_key_never_makes_two_copies(ews):
    invites = backend(ews).invites()
    first = invites.create_invite(copy(), send=True, idempotency_key="same")
    again = invites.create_invite(copy(), send=True, idempotency_key="same")
    assert again.remote_id == first.remote_id
    assert len(ews.mailbox(ALICE).items()) == 1 and len(ews.mailed) == 1


def test_update_sends_to_all_and_cancels_the_removed_one(ews):
    invites = backend(ews).invites()
    sent = invites.create_invite(copy(), send=True, idempotency_key="k")
    later = START + timedelta(days=1)
    fewer = copy(
        start=later, end=later + timedelta(hours=1), attendees=(RemoteAttendee(GUESTS[0]),)
    )
    updated = invites.update_invite(sent.remote_id, fewer, send=True, etag=sent.etag)
    assert updated.mailed and updated.etag != sent.etag
    assert ews.item_sends[-1].value == "SendToAllAndSaveCopy"
    assert [(m.kind, m.recipients) for m in ews.mailed[1:]] == [
        ("update", (GUESTS[0],)),
        ("cancellation", (GUESTS[1],)),
    ]
    assert ews.mailbox(ALICE).item(sent.remote_id)["start"] == later


def test_silent_update_and_etag_mismatch(ews):
    invites = backend(ews).invites()
    sent = invites.create_invite(copy(), send=False, idempotency_key="k")
    quiet = invites.update_invite(sent.remote_id, copy(location="Room 9"), send=False, etag="")
    assert not quiet.mailed and ews.mailed == []
    assert ews.item_sends[-1].value == "SendToNone"
    with pytest.raises(PreconditionFailed):
        invites.update_invite(sent.remote_id, copy(), send=True, etag=sent.etag)
    assert ews.mailed == []


def test_cancel_mails_a_cancellation_or_nothing(ews):
    invites = backend(ews).invites()
    loud = invites.create_invite(copy(), send=True, idempotency_key="a")
    quiet = invites.create_invite(copy(subject="other"), send=False, idempotency_key="b")
    invites.cancel_invite(quiet.remote_id, send=False, etag=quiet.etag)
    invites.cancel_invite(loud.remote_id, send=True, etag=loud.etag)
    assert [(m.kind, m.recipients) for m in ews.mailed] == [
        ("invitation", GUESTS),
        ("cancellation", GUESTS),
    ]
    assert [s.value for s in ews.item_sends if s.operation == "DeleteItem"] == [
        "SendToNone",
        "SendToAllAndSaveCopy",
    ]
    with pytest.raises(NotFound):
        invites.cancel_invite(loud.remote_id, send=True, etag="")


def test_only_invite_copies_are_written_and_bad_copies_are_refused(ews):
    made = backend(ews)
    own = ews.mailbox(ALICE).create(subject="Mine", start=START, end=START + timedelta(hours=1))
    with pytest.raises(Rejected, match="not an invite copy"):
        made.invites().update_invite(own, copy(), send=True, etag="")
    with pytest.raises(Rejected, match="not an invite copy"):
        made.invites().cancel_invite(own, send=True, etag="")
    with pytest.raises(Rejected, match="organiser"):
        made.invites().create_invite(
            copy(organiser=RemoteAttendee("bob@corp.test")), send=True, idempotency_key="x"
        )
    with pytest.raises(Rejected, match="no external participant"):
        made.invites().create_invite(copy(attendees=()), send=True, idempotency_key="y")
    assert ews.item_sends == [] and ews.mailed == []


def test_a_guest_response_shows_on_the_copy_and_sync_never_takes_it(ews):
    made = backend(ews)
    sent = made.invites().create_invite(copy(), send=True, idempotency_key="k")
    ews.mailbox(ALICE).respond(sent.remote_id, GUESTS[1], "Accept")
    read = made.get(sent.remote_id)
    assert isinstance(read, RemoteEvent) and read.is_invite_copy
    assert {a.email: a.partstat for a in read.attendees}[GUESTS[1]] == "ACCEPTED"
