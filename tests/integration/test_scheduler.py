"""Leases, triggers and back-off of the scheduler, against the store and the emulator."""

from __future__ import annotations

import time

import pytest

from bridge.store import bindings as binding_store
from bridge.sync.scheduler import Scheduler, Timing
from tests.support.sync_world import make_world


@pytest.fixture
def world(db_url, google_emulator):
    w = make_world(db_url, google_emulator)
    yield w
    w.store.dispose()


def scheduler(world, owner: str, **timing) -> Scheduler:
    return Scheduler(
        world.store,
        world.backend_for,
        lambda row: world.rules,
        timing=Timing(**timing),
        owner=owner,
    )


def binding(world):
    return world.store.read(lambda c: binding_store.get(c, world.binding_id))


def test_a_held_lease_keeps_a_second_worker_out(world):
    first, second = scheduler(world, "one"), scheduler(world, "two")
    assert world.store.write(lambda tx: binding_store.take_lease(tx, world.binding_id, "one", 60))
    assert second.run_binding(world.binding_id) is None
    world.store.write(lambda tx: binding_store.release_lease(tx, world.binding_id, "one"))
    assert second.run_binding(world.binding_id) is not None
    assert binding(world).lease_owner is None  # released after the round
    assert first.run_binding(world.binding_id) is not None


def test_an_expired_lease_is_taken_over(world):
    world.store.write(lambda tx: binding_store.take_lease(tx, world.binding_id, "dead", 0.01))
    time.sleep(0.05)
    assert scheduler(world, "alive").run_binding(world.binding_id) is not None


def test_a_local_change_makes_the_binding_due_at_once(world):
    worker = scheduler(world, "w", poll_seconds=3600)
    worker.run_due()  # first round; next one in an hour
    assert binding(world).next_run_at > time.time() + 3000
    world.crm_meeting("t-1", "Triggered")
    results = worker.run_due()
    assert world.binding_id in results and results[world.binding_id].pushed == 1
    assert [e["summary"] for e in world.google_events()] == ["Triggered"]


def test_failures_are_recorded_and_backed_off(world):
    world.google.oauth.revoke(world.secret()["refresh_token"])
    worker = scheduler(world, "w", poll_seconds=10)
    results = worker.run_due()
    assert isinstance(results[world.binding_id], Exception)
    row = binding(world)
    assert row.failures == 1 and row.last_error
    assert row.next_run_at > time.time() + 5  # backed off
    assert worker.run_due() == {}  # not due yet
    assert row.lease_owner is None


def test_the_bindings_own_pulls_do_not_trigger_it_again(world):
    from datetime import UTC, datetime, timedelta

    from tests.support.sync_world import CALENDAR

    worker = scheduler(world, "w", poll_seconds=3600)
    worker.run_due()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    world.google.seed(
        CALENDAR,
        {
            "summary": "From Google",
            "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + timedelta(hours=1)).isoformat()},
        },
    )
    world.store.write(lambda tx: binding_store.request_run(tx, [world.binding_id]))
    first = worker.run_due()
    assert first[world.binding_id].pulled == 1
    assert worker.run_due() == {}  # the pull it just wrote is not a local change


def test_a_push_during_a_round_is_not_lost(world):
    """A notification that arrives while the binding runs makes it due again afterwards."""
    worker = scheduler(world, "w", poll_seconds=3600)

    class PushMidRound:
        def __init__(self, backend):
            self.backend = backend

        def __getattr__(self, name):
            return getattr(self.backend, name)

        def list_changes(self, cursor):
            world.store.write(lambda tx: binding_store.request_run(tx, [world.binding_id]))
            return self.backend.list_changes(cursor)

    worker.backend_for = lambda row: PushMidRound(world.backend_for(row))
    assert worker.run_binding(world.binding_id) is not None
    assert binding(world).next_run_at == 0  # due again at once
    assert world.binding_id in worker.run_due()


def test_a_refused_event_does_not_back_off_the_binding_but_a_server_error_does(
    db_url, google_emulator
):
    """The scheduler's side of plan_faults: a 400 for one event quarantines it and the
    round succeeds; 503s (retries spent) fail the round and back the binding off."""
    world = make_world(db_url, google_emulator, max_retries=1)
    try:
        worker = scheduler(world, "w", poll_seconds=10)
        world.crm_meeting("bad", "Bad")
        world.crm_meeting("good", "Good")
        world.google.faults.error(
            400, "invalid", times=5, api="events.insert", when=lambda c: b"Bad" in c.body
        )
        results = worker.run_due()
        assert results[world.binding_id].quarantined == 1
        row = binding(world)
        assert row.failures == 0 and row.last_error is None and row.last_success_at
        assert [e["summary"] for e in world.google_events()] == ["Good"]

        world.crm_meeting("good", "Good, moved")
        world.google.faults.server_error(times=10, status=503, api="events.patch")
        results = worker.run_due()
        assert isinstance(results[world.binding_id], Exception)
        row = binding(world)
        assert row.failures == 1 and "503" in row.last_error
        assert row.next_run_at > time.time() + 5  # the whole binding backs off
        assert len(world.quarantine()) == 1  # the server error quarantined nothing
    finally:
        world.store.dispose()
