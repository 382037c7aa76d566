"""The Graph emulator's change notifications: validation, delivery, renewal, lifecycle."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.emulators.graph import GraphEmulator
from tests.emulators.graph.fixtures import (  # noqa: F401 - fixtures
    ALICE,
    BOB,
    Client,
    client_fixture,
    event_json,
    graph_fixture,
)


class Receiver:
    """A webhook endpoint: echoes validation tokens (unless told not to), keeps notifications."""

    def __init__(self) -> None:
        self.echo = True
        self.received: list[tuple[str, dict]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                query = parse_qs(urlsplit(self.path).query)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if "validationToken" in query:
                    token = query["validationToken"][0] if receiver.echo else "wrong"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.end_headers()
                    self.wfile.write(token.encode())
                    return
                receiver.received.append((urlsplit(self.path).path, json.loads(raw)))
                self.send_response(202)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def expiry(minutes: int) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def subscribe(client: Client, receiver: Receiver, **extra: object) -> dict:
    body = {
        "changeType": "created,updated,deleted",
        "notificationUrl": f"{receiver.url}/hook",
        "lifecycleNotificationUrl": f"{receiver.url}/life",
        "resource": f"users/{ALICE}/events",
        "expirationDateTime": expiry(60),
        "clientState": "s3cret-state",
        **extra,
    }
    return client("POST", "/subscriptions", body).body


def test_subscription_validation_and_notifications(
    graph: GraphEmulator, client: Client, receiver: Receiver
) -> None:
    sub = subscribe(client, receiver)
    assert sub["clientState"] == "s3cret-state" and sub["id"]
    validations = [d for d in graph.deliveries if d.kind == "validation"]
    assert len(validations) == 2  # notification URL and lifecycle URL
    made = client("POST", f"/users/{ALICE}/events", event_json())
    graph.mailbox(ALICE).update(made["id"], subject="in Outlook")
    client("POST", f"/users/{BOB}/events", event_json())  # another mailbox: not notified
    client("DELETE", f"/users/{ALICE}/events/{made['id']}")
    delivered = graph.wait_for_deliveries(3)
    assert [d.status for d in delivered] == [202, 202, 202]
    items = [d.payload["value"][0] for d in delivered]
    # Graph promises no order between notifications
    assert sorted(i["changeType"] for i in items) == ["created", "deleted", "updated"]
    assert {i["clientState"] for i in items} == {"s3cret-state"}
    assert {i["subscriptionId"] for i in items} == {sub["id"]}
    assert {i["resourceData"]["id"] for i in items} == {made["id"]}  # IdType=ImmutableId
    assert all(i["resource"].startswith("Users/") for i in items)


def test_validation_failure_and_limits(client: Client, receiver: Receiver) -> None:
    receiver.echo = False
    refused = client(
        "POST",
        "/subscriptions",
        {
            "changeType": "created",
            "notificationUrl": f"{receiver.url}/hook",
            "resource": f"users/{ALICE}/events",
            "expirationDateTime": expiry(60),
        },
    )
    assert refused.status == 400 and refused["error"]["code"] == "ValidationError"
    receiver.echo = True
    too_long = client(
        "POST",
        "/subscriptions",
        {
            "changeType": "created",
            "notificationUrl": f"{receiver.url}/hook",
            "resource": f"users/{ALICE}/events",
            "expirationDateTime": expiry(10081),
        },
    )
    assert too_long.status == 400
    nowhere = client(
        "POST",
        "/subscriptions",
        {
            "changeType": "created",
            "notificationUrl": "http://127.0.0.1:9/closed",
            "resource": f"users/{ALICE}/events",
            "expirationDateTime": expiry(60),
        },
    )
    assert nowhere.status == 400


def test_renew_delete_and_lifecycle(
    graph: GraphEmulator, client: Client, receiver: Receiver
) -> None:
    sub = subscribe(client, receiver)
    renewed = client("PATCH", f"/subscriptions/{sub['id']}", {"expirationDateTime": expiry(10080)})
    assert renewed.status == 200 and renewed["expirationDateTime"] != sub["expirationDateTime"]
    too_far = {"expirationDateTime": expiry(20000)}
    assert client("PATCH", f"/subscriptions/{sub['id']}", too_far).status == 400
    graph.lifecycle(sub["id"], "reauthorizationRequired")
    graph.lifecycle(sub["id"], "missed")
    life = graph.wait_for_deliveries(2, "lifecycle")
    events = sorted(d.payload["value"][0]["lifecycleEvent"] for d in life)
    assert events == ["missed", "reauthorizationRequired"]
    assert all(d.url.endswith("/life") for d in life)
    assert client("POST", f"/subscriptions/{sub['id']}/reauthorize").status == 204
    graph.lifecycle(sub["id"], "subscriptionRemoved")
    graph.wait_for_deliveries(3, "lifecycle")
    assert client("GET", f"/subscriptions/{sub['id']}").status == 404
    other = subscribe(client, receiver)
    assert client("DELETE", f"/subscriptions/{other['id']}").status == 204
    client("POST", f"/users/{ALICE}/events", event_json())
    assert graph.wait_for_deliveries(1, timeout=0.5) == []


def test_an_expired_subscription_is_gone(
    graph: GraphEmulator, client: Client, receiver: Receiver
) -> None:
    sub = subscribe(client, receiver)
    assert [s["id"] for s in client("GET", "/subscriptions")["value"]] == [sub["id"]]
    graph.subscriptions.subs[sub["id"]].expires = datetime.now(UTC) - timedelta(seconds=1)
    client("POST", f"/users/{ALICE}/events", event_json())
    assert graph.wait_for_deliveries(1, timeout=0.5) == []
    assert client("GET", "/subscriptions")["value"] == []
    renew = client("PATCH", f"/subscriptions/{sub['id']}", {"expirationDateTime": expiry(60)})
    assert renew.status == 404
