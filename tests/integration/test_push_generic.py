"""Push is generic: a kind registered by this test, whose service chooses the subscription
ids and whose notifications are JSON bodies (the shape of Graph's change notifications),
goes through the same channel keeping (bridge.sync.channels) and the same webhook
(/webhooks/{kind}) as Google, on SQLite and MariaDB. The fake service stands in for a
remote this machine cannot reach; everything of ours is real."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from bridge.api.runner import start_in_thread
from bridge.api.webhooks import webhook_app
from bridge.backends import kinds
from bridge.backends.base import BaseBackend, NotFound, PushNotice, PushReply, Subscription
from bridge.backends.kinds import BackendKind, BindingSpec
from bridge.backends.settings_schema import KindSchema, Setting
from bridge.secret_box import token_matches
from bridge.store import bindings as binding_store
from bridge.store import channels as channel_store
from bridge.store.schema import bindings
from bridge.sync.channels import renew_channels, stop_all
from bridge.wiring import BackendMaker
from tests.support.sync_world import make_world

KIND = "fakepush"
FAR = 4_000_000_000.0  # a next_run_at long after the test


class FakeService:
    """The remote: subscriptions by the id it chose, each with the clientState it echoes."""

    max_lifetime = timedelta(hours=1)

    def __init__(self) -> None:
        self.subscriptions: dict[str, dict] = {}
        self.renewals = 0

    def open(self, address: str, channel_id: str, token: str, lifetime: timedelta):
        chosen = "srv-" + uuid.uuid4().hex  # the service's id, not ours
        expires = datetime.now(UTC) + min(lifetime, self.max_lifetime)
        self.subscriptions[chosen] = {"address": address, "token": token, "stopped": False}
        return Subscription(chosen, expires)

    def renew(self, subscription: Subscription, lifetime: timedelta):
        self.renewals += 1
        return Subscription(subscription.id, datetime.now(UTC) + lifetime)

    def stop(self, subscription: Subscription) -> None:
        found = self.subscriptions.get(subscription.id)
        if found is None or found["stopped"]:
            raise NotFound(subscription.id)
        found["stopped"] = True


class FakeBackend(BaseBackend):
    kind = KIND

    def __init__(self, service: FakeService) -> None:
        self.service = service

    def push(self):
        return self.service


class JsonReceiver:
    """{"value": [{"subscriptionId", "clientState", "changeType"}]}; ?validationToken= is
    the handshake, echoed as text. No resource id: the subscription id stands for it."""

    def read(self, headers, query, body):
        if "validationToken" in query:
            return PushReply(200, query["validationToken"])
        try:
            items = json.loads(body)["value"]
        except (ValueError, KeyError, TypeError):
            raise ValueError("not a notification body") from None
        return [
            PushNotice(
                channel_id=item.get("subscriptionId", ""),
                token=item.get("clientState", ""),
                resource_id=item.get("subscriptionId", ""),
                changed=item.get("changeType") != "deleted-subscription",
            )
            for item in items
        ]

    def acknowledge(self, status):
        return None  # the plain status


@pytest.fixture
def service():
    fake = FakeService()
    saved = dict(kinds._KINDS)
    kinds.register(
        BackendKind(
            KindSchema(KIND, {"tenant": Setting(str)}),
            make=lambda spec: _made(spec, fake),
            receiver=JsonReceiver(),
        )
    )
    yield fake
    kinds._KINDS.clear()
    kinds._KINDS.update(saved)


def _made(spec: BindingSpec, fake: FakeService) -> FakeBackend:
    assert spec.kind == KIND and spec.settings == {"tenant": "t-1"}
    return FakeBackend(fake)


@pytest.fixture
def world(db_url, google_emulator, service):
    w = make_world(db_url, google_emulator)
    record = binding_store.BindingRecord("bob", "work", KIND, {"tenant": "t-1"})
    w.store.write(lambda tx: binding_store.sync(tx, [record], w.keyring, adopt=False))
    w.fake_id = w.store.read(lambda c: binding_store.by_login(c, "bob", "work"))[0].id
    yield w
    w.store.dispose()


@pytest.fixture
def hook(world):
    _, url, stop = start_in_thread(webhook_app(world.store, coalesce_seconds=0), "127.0.0.1", 0)
    yield url
    stop()


#: A webhook's refusal: the REST API's JSON error (bridge.api.webhooks).
REFUSED = '{"error": {"status": %d, "message": "%s"}}'


def _post(url: str, body: object, query: str = "") -> tuple[int, str]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url + query, data=data, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _channel(world):
    return world.store.read(lambda c: channel_store.for_binding(c, world.fake_id))


def _postpone(world) -> None:
    """The binding is not due (as after a successful round)."""
    world.store.write(
        lambda tx: tx.conn.execute(
            update(bindings).where(bindings.c.id == world.fake_id).values(next_run_at=FAR)
        )
    )


def _next_run(world) -> float:
    return world.store.read(lambda c: binding_store.get(c, world.fake_id)).next_run_at


def test_a_server_chosen_subscription_is_opened_and_its_notices_make_the_binding_due(
    world, hook, service
):
    world.google.faults.error(400, "badRequest", times=1, api="events.watch")  # google: none
    assert renew_channels(world.store, BackendMaker(world.keyring), hook) == 1
    row = _channel(world)
    assert row.channel_id.startswith("srv-")  # stored under the id the service chose
    sub = service.subscriptions[row.channel_id]
    assert sub["address"] == hook + "/webhooks/" + KIND
    assert token_matches(sub["token"], row.token_hash)
    # min(configured 86400 s, the kind's max_lifetime of one hour)
    assert time.time() + 3500 < row.expiration < time.time() + 3700

    _postpone(world)
    notice = {
        "subscriptionId": row.channel_id,
        "clientState": sub["token"],
        "changeType": "updated",
    }
    assert _post(hook + "/webhooks/" + KIND, {"value": [notice, notice]}) == (200, "")
    assert _next_run(world) <= time.time()  # due at once (coalesce 0)


def test_wrong_token_unknown_channel_and_unknown_kind_are_refused(world, hook, service):
    assert renew_channels(world.store, BackendMaker(world.keyring), hook) >= 1
    row = _channel(world)
    _postpone(world)
    url = hook + "/webhooks/" + KIND
    wrong = {"subscriptionId": row.channel_id, "clientState": "guess", "changeType": "updated"}
    assert _post(url, {"value": [wrong]}) == (403, REFUSED % (403, "wrong channel token"))
    unknown = {"subscriptionId": "srv-nope", "clientState": "x"}
    assert _post(url, {"value": [unknown]})[0] == 404
    assert _post(url, b"not json")[0] == 400
    assert _post(hook + "/webhooks/nosuchkind", {"value": []})[0] == 404
    # A notice of this kind cannot name a Google channel, nor the other way round.
    sub = service.subscriptions[row.channel_id]
    genuine = {"subscriptionId": row.channel_id, "clientState": sub["token"]}
    assert _post(hook + "/webhooks/google", {"value": [genuine]})[0] == 400  # no X-Goog-*
    assert _next_run(world) == FAR


def test_the_validation_handshake_is_answered(world, hook):
    assert _post(hook + "/webhooks/" + KIND, b"", "?validationToken=abc%20123") == (200, "abc 123")


def test_renewal_extends_in_place_and_stop_all_stops(world, hook, service):
    maker = BackendMaker(world.keyring)
    renew_channels(world.store, maker, hook, ttl_seconds=1800)
    first = _channel(world)
    # Within renew_before (3600 s) of its end: renewed in place, same id and token.
    assert renew_channels(world.store, maker, hook, ttl_seconds=1800) >= 1
    again = _channel(world)
    assert service.renewals == 1
    assert (again.channel_id, again.token_hash) == (first.channel_id, first.token_hash)
    assert not service.subscriptions[first.channel_id]["stopped"]
    assert len(service.subscriptions) == 1
    assert stop_all(world.store, maker) >= 1
    assert service.subscriptions[first.channel_id]["stopped"]
    assert _channel(world) is None
