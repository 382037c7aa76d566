"""One event the remote or the store refuses never blocks its binding: it is quarantined
(recorded with its reason, retried with back-off) while the rest keeps syncing and both
cursors advance. Google's own cases (the suite for every backend is
tests/contract/test_quarantine.py): an instance id Google answers 404 for, and a timeout.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from radicale.item import get_etag

from bridge import ical
from bridge.ical.overrides import with_overrides
from bridge.model import Meeting, Override, Recurrence
from bridge.store import changes as change_log
from bridge.store import meetings as meeting_store
from bridge.store import users as user_store
from bridge.store.items import event_index
from bridge.store.meetings import MeetingWrite
from tests.support.sync_world import CALENDAR, make_world

FIRST = datetime(2027, 3, 1, 9, tzinfo=UTC)  # Mondays 09:00 UTC
WEEK = timedelta(days=7)
STRAY = "2027-03-09T09:00:00+00:00"  # a Tuesday: no occurrence of the weekly rule


@pytest.fixture
def world(db_url, google_emulator):
    w = make_world(db_url, google_emulator)
    yield w
    w.store.dispose()


def later(hours: float):
    return lambda: datetime.now(UTC) + timedelta(hours=hours)


def live(world) -> dict[str, dict]:
    """Live Google events (masters and single events) by summary."""
    return {e["summary"]: e for e in world.google_events() if not e.get("recurringEventId")}


def series(uid: str, overrides: list[str]) -> Meeting:
    return Meeting(
        uid=uid,
        start=FIRST,
        end=FIRST + timedelta(hours=1),
        organiser="alice",
        subject="Weekly",
        activity_type="meeting",
        recurrence=Recurrence(rrule="FREQ=WEEKLY;COUNT=6", overrides=overrides),
    )


def store_stray_series(world, uid: str) -> None:
    """A series with an instance its rule does not have, as a store of an earlier version
    accepted it (today's store refuses it, so it is written below the meeting service)."""
    meeting = series(uid, [STRAY])
    moved = Override(STRAY, FIRST + WEEK + timedelta(hours=5), FIRST + WEEK + timedelta(hours=6))

    def write(tx):
        emails = user_store.email_by_login(tx.conn)
        text = with_overrides(
            ical.meeting_to_ical(meeting, email_by_login=emails), [moved], all_day=False
        )
        vcal = ical.parse_calendar(text)
        busy = ical.busy_only(vcal)
        index = event_index(vcal, horizon_days=800, max_occurrences=500)
        meeting_store.save(
            tx,
            MeetingWrite(meeting, f"{uid}.ics", text, get_etag(text), busy, get_etag(busy), index),
        )

    world.store.write(write, origin="crm")


def test_a_stray_instance_is_quarantined_and_the_rest_keeps_syncing(world):
    """The reported fault: Google refuses the instance (404 for its id); every later round
    used to die in the pull, so nothing synced any more."""
    store_stray_series(world, "stray")
    world.crm_meeting("fine", "Fine")
    first = world.round()
    assert first.quarantined == 1 and "Fine" in live(world)
    (entry,) = world.quarantine()
    assert (entry.kind, entry.item_key, entry.attempts) == ("meeting", "stray", 1)
    assert "not an occurrence of the series" in entry.reason and entry.held == "crm"
    top = world.store.read(change_log.max_seq)
    assert world.binding().outbound_seq == top  # the outbound position went past it

    # The next round runs through (it used to fail here) and pulls a calendar edit.
    world.google.edit(CALENDAR, live(world)["Fine"]["id"], summary="Fine, edited")
    cursor = world.binding().remote_cursor
    second = world.round()
    assert world.meeting("fine").subject == "Fine, edited"
    assert world.binding().remote_cursor != cursor
    (entry,) = world.quarantine()
    assert entry.attempts == 2  # retried at the next round, refused again
    assert entry.next_try_at >= entry.last_failed_at + 300
    assert second.quarantined == 1

    # Before its next try nothing is sent for it, even though our write shows in the delta.
    world.google.reset_counters()
    quiet = world.round()
    assert quiet.quarantined == 0 and world.quarantine()[0].attempts == 2
    for method in ("POST", "PATCH", "PUT", "DELETE"):
        assert world.google.http_requests(method=method, path_contains="/calendar/v3") == 0

    # When its time comes it is tried again, and the back-off doubles.
    world.round(clock=later(1))
    (entry,) = world.quarantine()
    assert entry.attempts == 3
    assert entry.next_try_at - entry.last_failed_at == pytest.approx(600)

    # Repaired in the CRM: it syncs at once and leaves the quarantine.
    world.crm_meeting(
        "stray",
        "Weekly",
        start=FIRST,
        end=FIRST + timedelta(hours=1),
        recurrence=Recurrence(rrule="FREQ=WEEKLY;COUNT=6"),
    )
    world.round()
    assert world.quarantine() == []
    assert "Weekly" in live(world)
    settled = world.round()
    assert settled.pushed == 0 and settled.quarantined == 0


def test_a_timeout_fails_the_round_and_quarantines_nothing(db_url, google_emulator):
    """Timeouts (as 5xx and 429, tests/contract) are not the event's fault: the round
    fails (the scheduler backs off the binding), nothing is quarantined, and the change is
    pushed later."""
    fault = "slow"
    from bridge.backends.base import BackendError

    world = make_world(db_url, google_emulator, max_retries=1, timeout=1)
    try:
        world.crm_meeting("t-1", "Transient")
        world.crm_meeting("t-2", "Other")
        world.round()
        world.crm_meeting("t-1", "Transient, moved")
        world.crm_meeting("t-2", "Other, moved")
        faults = world.google.faults
        if fault == "slow":
            faults.slow(2, times=2, api="events.patch")
        else:
            getattr(faults, fault)(times=2, api="events.patch")
        outbound = world.binding().outbound_seq
        with pytest.raises(BackendError):
            world.round()
        assert world.quarantine() == []
        assert world.binding().outbound_seq == outbound  # the change waits, not skipped
        faults.clear()
        world.round()
        assert {"Transient, moved", "Other, moved"} <= set(live(world))
    finally:
        world.store.dispose()
