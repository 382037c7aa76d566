"""The EWS emulator driven by exchangelib over real HTTP: CRUD, change keys, sync paging."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from exchangelib import (
    Account,
    CalendarItem,
    EWSDateTime,
    EWSTimeZone,
)
from exchangelib.errors import (
    ErrorInvalidSyncStateData,
    ErrorIrresolvableConflict,
    ErrorItemNotFound,
)
from exchangelib.items import AUTO_RESOLVE, NEVER_OVERWRITE, SEND_TO_NONE
from exchangelib.transport import BASIC

from tests.emulators.ews import EwsEmulator
from tests.emulators.ews_client import connect

ALICE = "alice@corp.test"
BERLIN = EWSTimeZone("Europe/Berlin")


@pytest.fixture
def ews() -> Iterator[EwsEmulator]:
    with EwsEmulator() as emulator:
        yield emulator


@pytest.fixture
def alice(ews: EwsEmulator) -> Account:
    ews.add_account("CORP\\alice", "secret", mailboxes=(ALICE,))
    return connect(ews, ALICE, "CORP\\alice", "secret")


def at(day: int, hour: int) -> EWSDateTime:
    return EWSDateTime(2026, 3, day, hour, tzinfo=BERLIN)


def new_item(account: Account, subject: str, day: int = 2, hour: int = 10) -> CalendarItem:
    item = CalendarItem(
        account=account,
        folder=account.calendar,
        subject=subject,
        start=at(day, hour),
        end=at(day, hour + 1),
    )
    item.body = "text body"
    item.save(send_meeting_invitations=SEND_TO_NONE)
    return item


def test_create_get_update_delete(ews: EwsEmulator, alice: Account) -> None:
    item = new_item(alice, "Planning")
    first_key = item.changekey
    got = alice.calendar.get(id=item.id)
    assert (got.subject, got.body, got.start) == ("Planning", "text body", at(2, 10))
    assert got._start_timezone == BERLIN

    got.subject = "Planning (moved)"
    got.location = "Room 4"
    got.save(update_fields=["subject", "location"], send_meeting_invitations=SEND_TO_NONE)
    assert got.changekey != first_key
    seen = ews.mailbox(ALICE).item(item.id)
    assert (seen["subject"], seen["location"], seen["change_key"]) == (
        "Planning (moved)",
        "Room 4",
        got.changekey,
    )

    got.delete(send_meeting_cancellations=SEND_TO_NONE)
    assert ews.mailbox(ALICE).items() == []
    with pytest.raises(ErrorItemNotFound):
        alice.calendar.get(id=item.id)
    assert ("CreateItem", "SendMeetingInvitations", "SendToNone") in ews.sends
    assert ("UpdateItem", "SendMeetingInvitationsOrCancellations", "SendToNone") in ews.sends
    assert ("DeleteItem", "SendMeetingCancellations", "SendToNone") in ews.sends


def test_several_items_in_one_create_call(ews: EwsEmulator, alice: Account) -> None:
    items = [
        CalendarItem(
            account=alice,
            folder=alice.calendar,
            subject=f"m{n}",
            start=at(3, 9 + n),
            end=at(3, 10 + n),
        )
        for n in range(3)
    ]
    ews.clear_records()
    ids = alice.bulk_create(
        folder=alice.calendar, items=items, send_meeting_invitations=SEND_TO_NONE
    )
    assert [c[0] for c in ews.calls] == ["CreateItem"]
    assert [(w[0], w[1]) for w in ews.writes] == [("CreateItem", ALICE)] * 3
    assert sorted(i["subject"] for i in ews.mailbox(ALICE).items()) == ["m0", "m1", "m2"]
    assert len({i.id for i in ids}) == 3


def test_stale_change_key_is_an_irresolvable_conflict(ews: EwsEmulator, alice: Account) -> None:
    item = new_item(alice, "Standup")
    ews.mailbox(ALICE).update(item.id, subject="changed in Outlook")
    item.subject = "changed by us"
    with pytest.raises(ErrorIrresolvableConflict):
        item.save(
            update_fields=["subject"],
            conflict_resolution=NEVER_OVERWRITE,
            send_meeting_invitations=SEND_TO_NONE,
        )
    assert ews.mailbox(ALICE).item(item.id)["subject"] == "changed in Outlook"
    item.save(
        update_fields=["subject"],
        conflict_resolution=AUTO_RESOLVE,
        send_meeting_invitations=SEND_TO_NONE,
    )
    assert ews.mailbox(ALICE).item(item.id)["subject"] == "changed by us"


def test_missing_item_is_item_not_found(alice: Account) -> None:
    gone = new_item(alice, "x")
    ids = [(gone.id, gone.changekey)]
    gone.delete(send_meeting_cancellations=SEND_TO_NONE)
    results = alice.bulk_delete(ids, send_meeting_cancellations=SEND_TO_NONE)
    assert isinstance(results[0], ErrorItemNotFound)


def test_sync_pages_and_reports_creates_updates_deletes(ews: EwsEmulator, alice: Account) -> None:
    user = ews.mailbox(ALICE)
    ids = [user.create(subject=f"s{n}", start=at(4, 8 + n), end=at(4, 9 + n)) for n in range(5)]
    ews.clear_records()
    seen = list(alice.calendar.sync_items(max_changes_returned=2, only_fields=["subject"]))
    state = alice.calendar.item_sync_state
    assert [c[0] for c in ews.calls if c[0] == "SyncFolderItems"] == ["SyncFolderItems"] * 3
    assert sorted(item.id for kind, item in seen if kind == "create") == sorted(ids)

    user.update(ids[0], subject="renamed")
    user.delete(ids[1])
    changes = list(alice.calendar.sync_items(sync_state=state, only_fields=["subject"]))
    kinds = {(kind, item.id) for kind, item in changes}
    assert kinds == {("update", ids[0]), ("delete", ids[1])}
    assert list(alice.calendar.sync_items(sync_state=alice.calendar.item_sync_state)) == []


def test_expired_sync_state_is_invalid(ews: EwsEmulator, alice: Account) -> None:
    list(alice.calendar.sync_items())
    state = alice.calendar.item_sync_state
    ews.expire_sync_state()
    with pytest.raises(ErrorInvalidSyncStateData):
        list(alice.calendar.sync_items(sync_state=state))
    with pytest.raises(ErrorInvalidSyncStateData):
        list(alice.calendar.sync_items(sync_state="bm90IGEgc3RhdGU="))


def test_basic_auth(ews: EwsEmulator) -> None:
    ews.add_account("bob@corp.test", "pw", mailboxes=("bob@corp.test",))
    account = connect(ews, "bob@corp.test", "bob@corp.test", "pw", auth=BASIC)
    assert account.calendar.name == "Calendar"


def test_find_item_pages_through_an_indexed_view(ews: EwsEmulator, alice: Account) -> None:
    user = ews.mailbox(ALICE)
    for n in range(7):
        user.create(subject=f"p{n}", start=at(5, 8 + n), end=at(5, 9 + n))
    ews.clear_records()
    query = alice.calendar.all().only("subject")
    query.page_size = 3
    assert sorted(i.subject for i in query) == [f"p{n}" for n in range(7)]
    assert [c[0] for c in ews.calls].count("FindItem") == 3
