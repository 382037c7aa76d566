"""The push lifecycle (bridge.backends.base.PushNotice ``resync`` and ``renew``) on every
kind, through the real webhook app (/webhooks/{kind}) and channel keeping
(bridge.sync.channels) against each kind's emulator.

Where the service sends a lifecycle notice (Graph: ``missed``, ``reauthorizationRequired``)
the driver provokes it and the case checks what the bridge does with it. Where the service
has no such notice (Google, Exchange; CalDAV has no push at all) the case checks the
service's documented equivalent instead: lost notifications show as a change cursor the
service no longer takes (Google's 410 sync token, EWS's refused SyncState, a CalDAV
sync-token refused), and a subscription needing renewal as one nearing its expiry.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bridge.api.runner import start_in_thread
from bridge.api.webhooks import webhook_app
from bridge.store import bindings as binding_store
from bridge.store import channels as channel_store
from bridge.sync.channels import offers_push, renew_channels
from tests.contract.world import ContractWorld

HOUR = 3600


@pytest.fixture
def pushing(contract_world: ContractWorld) -> Iterator[tuple[ContractWorld, str]]:
    """The world and the base URL of a running webhook app on its store."""
    app = webhook_app(contract_world.store, coalesce_seconds=0)
    _, url, stop = start_in_thread(app, "127.0.0.1", 0)
    try:
        yield contract_world, url
    finally:
        stop()


def _channel(world: ContractWorld):
    return world.store.read(lambda c: channel_store.for_binding(c, world.binding_id))


def _binding(world: ContractWorld):
    return world.store.read(lambda c: binding_store.get(c, world.binding_id))


def _open(world: ContractWorld, url: str):
    """The binding's channel, opened (12 h); None for a kind without push, after checking
    that its backend offers none."""
    if not offers_push(world.driver.kind):
        backend = world.driver.make_backend()
        try:
            assert backend.push() is None
        finally:
            backend.close()
        return None
    assert renew_channels(world.store, world.backend_for, url, ttl_seconds=12 * HOUR) == 1
    channel = _channel(world)
    assert channel is not None and channel.resource_id
    return channel


def _until(check, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_lost_notifications_make_the_next_round_list_everything(pushing) -> None:
    world, url = pushing
    channel = _open(world, url)
    start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    world.driver.seed(subject="Before", start=start, end=start + timedelta(hours=1))
    world.round()
    assert world.meeting_count() == 1 and _binding(world).remote_cursor
    # a change whose notification is lost, then the service says so (or its equivalent)
    world.driver.seed(subject="Lost", start=start, end=start + timedelta(hours=2))
    if channel is not None and world.driver.lifecycle_notice(channel.channel_id, "missed"):
        assert _until(lambda: _binding(world).remote_cursor is None), "the cursor was kept"
        assert _binding(world).next_run_at <= time.time()  # and the binding is due
    else:
        world.driver.expire_cursor()
    writes = world.driver.write_count()
    report = world.round()
    assert not report.errors and world.quarantine() == []
    assert world.meeting_count() == 2 and world.link_count() == 2  # none twice
    assert {world.meeting_count(), len(world.events())} == {2}
    assert _binding(world).remote_cursor  # a new cursor from the full listing
    assert world.driver.write_count() - writes <= 1  # "Lost"'s tag at most; nothing rewritten
    idle = world.driver.request_count()
    world.round()
    assert world.meeting_count() == 2 and world.driver.request_count() - idle <= 2


def test_a_subscription_to_renew_now_is_renewed_before_its_time(pushing) -> None:
    world, url = pushing
    channel = _open(world, url)
    if channel is None:
        return  # _open checked the kind offers no push: no subscription to renew
    # Not due by its expiry (12 h ahead, renewed 1 h before): nothing to renew yet.
    assert renew_channels(world.store, world.backend_for, url, ttl_seconds=24 * HOUR) == 0
    if world.driver.lifecycle_notice(channel.channel_id, "renew"):
        assert _until(lambda: world.store.read(channel_store.renew_asked) == [world.binding_id])
        asked = set(world.store.write(channel_store.take_renew_requests))
        assert asked == {world.binding_id}
        renewed = renew_channels(
            world.store, world.backend_for, url, ttl_seconds=24 * HOUR, now_for=asked
        )
    else:  # the equivalent: the subscription nears its expiry
        renewed = renew_channels(
            world.store, world.backend_for, url, ttl_seconds=24 * HOUR, renew_before=13 * HOUR
        )
    assert renewed == 1
    after = _channel(world)
    assert after.resource_id
    assert after.channel_id != channel.channel_id or after.expiration > channel.expiration + HOUR
    assert world.store.read(channel_store.renew_asked) == []
