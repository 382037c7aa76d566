"""Google push: channels opened and renewed at the emulator, its notifications received by
the real webhook app on a free port, on SQLite and MariaDB. Nothing of ours is mocked."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from bridge.api.webhooks import GOOGLE_PATH
from bridge.secret_box import token_matches
from bridge.store.schema import channels
from bridge.sync.channels import renew_channels, stop_all
from tests.support.push_hook import (  # noqa: F401 - webhook_hook: the fixture hook
    FAR,
    channel_row,
    next_run_at,
    postpone,
    wait_until,
    webhook_hook,
)
from tests.support.sync_world import CALENDAR, make_world


@pytest.fixture
def world(db_url, google_emulator):
    w = make_world(db_url, google_emulator)
    yield w
    w.store.dispose()


def _post(url: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=b"", headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def _open(world, hook: str, **options) -> object:
    seen = len(world.google.notifications)
    assert renew_channels(world.store, world.backend_for, hook, **options) == 1
    row = channel_row(world)
    # Google's first message on a new channel is "sync"; it is recognised and answered 200.
    deliveries = world.google.wait_for_notifications(seen + 1)
    assert len(deliveries) == seen + 1
    assert deliveries[-1].channel_id == row.channel_id
    assert (deliveries[-1].state, deliveries[-1].status) == ("sync", 200)
    return row


def _change_in_google(world, summary: str) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    event = world.google.seed(
        CALENDAR,
        {
            "summary": "Lunch",
            "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + timedelta(hours=1)).isoformat()},
        },
    )
    world.google.edit(CALENDAR, event["id"], summary=summary)


def test_a_change_in_google_makes_the_binding_due(world, hook):
    row = _open(world, hook)
    remote = world.google.watches.channels[row.channel_id]
    assert remote.address == hook + GOOGLE_PATH and not remote.stopped
    assert row.resource_id == remote.resource_id
    # Only a digest of the token is stored; Google's copy matches it.
    assert len(remote.token) >= 32 and remote.token not in row.token_hash
    assert token_matches(remote.token, row.token_hash)
    assert abs(row.expiration - remote.expiration.timestamp()) < 1  # a double, not rounded
    assert row.expiration > time.time() + 86400 - 60
    # A channel that lives long enough is left alone.
    assert renew_channels(world.store, world.backend_for, hook) == 0

    postpone(world)
    _change_in_google(world, "Lunch with Bob")
    assert wait_until(lambda: next_run_at(world) < FAR), world.google.notifications
    assert next_run_at(world) <= time.time()  # coalesce_seconds = 0: due at once
    assert any(d.state == "exists" and d.status == 200 for d in world.google.notifications)
    # The round that follows pulls the change in.
    assert world.round().pulled >= 1


def test_a_wrong_token_is_refused_and_changes_nothing(world, hook):
    row = _open(world, hook)
    token = world.google.watches.channels[row.channel_id].token
    postpone(world)
    headers = {
        "X-Goog-Channel-ID": row.channel_id,
        "X-Goog-Channel-Token": token[:-1] + ("A" if token[-1] != "A" else "B"),
        "X-Goog-Resource-State": "exists",
        "X-Goog-Resource-ID": row.resource_id,
        "X-Goog-Message-Number": "2",
    }
    assert _post(hook + GOOGLE_PATH, headers) == 403
    del headers["X-Goog-Channel-Token"]
    assert _post(hook + GOOGLE_PATH, headers) == 403
    assert next_run_at(world) == FAR

    # Google itself, holding a token the bridge no longer knows, is refused too.
    world.store.write(
        lambda tx: tx.conn.execute(
            update(channels).where(channels.c.id == row.id).values(token_hash="sha256:" + "0" * 64)
        )
    )
    seen = len(world.google.notifications)
    _change_in_google(world, "Lunch moved")
    deliveries = world.google.wait_for_notifications(seen + 1)
    assert [d.status for d in deliveries[seen:]] == [403] * len(deliveries[seen:])
    time.sleep(0.2)
    assert next_run_at(world) == FAR


def test_an_unknown_channel_gets_404(world, hook):
    postpone(world)
    headers = {
        "X-Goog-Channel-ID": "no-such-channel",
        "X-Goog-Channel-Token": "whatever",
        "X-Goog-Resource-State": "exists",
    }
    assert _post(hook + GOOGLE_PATH, headers) == 404
    assert _post(hook + GOOGLE_PATH, {}) == 400
    assert next_run_at(world) == FAR


def test_a_channel_near_expiry_is_renewed_and_the_old_one_stopped(world, hook):
    old = _open(world, hook, ttl_seconds=1800)  # expires within the hour: renewed next time
    new = _open(world, hook)
    assert new.channel_id != old.channel_id and new.token_hash != old.token_hash
    assert new.expiration > old.expiration
    assert world.google.watches.channels[old.channel_id].stopped
    assert not world.google.watches.channels[new.channel_id].stopped
    # The old channel is forgotten: a late message on it gets 404; the new one works.
    headers = {
        "X-Goog-Channel-ID": old.channel_id,
        "X-Goog-Channel-Token": world.google.watches.channels[old.channel_id].token,
        "X-Goog-Resource-State": "exists",
    }
    assert _post(hook + GOOGLE_PATH, headers) == 404
    postpone(world)
    _change_in_google(world, "Lunch after renewal")
    assert wait_until(lambda: next_run_at(world) < FAR)
    assert renew_channels(world.store, world.backend_for, hook) == 0


def test_a_failing_watch_leaves_polling_and_the_old_channel(world, hook):
    world.google.faults.error(400, "badRequest", times=1, api="events.watch")
    assert renew_channels(world.store, world.backend_for, hook) == 0
    assert channel_row(world) is None  # nothing half-open left behind

    old = _open(world, hook, ttl_seconds=1800)
    world.google.faults.error(400, "badRequest", times=1, api="events.watch")
    assert renew_channels(world.store, world.backend_for, hook) == 0
    kept = channel_row(world)
    assert (kept.channel_id, kept.token_hash, kept.resource_id) == (
        old.channel_id,
        old.token_hash,
        old.resource_id,
    )
    assert not world.google.watches.channels[old.channel_id].stopped


def test_stop_all_stops_and_forgets_every_channel(world, hook):
    row = _open(world, hook)
    assert stop_all(world.store, world.backend_for) == 1
    assert world.google.watches.channels[row.channel_id].stopped
    assert channel_row(world) is None
    assert stop_all(world.store, world.backend_for) == 0


def test_health_answers(world, hook):
    with urllib.request.urlopen(hook + "/health", timeout=5) as answer:
        assert answer.status == 200
        assert json.loads(answer.read()) == {"status": "ok"}
