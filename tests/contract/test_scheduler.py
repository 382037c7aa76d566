"""Leases, triggers and back-off of the scheduler, against the store and every backend kind."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time

import pytest

from bridge.store import bindings as binding_store
from bridge.sync.lease import LeaseLost, this_process
from bridge.sync.scheduler import Scheduler, Timing
from tests.contract.pull import AfterList


@pytest.fixture
def world(contract_world):
    return contract_world


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
    assert world.subjects() == ["Triggered"]


def test_failures_are_recorded_and_backed_off(world, driver):
    driver.fail_next("list", 503, count=20)  # more than any backend retries
    worker = scheduler(world, "w", poll_seconds=10)
    results = worker.run_due()
    assert isinstance(results[world.binding_id], Exception)
    row = binding(world)
    assert row.failures == 1 and row.last_error
    assert row.next_run_at > time.time() + 5  # backed off
    assert worker.run_due() == {}  # not due yet
    assert row.lease_owner is None


def test_the_bindings_own_pulls_do_not_trigger_it_again(world, driver):
    from datetime import UTC, datetime, timedelta

    worker = scheduler(world, "w", poll_seconds=3600)
    worker.run_due()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    driver.seed(subject="From the calendar", start=start, end=start + timedelta(hours=1))
    world.store.write(lambda tx: binding_store.request_run(tx, [world.binding_id]))
    first = worker.run_due()
    assert first[world.binding_id].pulled == 1
    assert worker.run_due() == {}  # the pull it just wrote is not a local change


def test_a_push_during_a_round_is_not_lost(world):
    """A notification that arrives while the binding runs makes it due again afterwards."""
    worker = scheduler(world, "w", poll_seconds=3600)

    def push():
        world.store.write(lambda tx: binding_store.request_run(tx, [world.binding_id]))

    worker.backend_for = lambda row: AfterList(world.backend_for(row), before=push)
    assert worker.run_binding(world.binding_id) is not None
    assert binding(world).next_run_at == 0  # due again at once
    assert world.binding_id in worker.run_due()


def Paused(backend, during):  # noqa: N802 - reads as the wrapper it makes
    """The real backend; list_changes first runs ``during`` (the round is under way)."""
    return AfterList(backend, before=during)


def test_heartbeats_keep_a_round_longer_than_its_lease_leased(world):
    """A 1 s lease, a round of 5 s: the heartbeat keeps others out all along. (A 0.3 s
    lease lost heartbeats when the suite ran one process per core on 2 cores.)"""
    worker = scheduler(world, "w", heartbeat_seconds=0.2, lease_seconds=1.0)
    other = scheduler(world, "other")
    world.crm_meeting("hb-1", "Long round")
    seen = {}

    def during():
        first = binding(world)
        time.sleep(5.0)
        seen["other"] = other.run_binding(world.binding_id)
        seen["rows"] = (first, binding(world))

    worker.backend_for = lambda row: Paused(world.backend_for(row), during)
    report = worker.run_binding(world.binding_id)
    assert report is not None and report.pushed == 1
    assert seen["other"] is None  # kept out, though the lease is 5 times shorter
    first, later = seen["rows"]
    assert later.lease_owner == "w" and later.lease_beat > first.lease_beat + 1
    assert later.lease_until > time.time() - 0.5
    assert binding(world).lease_owner is None  # released after the round


def test_a_lost_lease_stops_the_round_before_its_next_remote_write(world):
    """Frozen past its lease, the worker finds another holder: it writes nothing more."""
    worker = scheduler(world, "w", heartbeat_seconds=0.1, lease_seconds=0.3)
    world.crm_meeting("lost-1", "Not pushed by the loser")

    def during():
        def take_over(tx):
            binding_store.release_lease(tx, world.binding_id, "w")
            binding_store.take_lease(tx, world.binding_id, "thief", 60)

        world.store.write(take_over)
        time.sleep(0.5)  # the next heartbeats find the lease gone

    worker.backend_for = lambda row: Paused(world.backend_for(row), during)
    with pytest.raises(LeaseLost):
        worker.run_binding(world.binding_id)
    assert world.events() == []  # the push never happened
    row = binding(world)
    assert row.lease_owner == "thief"  # not released by the loser
    assert row.failures == 0 and row.last_error is None  # not the binding's failure


def test_a_dead_holder_on_this_host_is_taken_over_at_once(world):
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    dead = dataclasses.replace(this_process("dead"), pid=process.pid)
    world.store.write(lambda tx: binding_store.take_lease(tx, world.binding_id, dead, 600))
    worker = scheduler(world, "w")
    results = worker.run_due()  # due, though its lease runs for ten more minutes
    assert world.binding_id in results and results[world.binding_id] is not None
    assert binding(world).lease_owner is None


def test_a_live_holder_on_this_host_keeps_its_lease(world):
    alive = this_process("alive")  # this very process: it runs
    world.store.write(lambda tx: binding_store.take_lease(tx, world.binding_id, alive, 600))
    worker = scheduler(world, "w")
    assert worker.run_due() == {}
    assert worker.run_binding(world.binding_id) is None
    assert binding(world).lease_owner == "alive"


def _configured(world, tmp_path, **rules):
    """A parsed configuration for alice's binding (the world's backend settings)."""
    from bridge.config import parse_config
    from bridge.store import binding_secrets

    backend = binding_secrets.open_settings(binding(world), world.keyring)
    user = {"login": "alice", "email": "alice@example.com"}
    kind = binding(world).kind
    user["bindings"] = [{"name": kind, "kind": kind, "backend": backend, "rules": rules}]
    data = {"server": {"auth": "none"}, "users": [user]}
    return parse_config(data, file="bridge.toml", base_dir=tmp_path)


def _adopt(world, settings) -> None:
    b = settings.users[0].bindings[0]
    record = binding_store.BindingRecord("alice", b.name, b.kind, b.backend, b.rules.to_mapping())
    world.store.write(lambda tx: binding_store.sync(tx, [record], world.keyring))


def test_a_scheduler_with_another_configuration_leaves_the_binding_alone(world, tmp_path):
    from bridge.sync.adopted import BindingRefused, ConfiguredRules

    adopted = _configured(world, tmp_path, conflict_policy="newest")
    other = _configured(world, tmp_path, conflict_policy="crm-wins")
    _adopt(world, adopted)
    world.crm_meeting("refused-1")
    before = binding(world)
    refusing = Scheduler(world.store, world.backend_for, ConfiguredRules(other, world.keyring))
    result = refusing.run_due()[world.binding_id]
    assert isinstance(result, BindingRefused)
    assert "rules.conflict_policy: stored 'newest', this configuration 'crm-wins'" in str(result)
    after = binding(world)
    for column in ("lease_owner", "next_run_at", "failures", "last_error", "last_success_at"):
        assert getattr(after, column) == getattr(before, column), column
    assert world.events() == []

    agreeing = Scheduler(world.store, world.backend_for, ConfiguredRules(adopted, world.keyring))
    assert agreeing.run_due()[world.binding_id].pushed == 1


def test_a_retired_binding_is_never_due(world, tmp_path):
    world.store.write(lambda tx: binding_store.sync(tx, [], world.keyring))  # gone from config
    assert binding(world).retired_at is not None
    assert world.store.read(lambda c: binding_store.due(c, time.time() + 10**6)) == []
    assert not world.store.write(
        lambda tx: binding_store.take_lease(tx, world.binding_id, "one", 60)
    )


def test_a_refused_event_does_not_back_off_the_binding_but_a_server_error_does(world, driver):
    """The scheduler's side of plan_faults: a 400 for one event quarantines it and the
    round succeeds; 503s (retries spent) fail the round and back the binding off."""
    worker = scheduler(world, "w", poll_seconds=10)
    world.crm_meeting("bad", "Bad")  # created first: it meets the 400
    world.crm_meeting("good", "Good")
    driver.fail_next("create", 400)
    results = worker.run_due()
    assert results[world.binding_id].quarantined == 1
    row = binding(world)
    assert row.failures == 0 and row.last_error is None and row.last_success_at
    assert world.subjects() == ["Good"]

    world.crm_meeting("good", "Good, moved")
    driver.fail_next("update", 503, count=20)
    results = worker.run_due()
    assert isinstance(results[world.binding_id], Exception)
    row = binding(world)
    assert row.failures == 1 and "503" in row.last_error
    assert row.next_run_at > time.time() + 5  # the whole binding backs off
    assert len(world.quarantine()) == 1  # the server error quarantined nothing
