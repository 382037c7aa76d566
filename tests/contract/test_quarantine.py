"""One event the remote or the store refuses never blocks its binding: it is quarantined
(recorded with its reason, retried with back-off) while the rest keeps syncing and both
cursors advance. Transient failures still fail the round. Every backend kind, SQLite and
MariaDB. (The stray-instance case, a Google wire fault, is in tests/integration.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bridge.backends.base import BackendError
from bridge.model import Override
from bridge.store import changes as change_log

FIRST = datetime(2027, 3, 1, 9, tzinfo=UTC)  # Mondays 09:00 UTC


def later(hours: float):
    return lambda: datetime.now(UTC) + timedelta(hours=hours)


def test_a_403_on_one_update_fails_that_event_not_the_round(contract_world, driver):
    """Alice only attends the event in her calendar: the remote answers 403 for our
    update. The other meeting's change still goes out."""
    world = contract_world
    world.crm_meeting("attended", "Attended")
    world.crm_meeting("own", "Own")
    world.round()
    world.crm_meeting("attended", "Attended, moved")
    world.crm_meeting("own", "Own, moved")
    driver.reject(world.event("Attended").remote_id, 403, times=1)
    report = world.round()
    assert "Own, moved" in world.subjects() and "Attended" in world.subjects()
    assert report.quarantined == 1
    (entry,) = world.quarantine()
    assert entry.item_key == "attended" and "403" in entry.reason
    assert world.binding().outbound_seq == world.store.read(change_log.max_seq)
    assert world.binding().failures == 0  # the binding itself is not failing

    # The remote lets the write through again: the next try sends the held-back change.
    world.round(clock=later(1))
    assert "Attended, moved" in world.subjects()
    assert world.quarantine() == []


def test_a_write_to_an_event_the_remote_always_refuses_stays_quarantined(contract_world, driver):
    world = contract_world
    world.crm_meeting("attended", "Attended")
    world.round()
    driver.reject(world.event("Attended").remote_id, 403)
    world.crm_meeting("attended", "Attended, moved")
    assert world.round().quarantined == 1
    world.round(clock=later(1))
    (entry,) = world.quarantine()
    assert entry.attempts == 2 and world.subjects() == ["Attended"]
    assert world.binding().failures == 0


def test_a_400_on_one_create_is_quarantined_and_retried(contract_world, driver):
    world = contract_world
    world.crm_meeting("poison", "Poison")  # created first: it meets the 400
    world.crm_meeting("other", "Other")
    driver.fail_next("create", 400)
    first = world.round()
    assert "Other" in world.subjects() and "Poison" not in world.subjects()
    assert first.quarantined == 1 and world.quarantine()[0].held == "crm"
    driver.fail_next("create", 400)
    world.round()  # retried at the next round: refused again
    assert world.quarantine()[0].attempts == 2
    world.round(clock=later(1))  # the fault is spent: created, released
    assert "Poison" in world.subjects() and world.quarantine() == []
    assert len(world.events()) == 2  # created once


def test_a_calendar_event_the_store_refuses_is_quarantined(contract_world, driver):
    """The calendar keeps a moved instance whose series no longer has it (the rule was
    changed afterwards): the store refuses the pull; the delta still advances."""
    world = contract_world
    start = FIRST
    made = driver.seed(
        subject="Gym",
        start=start,
        end=start + timedelta(hours=1),
        recurrence=("RRULE:FREQ=WEEKLY;COUNT=4",),
    )
    stray = Override(
        "2027-03-08T09:00:00+00:00",
        datetime(2027, 3, 8, 18, tzinfo=UTC),
        datetime(2027, 3, 8, 19, tzinfo=UTC),
    )
    driver.edit(made, overrides=(stray,))
    driver.edit(
        made,
        recurrence=("RRULE:FREQ=WEEKLY;COUNT=4;BYDAY=TU",),
        start=start + timedelta(days=1),
        end=start + timedelta(days=1, hours=1),
    )
    driver.seed(
        subject="Lunch", start=start + timedelta(days=2), end=start + timedelta(days=2, hours=1)
    )
    report = world.round()
    if not driver.keeps_stray_instances:  # Exchange dropped the exception with the rule
        assert report.quarantined == 0 and world.meeting_count() == 2
        assert world.event("Gym").overrides == ()
        return
    assert report.quarantined == 1 and report.pulled == 1  # Lunch came in
    (entry,) = world.quarantine()
    assert (entry.kind, entry.item_key, entry.held) == ("remote", made, "calendar")
    assert "RECURRENCE-ID 20270308T090000Z is not an occurrence of the rule" in entry.reason
    assert world.meeting_count() == 1 and world.binding().remote_cursor

    # The user removes the stray instance: the event comes in, the entry goes.
    driver.edit(made, overrides=())
    world.round()
    assert world.quarantine() == [] and world.meeting_count() == 2


@pytest.mark.parametrize("status", [503, 429])
def test_a_transient_failure_fails_the_round_and_quarantines_nothing(
    contract_world, driver, status
):
    """5xx and 429 are not the event's fault: the round fails (the scheduler backs off
    the binding), nothing is quarantined, and the change is pushed later."""
    world = contract_world
    world.crm_meeting("t-1", "Transient")
    world.crm_meeting("t-2", "Other")
    world.round()
    world.crm_meeting("t-1", "Transient, moved")
    world.crm_meeting("t-2", "Other, moved")
    driver.fail_next("update", status, count=20)  # more than any backend retries
    outbound = world.binding().outbound_seq
    with pytest.raises(BackendError):
        world.round()
    assert world.quarantine() == []
    assert world.binding().outbound_seq == outbound  # the change waits, not skipped
    for _ in range(20):  # the rounds fail until the fault is spent
        try:
            world.round()
            break
        except BackendError:
            assert world.quarantine() == []
    assert {"Transient, moved", "Other, moved"} <= set(world.subjects())
