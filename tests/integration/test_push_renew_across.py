"""A renewal a notice asks for (Graph's reauthorizationRequired) is stored, so the process
that keeps the channels renews it even when another process took the notice: here the
webhook app of one wiring (its own RenewRequests, no channel keeper) and the channel keeper
of another (its own store connection, backends and RenewRequests), on one database,
against the Graph emulator over HTTP. SQLite and MariaDB."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.api.runner import start_in_thread
from bridge.api.webhooks import webhook_app
from bridge.store import Store
from bridge.store import bindings as binding_store
from bridge.store import channels as channel_store
from bridge.sync.channels import RenewRequests, keep_channels, renew_channels
from bridge.wiring import BackendMaker
from tests.contract.drivers.graph import GraphDriver
from tests.emulators.graph import GraphEmulator
from tests.support.sync_world import make_driver_world


@pytest.fixture
def setup(db_url: str, tmp_path: Path) -> Iterator[tuple]:
    with GraphEmulator() as graph:
        world = make_driver_world(db_url, GraphDriver(graph, tmp_path))
        binding_id = world.store.read(lambda c: binding_store.by_login(c, "alice", "graph"))[0].id
        app = webhook_app(world.store, coalesce_seconds=0)  # the process taking notices
        _, url, stop = start_in_thread(app, "127.0.0.1", 0)
        keeper_store = Store(world.store.url)  # the process keeping the channels
        try:
            yield graph, world, binding_id, url, keeper_store
        finally:
            stop()
            keeper_store.dispose()
            world.store.dispose()


def _patches(graph) -> list:
    return [c for c in graph.calls if c.method == "PATCH" and "/subscriptions/" in c.path]


def _asked(store: Store) -> list[int]:
    return store.read(channel_store.renew_asked)


def test_a_renewal_asked_in_one_process_is_done_by_the_keeper_of_another(setup) -> None:
    graph, world, binding_id, url, keeper_store = setup
    maker = BackendMaker(world.keyring, keeper_store)
    assert renew_channels(keeper_store, maker, url) == 1
    row = world.store.read(lambda c: channel_store.for_binding(c, binding_id))
    stop = threading.Event()
    keeper = threading.Thread(
        target=keep_channels,
        args=(keeper_store, maker, url, stop),
        kwargs={"interval": 3600, "requests": RenewRequests(), "ask_poll": 0.2},
        daemon=True,
    )
    keeper.start()
    try:
        time.sleep(0.5)  # its first pass: nothing is near expiry, nothing asked
        assert _patches(graph) == []
        graph.lifecycle(row.channel_id, "reauthorizationRequired")
        until = time.time() + 10
        while not _patches(graph) and time.time() < until:
            time.sleep(0.05)
        assert _patches(graph), "the other process's keeper did not renew"
        assert [c.status for c in _patches(graph)] == [200]
        assert _asked(world.store) == []  # taken
        time.sleep(0.6)  # a few polls more: renewed once, not again
        assert len(_patches(graph)) == 1
        renewed = world.store.read(lambda c: channel_store.for_binding(c, binding_id))
        assert renewed.channel_id == row.channel_id
    finally:
        stop.set()
        keeper.join(timeout=5)


def test_a_stored_renewal_request_is_taken_by_one_keeper_only(setup) -> None:
    graph, world, binding_id, url, keeper_store = setup
    assert renew_channels(world.store, BackendMaker(world.keyring, world.store), url) == 1
    graph.lifecycle(
        world.store.read(lambda c: channel_store.for_binding(c, binding_id)).channel_id,
        "reauthorizationRequired",
    )
    until = time.time() + 5
    while not _asked(world.store) and time.time() < until:
        time.sleep(0.05)
    assert _asked(keeper_store) == [binding_id]  # stored: seen from the other connection
    first = keeper_store.write(channel_store.take_renew_requests)
    second = world.store.write(channel_store.take_renew_requests)
    assert (first, second) == ([binding_id], [])
    assert _patches(graph) == []  # the process taking the notice renews nothing itself


def test_a_renewal_asked_for_a_binding_without_a_channel_stores_nothing(setup) -> None:
    _graph, world, binding_id, _url, _keeper = setup
    assert not world.store.write(lambda tx: channel_store.ask_renew(tx, binding_id, time.time()))
    assert _asked(world.store) == []
