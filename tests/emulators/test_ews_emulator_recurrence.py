"""The EWS emulator's recurring series through exchangelib: CalendarView expansion, occurrence
ids, modified and deleted occurrences, zones across DST, all-day items."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from exchangelib import (
    Account,
    CalendarItem,
    EWSDateTime,
    EWSTimeZone,
)
from exchangelib.errors import (
    ErrorCalendarEndDateIsEarlierThanStartDate,
    ErrorCalendarOccurrenceIsDeletedFromRecurrence,
)
from exchangelib.items import SEND_TO_NONE
from exchangelib.recurrence import Recurrence, WeeklyPattern

from tests.emulators.ews import EwsEmulator
from tests.emulators.ews_client import connect

ALICE = "alice@corp.test"
BERLIN = EWSTimeZone("Europe/Berlin")
UTC = EWSTimeZone("UTC")


@pytest.fixture
def ews() -> Iterator[EwsEmulator]:
    with EwsEmulator() as emulator:
        emulator.add_account("CORP\\alice", "secret", mailboxes=(ALICE,))
        yield emulator


@pytest.fixture
def alice(ews: EwsEmulator) -> Account:
    return connect(ews, ALICE, "CORP\\alice", "secret")


def weekly(account: Account, first: EWSDateTime, count: int) -> CalendarItem:
    """A weekly Monday series created through exchangelib."""
    item = CalendarItem(
        account=account,
        folder=account.calendar,
        subject="Weekly",
        start=first,
        end=first + timedelta(hours=1),
        recurrence=Recurrence(
            pattern=WeeklyPattern(interval=1, weekdays=[1]), start=first.date(), number=count
        ),
    )
    item.save(send_meeting_invitations=SEND_TO_NONE)
    return item


def test_calendar_view_expands_with_a_modified_and_a_deleted_occurrence(
    ews: EwsEmulator, alice: Account
) -> None:
    first = EWSDateTime(2026, 3, 2, 9, tzinfo=BERLIN)  # a Monday
    master = weekly(alice, first, 5)
    user = ews.mailbox(ALICE)
    starts = user.occurrence_starts(master.id)
    assert len(starts) == 5
    moved = starts[1] + timedelta(hours=2)
    user.modify_occurrence(
        master.id, starts[1], subject="Moved", start=moved, end=moved + timedelta(hours=1)
    )
    user.delete_occurrence(master.id, starts[2])

    view = list(
        alice.calendar.view(start=first - timedelta(days=1), end=first + timedelta(days=40))
    )
    assert [(v.type, v.subject) for v in view] == [
        ("Occurrence", "Weekly"),
        ("Exception", "Moved"),
        ("Occurrence", "Weekly"),
        ("Occurrence", "Weekly"),
    ]
    assert view[1].start == first + timedelta(days=7, hours=2)
    assert view[2].start == first + timedelta(days=21)
    assert len({v.id for v in view}) == 4

    got = alice.calendar.get(id=master.id)
    assert got.type == "RecurringMaster"
    assert got.first_occurrence.start == first
    assert got.last_occurrence.start == first + timedelta(days=28)
    assert [o.start for o in got.modified_occurrences] == [first + timedelta(days=7, hours=2)]
    assert [o.start for o in got.deleted_occurrences] == [first + timedelta(days=14)]
    assert got.recurrence.boundary.number == 5


def test_occurrences_by_index_and_back_to_the_master(ews: EwsEmulator, alice: Account) -> None:
    first = EWSDateTime(2026, 3, 2, 9, tzinfo=BERLIN)
    master = weekly(alice, first, 4)
    ews.mailbox(ALICE).delete_occurrence(
        master.id, ews.mailbox(ALICE).occurrence_starts(master.id)[3]
    )
    master = alice.calendar.get(id=master.id)

    third = master.occurrence(index=3)
    third.refresh()
    third_start = first + timedelta(days=14)
    assert (third.type, third.start, third.original_start) == (
        "Occurrence",
        third_start,
        third_start,
    )
    assert third.changekey == master.changekey
    back = third.recurring_master()
    back.refresh()
    assert back.id == master.id
    with pytest.raises(ErrorCalendarOccurrenceIsDeletedFromRecurrence):
        master.occurrence(index=4).refresh()

    third.subject = "Third, changed"
    third.save(update_fields=["subject"], send_meeting_invitations=SEND_TO_NONE)
    seen = ews.mailbox(ALICE).item(master.id)
    assert [f["subject"] for f in seen["modified_occurrences"].values()] == ["Third, changed"]
    assert seen["change_key"] != master.changekey  # an exception changes the master's change key
    third.delete(send_meeting_cancellations=SEND_TO_NONE)
    seen = ews.mailbox(ALICE).item(master.id)
    assert seen["modified_occurrences"] == {}
    assert len(seen["deleted_occurrences"]) == 2


def test_series_across_dst_keeps_its_wall_time(ews: EwsEmulator, alice: Account) -> None:
    first = EWSDateTime(
        2026, 3, 23, 9, tzinfo=BERLIN
    )  # Europe/Berlin moves to summer time on 29 March
    weekly(alice, first, 3)
    view = list(
        alice.calendar.view(start=first - timedelta(days=1), end=first + timedelta(days=20))
    )
    assert [v.start.astimezone(BERLIN).hour for v in view] == [9, 9, 9]
    assert [v.start.astimezone(UTC).hour for v in view] == [8, 7, 7]
    assert all(v._start_timezone == BERLIN for v in view)


def test_all_day_item(ews: EwsEmulator, alice: Account) -> None:
    item = CalendarItem(
        account=alice, folder=alice.calendar, subject="Holiday", is_all_day=True,
        start=EWSDateTime(2026, 5, 1, tzinfo=BERLIN), end=EWSDateTime(2026, 5, 2, tzinfo=BERLIN),
    )  # fmt: skip
    item.save(send_meeting_invitations=SEND_TO_NONE)
    got = alice.calendar.get(id=item.id)
    assert got.is_all_day is True
    assert got.start == date(2026, 5, 1)  # exchangelib shows the all-day end inclusively
    seen = ews.mailbox(ALICE).item(item.id)
    assert seen["is_all_day"] is True and seen["start_tz"] == "W. Europe Standard Time"
    assert (seen["start"], seen["end"]) == (
        EWSDateTime(2026, 5, 1, tzinfo=BERLIN),
        EWSDateTime(2026, 5, 2, tzinfo=BERLIN),
    )


def test_occurrence_start_alone_and_a_failed_update_leaves_no_exception(
    ews: EwsEmulator, alice: Account
) -> None:
    first = EWSDateTime(2026, 3, 2, 9, tzinfo=BERLIN)
    master = weekly(alice, first, 4)
    third = alice.calendar.get(id=master.id).occurrence(index=3)
    third.refresh()
    third.start = third.start + timedelta(minutes=30)
    third.save(update_fields=["start"], send_meeting_invitations=SEND_TO_NONE)
    [(orig, fields)] = ews.mailbox(ALICE).item(master.id)["modified_occurrences"].items()
    assert orig == first + timedelta(days=14)
    assert fields["start"] == first + timedelta(days=14, minutes=30)

    second = alice.calendar.get(id=master.id).occurrence(index=2)
    second.refresh()
    second.end = second.start - timedelta(hours=1)
    with pytest.raises(ErrorCalendarEndDateIsEarlierThanStartDate):
        second.save(update_fields=["end"], send_meeting_invitations=SEND_TO_NONE)
    assert len(ews.mailbox(ALICE).item(master.id)["modified_occurrences"]) == 1
