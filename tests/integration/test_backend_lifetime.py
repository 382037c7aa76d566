"""The scheduler keeps one backend per binding across rounds, against the Google emulator,
on SQLite and MariaDB: the same object serves every round (its token and connections
kept, so an idle round is one request), a changed secret or a refused binding gets its
backend closed, and close() closes every kept backend once."""

from __future__ import annotations

import pytest

from bridge.store import binding_secrets
from bridge.sync.adopted import BindingRefused
from bridge.sync.scheduler import Scheduler, Timing
from tests.support.sync_world import make_world


@pytest.fixture
def world(db_url, google_emulator):
    w = make_world(db_url, google_emulator)
    yield w
    w.store.dispose()


class Counted:
    """The real backend; counts its close() calls."""

    def __init__(self, backend):
        self.backend, self.closed = backend, 0

    def __getattr__(self, name):
        return getattr(self.backend, name)

    def close(self):
        self.closed += 1
        self.backend.close()


class Maker:
    """world.backend_for, remembering every backend it made."""

    def __init__(self, world):
        self.world, self.made = world, []

    def __call__(self, row):
        backend = Counted(self.world.backend_for(row))
        self.made.append(backend)
        return backend


def _scheduler(world, maker, rules=None) -> Scheduler:
    return Scheduler(world.store, maker, rules or (lambda row: world.rules), timing=Timing())


def test_rounds_share_one_backend_and_close_closes_it_once(world):
    maker = Maker(world)
    worker = _scheduler(world, maker)
    world.crm_meeting("keep-1", "First")
    assert worker.run_binding(world.binding_id).pushed == 1
    world.crm_meeting("keep-2", "Second")
    assert worker.run_binding(world.binding_id).pushed == 1
    assert len(maker.made) == 1  # made once, kept across rounds
    assert maker.made[0].closed == 0
    worker.close()
    worker.close()
    assert maker.made[0].closed == 1


def test_an_idle_round_is_one_request(world):
    worker = _scheduler(world, Maker(world))
    worker.run_binding(world.binding_id)  # the first round gets the token and a cursor
    world.google.reset_counters()
    report = worker.run_binding(world.binding_id)
    assert (report.pulled, report.pushed) == (0, 0)
    assert sum(world.google.requests.values()) == 1  # one events.list
    assert world.google.calls["oauth.token"] == 0  # the kept backend's token still serves
    worker.close()


def test_a_changed_secret_replaces_the_backend(world):
    maker = Maker(world)
    worker = _scheduler(world, maker)
    worker.run_binding(world.binding_id)
    secret = world.secret()
    world.store.write(
        lambda tx: binding_secrets.set_secret(tx, world.binding_id, secret, world.keyring)
    )
    worker.run_binding(world.binding_id)
    assert len(maker.made) == 2
    assert [b.closed for b in maker.made] == [1, 0]  # the old one closed when replaced
    worker.close()
    assert [b.closed for b in maker.made] == [1, 1]


def test_a_refused_binding_has_its_backend_closed(world):
    maker = Maker(world)
    refused = {"now": False}

    def rules(row):
        if refused["now"]:
            raise BindingRefused("binding alice/google is not in the configuration (retired)")
        return world.rules

    worker = _scheduler(world, maker, rules)
    worker.run_binding(world.binding_id)
    refused["now"] = True
    with pytest.raises(BindingRefused):
        worker.run_binding(world.binding_id)
    assert maker.made[0].closed == 1
    worker.close()
    assert maker.made[0].closed == 1  # not twice
