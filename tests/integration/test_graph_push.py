"""Graph change notifications end to end: the bridge's webhook app answers the emulator's
validation handshake, a subscription per mailbox is opened, renewed in place and deleted;
a change in Outlook and the lifecycle notifications make the binding due; a notification
with the wrong clientState changes nothing. SQLite and MariaDB."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from bridge.api.runner import start_in_thread
from bridge.api.webhooks import RENEWALS, webhook_app
from bridge.store import bindings as binding_store
from bridge.store import channels as channel_store
from bridge.store.schema import bindings
from bridge.sync.channels import keep_channels, renew_channels, stop_all
from tests.contract.drivers.graph import GraphDriver
from tests.emulators.graph import GraphEmulator
from tests.support.sync_world import make_driver_world

FAR = 4_000_000_000.0


@pytest.fixture
def setup(db_url: str, tmp_path: Path) -> Iterator[tuple]:
    with GraphEmulator() as graph:
        driver = GraphDriver(graph, tmp_path)
        world = make_driver_world(db_url, driver)
        binding_id = world.store.read(lambda c: binding_store.by_login(c, "alice", "graph"))[0].id
        app = webhook_app(world.store, coalesce_seconds=0)
        _, url, stop = start_in_thread(app, "127.0.0.1", 0)
        try:
            yield graph, driver, world, binding_id, url, app
        finally:
            stop()
            world.store.dispose()


def _postpone(world, binding_id: int) -> None:
    world.store.write(
        lambda tx: tx.conn.execute(
            update(bindings).where(bindings.c.id == binding_id).values(next_run_at=FAR)
        )
    )


def _due(world, binding_id: int, timeout: float = 5.0) -> bool:
    until = time.time() + timeout
    while time.time() < until:
        row = world.store.read(lambda c: binding_store.get(c, binding_id))
        if row.next_run_at <= time.time():
            return True
        time.sleep(0.05)
    return False


def test_subscription_lifecycle(setup) -> None:
    graph, driver, world, binding_id, url, _ = setup
    assert renew_channels(world.store, world.backend_for, url) == 1
    validations = graph.wait_for_deliveries(1, "validation")
    assert validations and all(v.status == 200 for v in validations)  # handshakes echoed
    row = world.store.read(lambda c: channel_store.for_binding(c, binding_id))
    # Graph's id, at most 10,080 minutes
    assert row.expiration <= time.time() + 10_080 * 60

    _postpone(world, binding_id)
    start = datetime.now(UTC) + timedelta(days=1)
    driver.seed(subject="Made in Outlook", start=start, end=start + timedelta(hours=1))
    delivered = graph.wait_for_deliveries(1, "notification")
    assert delivered and delivered[0].status == 200
    assert _due(world, binding_id)

    _postpone(world, binding_id)
    graph.lifecycle(row.channel_id, "missed")
    assert _due(world, binding_id)

    # Renewal before expiry is a PATCH of the same subscription.
    assert renew_channels(world.store, world.backend_for, url, renew_before=11 * 24 * 3600) == 1
    renewed = world.store.read(lambda c: channel_store.for_binding(c, binding_id))
    assert renewed.channel_id == row.channel_id and renewed.expiration >= row.expiration
    assert any(c.method == "PATCH" and "/subscriptions/" in c.path for c in graph.calls)

    assert stop_all(world.store, world.backend_for) == 1
    assert any(c.method == "DELETE" and "/subscriptions/" in c.path for c in graph.calls)


def test_a_notification_with_the_wrong_client_state_is_refused(setup) -> None:
    import json
    import urllib.error
    import urllib.request

    graph, _, world, binding_id, url, _ = setup
    renew_channels(world.store, world.backend_for, url)
    row = world.store.read(lambda c: channel_store.for_binding(c, binding_id))
    _postpone(world, binding_id)
    body = {"value": [{"subscriptionId": row.channel_id, "clientState": "guess"}]}
    request = urllib.request.Request(
        url + "/webhooks/graph", data=json.dumps(body).encode(), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 403
    assert not _due(world, binding_id, timeout=0.3)


def _delta_calls(graph) -> list[str]:
    return [c.path for c in graph.calls if "calendarView/delta" in c.path]


def test_missed_notifications_force_a_full_relist(setup) -> None:
    """``missed`` drops the cursor in the webhook (any kind: PushNotice.resync): the next
    round lists from no cursor, not the deltaLink it had."""
    graph, driver, world, binding_id, url, _ = setup
    world.round()
    cursor = world.binding().remote_cursor
    assert cursor  # a deltaLink
    renew_channels(world.store, world.backend_for, url)
    row = world.store.read(lambda c: channel_store.for_binding(c, binding_id))
    world.round()  # the round the open asked for: a delta from the cursor
    assert "deltatoken" in _delta_calls(graph)[-1].lower()
    _postpone(world, binding_id)

    graph.lifecycle(row.channel_id, "missed")
    assert _due(world, binding_id)
    assert world.binding().remote_cursor is None
    before = len(_delta_calls(graph))
    world.round()
    listed = _delta_calls(graph)[before:]
    assert listed and "deltatoken" not in listed[0].lower() and "skiptoken" not in listed[0].lower()
    assert world.binding().remote_cursor  # a new baseline


def test_a_round_running_during_missed_keeps_the_resync(setup) -> None:
    """The cursor a round ends with is not stored over a resync asked meanwhile."""
    graph, driver, world, binding_id, url, _ = setup
    world.round()
    first = world.binding().remote_cursor
    renew_channels(world.store, world.backend_for, url)
    row = world.store.read(lambda c: channel_store.for_binding(c, binding_id))
    backend = world.backend()
    pages = backend.list_changes(first, world.rules.window(datetime.now(UTC)))
    next(iter(pages), None)  # a round is listing ...
    _postpone(world, binding_id)
    graph.lifecycle(row.channel_id, "missed")  # ... when Graph says it lost notices
    assert _due(world, binding_id)
    assert not world.store.write(
        lambda tx: binding_store.advance_remote_cursor(tx, binding_id, "later", was=first)
    )
    assert world.binding().remote_cursor is None
    backend.close()


def test_reauthorization_required_renews_at_once(setup) -> None:
    """The channel keeper renews on the notice, long before its usual time."""
    import threading

    graph, driver, world, binding_id, url, app = setup
    assert renew_channels(world.store, world.backend_for, url) == 1
    row = world.store.read(lambda c: channel_store.for_binding(c, binding_id))
    stop = threading.Event()
    keeper = threading.Thread(
        target=keep_channels,
        args=(world.store, world.backend_for, url, stop),
        kwargs={"interval": 3600, "requests": app[RENEWALS]},
        daemon=True,
    )
    keeper.start()
    try:
        time.sleep(0.3)  # its first pass: nothing is near expiry
        patches = lambda: [  # noqa: E731
            c for c in graph.calls if c.method == "PATCH" and "/subscriptions/" in c.path
        ]
        assert patches() == []
        _postpone(world, binding_id)
        graph.lifecycle(row.channel_id, "reauthorizationRequired")
        until = time.time() + 5
        while not patches() and time.time() < until:
            time.sleep(0.05)
        assert patches(), "the subscription was not renewed on reauthorizationRequired"
        assert patches()[0].status == 200
        assert not _due(world, binding_id, timeout=0.2)  # renewal alone, no round
    finally:
        stop.set()
        keeper.join(timeout=5)


def test_subscription_removed_opens_a_new_one_at_once(setup) -> None:
    import threading

    graph, driver, world, binding_id, url, app = setup
    assert renew_channels(world.store, world.backend_for, url) == 1
    row = world.store.read(lambda c: channel_store.for_binding(c, binding_id))
    stop = threading.Event()
    keeper = threading.Thread(
        target=keep_channels,
        args=(world.store, world.backend_for, url, stop),
        kwargs={"interval": 3600, "requests": app[RENEWALS]},
        daemon=True,
    )
    keeper.start()
    try:
        graph.lifecycle(row.channel_id, "subscriptionRemoved")
        until = time.time() + 5
        new = row
        # the new channel's row is written before Graph confirms it (resource id empty)
        while (new.channel_id == row.channel_id or not new.resource_id) and time.time() < until:
            time.sleep(0.05)
            new = world.store.read(lambda c: channel_store.for_binding(c, binding_id))
        assert new.channel_id != row.channel_id and new.resource_id
    finally:
        stop.set()
        keeper.join(timeout=5)
