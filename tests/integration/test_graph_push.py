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
from bridge.api.webhooks import webhook_app
from bridge.store import bindings as binding_store
from bridge.store import channels as channel_store
from bridge.store.schema import bindings
from bridge.sync.channels import renew_channels, stop_all
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
        _, url, stop = start_in_thread(webhook_app(world.store, coalesce_seconds=0), "127.0.0.1", 0)
        try:
            yield graph, driver, world, binding_id, url
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
    graph, driver, world, binding_id, url = setup
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

    for event in ("reauthorizationRequired", "missed"):
        _postpone(world, binding_id)
        graph.lifecycle(row.channel_id, event)
        assert _due(world, binding_id), event

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

    graph, _, world, binding_id, url = setup
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
