"""The scheduler with a Google binding whose refresh token was revoked (the suite for
every backend kind is tests/contract/test_scheduler.py)."""

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


def test_a_revoked_token_is_recorded_and_backed_off(world):
    world.google.oauth.revoke(world.secret()["refresh_token"])
    worker = Scheduler(
        world.store, world.backend_for, lambda row: world.rules, timing=Timing(poll_seconds=10)
    )
    results = worker.run_due()
    assert isinstance(results[world.binding_id], Exception)
    row = world.store.read(lambda c: binding_store.get(c, world.binding_id))
    assert row.failures == 1 and row.last_error
    assert row.next_run_at > time.time() + 5  # backed off
    assert worker.run_due() == {}  # not due yet
    assert row.lease_owner is None
