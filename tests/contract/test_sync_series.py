"""A recurring series with moved and cancelled occurrences, both ways, on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bridge.meeting_service import save_from_sync
from bridge.model import Meeting, Override, Recurrence
from bridge.store import collections as collection_store
from bridge.store import items as item_store
from bridge.store import users as user_store


def test_recurring_series_with_moved_and_cancelled_occurrences_both_ways(contract_world, driver):
    world = contract_world
    first = datetime(2027, 3, 1, 9, tzinfo=UTC)  # Mondays 09:00 UTC
    week = timedelta(days=7)
    meeting = Meeting(
        uid="series",
        start=first,
        end=first + timedelta(hours=1),
        organiser="alice",
        subject="Weekly sync",
        activity_type="meeting",
        recurrence=Recurrence(
            rrule="FREQ=WEEKLY;COUNT=6",
            exdates=[first + week],
            overrides=["2027-03-15T09:00:00+00:00"],
        ),
    )
    moved = Override(
        "2027-03-15T09:00:00+00:00",
        first + 2 * week + timedelta(hours=5),
        first + 2 * week + timedelta(hours=6),
        "Weekly sync (afternoon)",
    )
    world.store.write(
        lambda tx: save_from_sync(
            tx, meeting, href="series.ics", horizon_days=800, max_occurrences=500, overrides=[moved]
        ),
        origin="crm",
    )
    world.round()
    (master,) = world.events()
    assert any(line.startswith("RRULE:") for line in master.recurrence)
    assert any("EXDATE" in line and "20270308" in line for line in master.recurrence)
    (instance,) = master.overrides
    assert instance.recurrence_id == "2027-03-15T09:00:00+00:00"
    assert instance.start == datetime(2027, 3, 15, 14, tzinfo=UTC)
    assert instance.subject == "Weekly sync (afternoon)"
    assert world.round().pushed == 0  # the series round-trips as an echo

    # In the calendar: the fourth occurrence moves to Tuesday, the fifth is cancelled.
    fourth = Override(
        "2027-03-22T09:00:00+00:00",
        datetime(2027, 3, 23, 10, tzinfo=UTC),
        datetime(2027, 3, 23, 11, tzinfo=UTC),
    )
    driver.edit(
        master.remote_id,
        overrides=(instance, fourth),
        recurrence=(*master.recurrence, "EXDATE:20270329T090000Z"),
    )
    assert world.round().pulled == 1

    def occurrences_on(day: datetime) -> list[str]:
        start = int(day.timestamp())
        path = user_store.meetings_path("alice")
        cid = world.store.read(lambda c: collection_store.by_path(c, path)).id
        found = world.store.read(lambda c: item_store.in_range(c, cid, start, start + 86400))
        return [row.uid for row, _ in found]

    assert occurrences_on(datetime(2027, 3, 22, tzinfo=UTC)) == []  # moved away
    assert occurrences_on(datetime(2027, 3, 23, tzinfo=UTC)) == ["series"]  # to Tuesday
    assert occurrences_on(datetime(2027, 3, 29, tzinfo=UTC)) == []  # cancelled
    assert occurrences_on(datetime(2027, 3, 15, tzinfo=UTC)) == ["series"]  # still moved
    assert occurrences_on(datetime(2027, 3, 8, tzinfo=UTC)) == []  # still excluded
    quiet = world.round()
    assert quiet.pulled == 0 and quiet.pushed == 0
