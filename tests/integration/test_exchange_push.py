"""Exchange push: EWS push subscriptions opened at the EWS emulator by the bridge's channel
keeper, its SendNotification POSTs received by the real webhook app on a free port and
answered with a SendNotificationResult; on SQLite and MariaDB. Nothing of ours is mocked."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlsplit

import caldav
import pytest
from defusedxml.ElementTree import fromstring
from sqlalchemy import update

from bridge.backends.exchange.push import MESSAGES, SOAP, TYPES
from bridge.secret_box import token_matches
from bridge.store import channels as channel_store
from bridge.store.schema import channels
from bridge.sync.channels import renew_channels, stop_all, webhook_path
from bridge.sync.scheduler import Scheduler, Timing
from tests.contract.config import binding_toml, store_secret
from tests.contract.driver import ALICE
from tests.contract.drivers.exchange import open_driver
from tests.support import server as support
from tests.support.http import vevent
from tests.support.push_hook import (  # noqa: F401 - webhook_hook: the fixture hook
    FAR,
    channel_row,
    next_run_at,
    postpone,
    wait_until,
    webhook_hook,
)
from tests.support.sync_world import make_driver_world

PATH = webhook_path("exchange")


@pytest.fixture
def driver(tmp_path):
    with open_driver(tmp_path) as made:
        yield made


@pytest.fixture
def world(db_url, driver):
    w = make_driver_world(db_url, driver)
    yield w
    w.store.dispose()


def _callback(driver, subscription_id: str) -> str:
    with driver.ews.lock:
        return driver.ews.push.subscriptions[subscription_id].url


def _open(world, driver, hook: str, **options):
    assert renew_channels(world.store, world.backend_for, hook, **options) == 1
    row = channel_row(world)
    assert row.resource_id in driver.ews.subscriptions  # the server's SubscriptionId
    return row


def _notification(subscription_id: str, *events: str) -> bytes:
    """A SendNotification body as EWS posts it (MS-OXWSNTIF), with ``events``."""
    parts = "".join(
        f"<t:{e}><t:Watermark>AAAA</t:Watermark>"
        + ("" if e == "StatusEvent" else '<t:ItemId Id="AAMk" ChangeKey="DwAA"/>')
        + f"</t:{e}>"
        for e in events
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP}"'
        f' xmlns:m="{MESSAGES}" xmlns:t="{TYPES}"><soap:Body><m:SendNotification>'
        '<m:ResponseMessages><m:SendNotificationResponseMessage ResponseClass="Success">'
        "<m:ResponseCode>NoError</m:ResponseCode><m:Notification>"
        f"<t:SubscriptionId>{subscription_id}</t:SubscriptionId>"
        "<t:PreviousWatermark>AAAA</t:PreviousWatermark><t:MoreEvents>false</t:MoreEvents>"
        f"{parts}</m:Notification></m:SendNotificationResponseMessage></m:ResponseMessages>"
        "</m:SendNotification></soap:Body></soap:Envelope>"
    ).encode()


def _post(url: str, body: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "text/xml; charset=utf-8"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _status(body: bytes) -> str | None:
    """The SubscriptionStatus of a SendNotificationResult answer."""
    try:
        doc = fromstring(body)
    except Exception:  # noqa: BLE001 - not XML: no status
        return None
    found = doc.find(
        f"{{{SOAP}}}Body/{{{MESSAGES}}}SendNotificationResult/{{{MESSAGES}}}SubscriptionStatus"
    )
    return None if found is None else found.text


def _last_delivery(driver, subscription_id: str):
    deliveries = driver.ews.wait_for_deliveries()
    mine = [d for d in deliveries if d.subscription_id == subscription_id]
    assert mine, deliveries
    return mine[-1]


def test_a_mailbox_change_reaches_the_crm_in_seconds(world, driver, hook):
    """With polling at an hour, an edit in Outlook reaches the CRM meeting by push."""
    world.crm_meeting("push-1", "Review")
    worker = Scheduler(
        world.store, world.backend_for, lambda row: world.rules, timing=Timing(poll_seconds=3600)
    )
    assert worker.run_due()[world.binding_id].pushed == 1
    assert next_run_at(world) > time.time() + 3000
    row = _open(world, driver, hook)
    # The callback names our channel and carries its token, of which only a digest is kept.
    callback = _callback(driver, row.resource_id)
    query = parse_qs(urlsplit(callback).query)
    assert callback.startswith(hook + PATH + "?")
    assert query["channel"] == [row.channel_id]
    assert token_matches(query["token"][0], row.token_hash)
    assert query["token"][0] not in row.token_hash
    assert renew_channels(world.store, world.backend_for, hook) == 0  # it lives long enough
    worker.run_due()  # the round opening the channel asks for, to cover the swap's gap
    postpone(world)

    [item] = driver.user.items()
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,), kwargs={"tick_seconds": 0.1})
    thread.start()
    try:
        driver.user.update(item["id"], subject="Review, moved by Alice")
        assert wait_until(lambda: world.meeting("push-1").subject == "Review, moved by Alice")
    finally:
        stop.set()
        thread.join(10)
        worker.close()
    delivery = _last_delivery(driver, row.resource_id)
    assert (delivery.status, delivery.result) == (200, "OK")
    assert "ModifiedEvent" in delivery.events
    assert row.resource_id in driver.ews.subscriptions


def test_a_wrong_token_is_refused_and_changes_nothing(world, driver, hook):
    row = _open(world, driver, hook)
    token = parse_qs(urlsplit(_callback(driver, row.resource_id)).query)["token"][0]
    postpone(world)
    wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
    body = _notification(row.resource_id, "ModifiedEvent")
    status, answer = _post(f"{hook}{PATH}?channel={row.channel_id}&token={wrong}", body)
    assert status == 403 and b"wrong channel token" in answer
    status, answer = _post(f"{hook}{PATH}?channel={row.channel_id}", body)
    assert status == 403
    assert next_run_at(world) == FAR
    assert channel_row(world) == row
    # With the right token but another subscription's id: refused too.
    other = _notification("U1VCb3RoZXI=", "ModifiedEvent")
    status, _ = _post(f"{hook}{PATH}?channel={row.channel_id}&token={token}", other)
    assert status == 403 and next_run_at(world) == FAR
    # The genuine one is accepted and answered OK.
    status, answer = _post(f"{hook}{PATH}?channel={row.channel_id}&token={token}", body)
    assert (status, _status(answer)) == (200, "OK")
    assert next_run_at(world) <= time.time()


def test_a_malformed_body_is_400(world, driver, hook):
    row = _open(world, driver, hook)
    for body in (b"", b"<not xml", b"<a/>", _notification("")):
        status, _ = _post(f"{hook}{PATH}?channel={row.channel_id}&token=x", body)
        assert status == 400, body


def test_a_forgotten_subscription_is_answered_unsubscribe(world, driver, hook):
    """The bridge no longer has the channel (stopped, replaced): EWS is told Unsubscribe
    and ends the subscription; nothing becomes due."""
    row = _open(world, driver, hook)
    world.store.write(lambda tx: channel_store.delete_channel(tx, row.channel_id))
    postpone(world)
    driver.ews.send_status()
    delivery = _last_delivery(driver, row.resource_id)
    assert (delivery.status, delivery.result) == (200, "Unsubscribe")
    assert row.resource_id not in driver.ews.subscriptions
    assert next_run_at(world) == FAR
    # A notification naming no channel of ours (none in the URL) is answered alike.
    status, answer = _post(hook + PATH, _notification("U1VCdW5rbm93bg==", "CreatedEvent"))
    assert (status, _status(answer)) == (200, "Unsubscribe")


def test_an_expired_channel_is_answered_unsubscribe(world, driver, hook):
    row = _open(world, driver, hook)
    world.store.write(
        lambda tx: tx.conn.execute(
            update(channels)
            .where(channels.c.channel_id == row.channel_id)
            .values(expiration=time.time() - 1)
        )
    )
    postpone(world)
    driver.ews.send_status()
    delivery = _last_delivery(driver, row.resource_id)
    assert (delivery.status, delivery.result) == (200, "Unsubscribe")
    assert next_run_at(world) == FAR


def test_status_events_keep_the_channel_and_make_no_round(world, driver, hook):
    row = _open(world, driver, hook)
    postpone(world)
    for _ in range(2):
        driver.ews.send_status()
        delivery = _last_delivery(driver, row.resource_id)
        assert (delivery.events, delivery.status, delivery.result) == (["StatusEvent"], 200, "OK")
    assert next_run_at(world) == FAR
    assert row.resource_id in driver.ews.subscriptions
    assert channel_row(world) == row


def test_a_channel_near_expiry_is_reopened_and_the_old_one_stopped(world, driver, hook):
    old = _open(world, driver, hook, ttl_seconds=600)
    assert old.expiration < time.time() + 601
    # Renewal before expiry: EWS cannot extend, so a new subscription, then the old stopped.
    assert renew_channels(world.store, world.backend_for, hook, renew_before=3600) == 1
    new = channel_row(world)
    assert new.channel_id != old.channel_id and new.resource_id != old.resource_id
    # Unsubscribe is not for push subscriptions (ErrorInvalidSubscription): the old one ends
    # at its next notification, answered Unsubscribe, while the new one is answered OK.
    assert sorted(driver.ews.subscriptions) == sorted([old.resource_id, new.resource_id])
    driver.ews.send_status()
    assert _last_delivery(driver, old.resource_id).result == "Unsubscribe"
    assert _last_delivery(driver, new.resource_id).result == "OK"
    assert driver.ews.subscriptions == [new.resource_id]
    assert new.expiration > time.time() + 86400 - 60  # EWS grants what we ask, up to a day
    # A late notification of the old channel is told to unsubscribe; the new one works.
    token = parse_qs(urlsplit(_callback(driver, new.resource_id)).query)["token"][0]
    body = _notification(old.resource_id, "ModifiedEvent")
    status, answer = _post(f"{hook}{PATH}?channel={old.channel_id}&token={token}", body)
    assert (status, _status(answer)) == (200, "Unsubscribe")
    postpone(world)
    driver.user.create(subject="Dentist", start=_at(10), end=_at(11), start_tz="UTC", end_tz="UTC")
    delivery = _last_delivery(driver, new.resource_id)
    assert (delivery.result, "CreatedEvent" in delivery.events) == ("OK", True)
    assert next_run_at(world) <= time.time()


def test_stop_all_forgets_every_subscription_and_ends_it_at_its_next_notification(
    world, driver, hook
):
    row = _open(world, driver, hook)
    assert stop_all(world.store, world.backend_for) == 1
    assert channel_row(world) is None
    assert ("Unsubscribe", ALICE) in driver.ews.calls  # tried; EWS keeps push ones
    driver.ews.send_status()
    assert _last_delivery(driver, row.resource_id).result == "Unsubscribe"
    assert row.resource_id not in driver.ews.subscriptions


def test_stopping_a_subscription_the_server_lost_is_not_found(world, driver, hook):
    from bridge.backends.base import NotFound, Subscription

    backend = world.backend()
    try:
        with pytest.raises(NotFound, match="ErrorSubscriptionNotFound"):
            backend.push().stop(Subscription("ours", None, "U1VCZ29uZQ=="))
    finally:
        backend.close()


def test_a_failing_subscribe_leaves_polling(world, driver, hook):
    driver.ews.fail_next("Subscribe", code="ErrorInvalidPushSubscriptionUrl")
    assert renew_channels(world.store, world.backend_for, hook) == 0
    assert channel_row(world) is None
    assert driver.ews.subscriptions == []


def _at(hour: int):
    from datetime import UTC, datetime, timedelta

    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day + timedelta(days=1, hours=hour)


def test_serve_takes_an_outlook_edit_to_caldav_by_push(tmp_path, db_url, driver):
    """`bridge serve` with [api] on opens an EWS push subscription; an edit in the mailbox
    reaches the CRM's CalDAV calendar in seconds, not at the 60 s polling interval."""
    api_port = support.free_port()
    port = support.free_port()
    config = support.write_config(tmp_path, db_url, port, alice_extra=binding_toml(driver))
    config.write_text(
        config.read_text()
        + f'\n[api]\nenabled = true\nport = {api_port}\npublic_url = "http://127.0.0.1:{api_port}"\n'
    )
    store_secret(config, driver)
    server = support.start(config, port, cwd=tmp_path)
    try:
        client = caldav.DAVClient(url=server.url + "/", username="alice", password="alice")
        [cal] = [c for c in client.principal().calendars() if str(c.url).endswith("/meetings/")]
        cal.add_event(vevent("serve-1", "Before"))
        assert wait_until(lambda: [i["subject"] for i in driver.user.items()] == ["Before"], 20), (
            server.output()[-3000:]
        )
        assert wait_until(lambda: driver.ews.subscriptions != [], 20), server.output()[-3000:]
        [subscription] = driver.ews.subscriptions
        assert _callback(driver, subscription).startswith(f"http://127.0.0.1:{api_port}{PATH}?")
        [item] = driver.user.items()
        began = time.monotonic()
        driver.user.update(item["id"], subject="After (edited in Outlook)")
        assert wait_until(
            lambda: "After (edited in Outlook)" in cal.event_by_uid("serve-1").data, 10
        ), server.output()[-3000:]
        assert time.monotonic() - began < 10
        delivery = _last_delivery(driver, subscription)
        assert delivery.result == "OK"
    finally:
        server.stop()
