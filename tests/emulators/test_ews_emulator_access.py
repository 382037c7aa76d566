"""The EWS emulator's doors through exchangelib: NTLM and Basic, impersonation, delegate access,
throttling, injected failures; plus named extended properties, moves, ResolveNames, ConvertId."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from exchangelib import (
    IMPERSONATION,
    Account,
    CalendarItem,
    EWSDateTime,
    EWSTimeZone,
    ExtendedProperty,
    FaultTolerance,
)
from exchangelib.errors import (
    ErrorAccessDenied,
    ErrorImpersonateUserDenied,
    ErrorInternalServerError,
    ErrorItemNotFound,
    ErrorNameResolutionNoResults,
    ErrorNonExistentMailbox,
    ErrorQuotaExceeded,
    ErrorServerBusy,
    UnauthorizedError,
)
from exchangelib.items import SEND_TO_NONE
from exchangelib.properties import AlternateId
from exchangelib.transport import BASIC, NTLM

from tests.emulators.ews import EwsEmulator
from tests.emulators.ews_client import connect

ALICE, BOB = "alice@corp.test", "bob@corp.test"
BERLIN = EWSTimeZone("Europe/Berlin")
TAGS = "9f1d3c55-7a51-4a0e-b1d6-0c6f5e7e2a10"


class MeetingTag(ExtendedProperty):
    property_set_id = TAGS
    property_name = "MeetingTag"
    property_type = "String"


@pytest.fixture
def ews() -> Iterator[EwsEmulator]:
    with EwsEmulator() as emulator:
        emulator.add_account("CORP\\alice", "alice-pw", mailboxes=(ALICE,))
        emulator.add_account("CORP\\bob", "bob-pw", mailboxes=(BOB,))
        emulator.add_account("CORP\\svc", "svc-pw", impersonation=(ALICE,))
        yield emulator


@pytest.fixture
def tagged() -> Iterator[None]:
    CalendarItem.register("meeting_tag", MeetingTag)
    yield
    CalendarItem.deregister("meeting_tag")


def start() -> EWSDateTime:
    return EWSDateTime(2026, 6, 1, 10, tzinfo=BERLIN)


def save(account: Account, subject: str, **fields) -> CalendarItem:
    item = CalendarItem(
        account=account,
        folder=account.calendar,
        subject=subject,
        start=start(),
        end=start() + timedelta(hours=1),
        **fields,
    )
    item.save(send_meeting_invitations=SEND_TO_NONE)
    return item


@pytest.mark.parametrize("auth", [NTLM, BASIC])
def test_good_and_bad_passwords(ews: EwsEmulator, auth: str) -> None:
    assert connect(ews, ALICE, "CORP\\alice", "alice-pw", auth=auth).calendar.name == "Calendar"
    with pytest.raises(UnauthorizedError):
        connect(ews, ALICE, "CORP\\alice", "wrong", auth=auth).calendar  # noqa: B018 - the call is the test
    with pytest.raises(UnauthorizedError):
        connect(ews, ALICE, "CORP\\nobody", "alice-pw", auth=auth).calendar  # noqa: B018


def test_unauthenticated_request_is_offered_ntlm_and_basic(ews: EwsEmulator) -> None:
    import requests

    answer = requests.post(ews.url, data=b"<x/>", timeout=5)
    assert answer.status_code == 401
    offered = answer.headers["WWW-Authenticate"]
    assert "NTLM" in offered and "Basic" in offered


def test_impersonation_allowed_denied_and_unknown_mailbox(ews: EwsEmulator) -> None:
    as_alice = connect(ews, ALICE, "CORP\\svc", "svc-pw", access=IMPERSONATION)
    item = save(as_alice, "booked by the service account")
    assert ews.mailbox(ALICE).item(item.id)["subject"] == "booked by the service account"
    assert ("CreateItem", ALICE) in ews.calls
    with pytest.raises(ErrorImpersonateUserDenied):
        connect(ews, BOB, "CORP\\svc", "svc-pw", access=IMPERSONATION).calendar  # noqa: B018
    with pytest.raises(ErrorNonExistentMailbox):
        connect(ews, "ghost@corp.test", "CORP\\svc", "svc-pw", access=IMPERSONATION).calendar  # noqa: B018
    with pytest.raises(ErrorImpersonateUserDenied):
        connect(ews, ALICE, "CORP\\bob", "bob-pw", access=IMPERSONATION).calendar  # noqa: B018


def test_one_account_many_mailboxes_and_delegate_refusal(ews: EwsEmulator) -> None:
    ews.add_account("CORP\\svc2", "pw", impersonation=("*",))
    for email in (ALICE, BOB):
        save(connect(ews, email, "CORP\\svc2", "pw", access=IMPERSONATION), f"for {email}")
    assert [i["subject"] for i in ews.mailbox(BOB).items()] == [f"for {BOB}"]
    with pytest.raises(ErrorAccessDenied):
        connect(ews, BOB, "CORP\\alice", "alice-pw").calendar  # noqa: B018
    with pytest.raises(ErrorNonExistentMailbox):
        connect(ews, "ghost@corp.test", "CORP\\alice", "alice-pw").calendar  # noqa: B018


def test_server_busy_carries_back_off(ews: EwsEmulator) -> None:
    alice = connect(ews, ALICE, "CORP\\alice", "alice-pw")
    alice.calendar  # noqa: B018 - fetch the folder before the fault
    ews.fail_next("FindItem", back_off_ms=1500)
    with pytest.raises(ErrorServerBusy) as caught:
        list(alice.calendar.all())
    assert caught.value.back_off == 1.5

    # exchangelib caches one protocol per endpoint and credentials: another account, another policy
    patient = connect(ews, BOB, "CORP\\bob", "bob-pw", retry=FaultTolerance(max_wait=30))
    patient.calendar  # noqa: B018
    ews.fail_next("FindItem", back_off_ms=400, count=2)
    began = time.monotonic()
    assert list(patient.calendar.all()) == []
    assert time.monotonic() - began >= 0.8
    assert [c[0] for c in ews.calls].count("FindItem") == 4


def test_injected_http_status_and_item_rejection(ews: EwsEmulator) -> None:
    alice = connect(ews, ALICE, "CORP\\alice", "alice-pw")
    item = save(alice, "x")
    ews.reject(item.id, "ErrorItemNotFound")
    with pytest.raises(ErrorItemNotFound):
        alice.calendar.get(id=item.id)
    assert alice.calendar.get(id=item.id).subject == "x"
    ews.fail_next("GetItem", code="ErrorInternalServerError")
    with pytest.raises(ErrorInternalServerError):
        alice.calendar.get(id=item.id)


def test_sends_are_recorded_even_when_asked_to_send(ews: EwsEmulator) -> None:
    alice = connect(ews, ALICE, "CORP\\alice", "alice-pw")
    item = CalendarItem(
        account=alice,
        folder=alice.calendar,
        subject="s",
        start=start(),
        end=start() + timedelta(hours=1),
    )
    item.save(send_meeting_invitations="SendToAllAndSaveCopy")
    item.delete(send_meeting_cancellations="SendOnlyToAll")
    assert ews.sends == [
        ("CreateItem", "SendMeetingInvitations", "SendToAllAndSaveCopy"),
        ("DeleteItem", "SendMeetingCancellations", "SendOnlyToAll"),
    ]


def test_extended_property_restriction(ews: EwsEmulator, tagged: None) -> None:
    alice = connect(ews, ALICE, "CORP\\alice", "alice-pw")
    save(alice, "tagged", meeting_tag="crm-42")
    save(alice, "other", meeting_tag="crm-43")
    save(alice, "untagged")
    found = list(alice.calendar.filter(meeting_tag="crm-42"))
    assert [(i.subject, i.meeting_tag) for i in found] == [("tagged", "crm-42")]
    item = found[0]
    assert ews.mailbox(ALICE).item(item.id)["extended"] == {
        (TAGS, "MeetingTag", "String"): "crm-42"
    }
    item.meeting_tag = "crm-44"
    item.save(update_fields=["meeting_tag"], send_meeting_invitations=SEND_TO_NONE)
    assert list(alice.calendar.filter(meeting_tag="crm-42")) == []
    assert [i.subject for i in alice.calendar.filter(meeting_tag="crm-44")] == ["tagged"]


def test_move_changes_the_id(ews: EwsEmulator, tagged: None) -> None:
    alice = connect(ews, ALICE, "CORP\\alice", "alice-pw")
    item = save(alice, "moving", meeting_tag="crm-7")
    new_id = ews.mailbox(ALICE).move(item.id)
    assert new_id != item.id
    with pytest.raises(ErrorItemNotFound):
        alice.calendar.get(id=item.id)
    found = list(alice.calendar.filter(meeting_tag="crm-7"))
    assert [i.id for i in found] == [new_id]
    moved = found[0]
    moved.move(alice.calendar)
    assert moved.id not in (item.id, new_id)


def test_resolve_names_and_convert_id(ews: EwsEmulator) -> None:
    alice = connect(ews, ALICE, "CORP\\alice", "alice-pw")
    [mailbox] = alice.protocol.resolve_names(["bob@corp.test"])
    assert mailbox.email_address == BOB
    [nobody] = alice.protocol.resolve_names(["nobody@corp.test"])
    assert isinstance(nobody, ErrorNameResolutionNoResults)
    item = save(alice, "ids")
    [hex_id] = alice.protocol.convert_ids(
        [AlternateId(id=item.id, format="EwsId", mailbox=ALICE)], destination_format="HexEntryId"
    )
    [back] = alice.protocol.convert_ids([hex_id], destination_format="EwsId")
    assert back.id == item.id and hex_id.id != item.id


def test_rejection_limited_to_operations_and_of_one_new_item(ews: EwsEmulator) -> None:
    alice = connect(ews, ALICE, "CORP\\alice", "alice-pw")
    item = save(alice, "kept")
    ews.reject(item.id, "ErrorQuotaExceeded", operations=("UpdateItem",))
    assert alice.calendar.get(id=item.id).subject == "kept"  # reads pass
    item.subject = "refused"
    with pytest.raises(ErrorQuotaExceeded):
        item.save(update_fields=["subject"], send_meeting_invitations=SEND_TO_NONE)

    ews.reject_create("ErrorItemSave", subject="bad")
    items = [
        CalendarItem(
            account=alice,
            folder=alice.calendar,
            subject=s,
            start=start(),
            end=start() + timedelta(hours=1),
        )
        for s in ("good", "bad", "also good")
    ]
    results = alice.bulk_create(
        folder=alice.calendar, items=items, send_meeting_invitations=SEND_TO_NONE
    )
    assert [type(r).__name__ for r in results] == [
        "BulkCreateResult",
        "ErrorItemSave",
        "BulkCreateResult",
    ]
    assert sorted(i["subject"] for i in ews.mailbox(ALICE).items()) == ["also good", "good", "kept"]


def test_the_first_item_of_the_next_writes_is_refused_with_its_text(ews: EwsEmulator) -> None:
    alice = connect(ews, ALICE, "CORP\\alice", "alice-pw")
    kept = save(alice, "kept")
    ews.clear_records()
    ews.refuse_first_item("CreateItem", "ErrorItemSave", "Not saved (test).", count=2)
    for round_ in range(3):
        items = [
            CalendarItem(
                account=alice,
                folder=alice.calendar,
                subject=f"{s}-{round_}",
                start=start(),
                end=start() + timedelta(hours=1),
            )
            for s in ("first", "second")
        ]
        results = alice.bulk_create(
            folder=alice.calendar, items=items, send_meeting_invitations=SEND_TO_NONE
        )
        names = [type(r).__name__ for r in results]
        if round_ < 2:  # the next two calls: their first item only
            assert names == ["ErrorItemSave", "BulkCreateResult"], names
            assert str(results[0]) == "Not saved (test)."
        else:
            assert names == ["BulkCreateResult", "BulkCreateResult"], names
    subjects = sorted(i["subject"] for i in ews.mailbox(ALICE).items())
    assert subjects == ["first-2", "kept", "second-0", "second-1", "second-2"]
    # Every write request with the items it asked for, the refused ones included.
    assert ews.write_requests == [("CreateItem", 2)] * 3

    ews.reject(kept.id, "ErrorAccessDenied", 1, operations=("DeleteItem",), text="No (test).")
    assert alice.calendar.get(id=kept.id).subject == "kept"  # reads pass
    with pytest.raises(ErrorAccessDenied, match=r"No \(test\)\."):
        kept.delete(send_meeting_cancellations=SEND_TO_NONE)
    assert ews.write_requests[-1] == ("DeleteItem", 1)
    assert "kept" in [i["subject"] for i in ews.mailbox(ALICE).items()]


def test_ntlm_with_a_upn_and_a_basic_only_server() -> None:
    # exchangelib caches one protocol per endpoint and credentials: one emulator per attempt
    for auth, works in ((BASIC, True), (NTLM, False)):
        with EwsEmulator(auth=("basic",)) as basic_only:
            basic_only.add_account("carol@corp.test", "pw", mailboxes=("carol@corp.test",))
            account = connect(basic_only, "carol@corp.test", "carol@corp.test", "pw", auth=auth)
            if works:
                assert account.calendar.name == "Calendar"
            else:
                with pytest.raises(UnauthorizedError):
                    account.calendar  # noqa: B018
    with EwsEmulator() as ews:
        ews.add_account("dave@corp.test", "pw", mailboxes=("dave@corp.test",))
        assert connect(ews, "dave@corp.test", "dave@corp.test", "pw", auth=NTLM).calendar.name
