"""The Graph webhook's reader: validation handshake, change and lifecycle notifications."""

from __future__ import annotations

import json

import pytest

from bridge.backends.base import PushReply
from bridge.backends.graph.push import GraphReceiver


def test_validation_token_is_echoed_as_text() -> None:
    reply = GraphReceiver().read({}, {"validationToken": "Validation: abc 123"}, b"")
    assert reply == PushReply(200, "Validation: abc 123", "text/plain")


def test_change_notifications_name_the_subscription_and_carry_client_state() -> None:
    body = {
        "value": [
            {
                "subscriptionId": "sub-1",
                "clientState": "secret-token",
                "changeType": "updated",
                "resource": "Users/abc/Events/xyz",
            },
            {"subscriptionId": "sub-1", "clientState": "secret-token", "changeType": "deleted"},
        ]
    }
    notices = GraphReceiver().read({}, {}, json.dumps(body).encode())
    assert isinstance(notices, list) and len(notices) == 2
    assert all(n.channel_id == "sub-1" and n.resource_id == "sub-1" for n in notices)
    assert all(n.token == "secret-token" and n.changed for n in notices)


@pytest.mark.parametrize(
    ("event", "changed", "renew", "resync"),
    [
        ("reauthorizationRequired", False, True, False),
        ("missed", True, False, True),
        ("subscriptionRemoved", True, True, False),
        ("somethingNew", False, False, False),
    ],
)
def test_lifecycle_notifications_say_what_they_ask_for(
    event: str, changed: bool, renew: bool, resync: bool
) -> None:
    body = {"value": [{"subscriptionId": "s", "clientState": "t", "lifecycleEvent": event}]}
    (notice,) = GraphReceiver().read({}, {}, json.dumps(body).encode())
    assert notice.channel_id == "s" and notice.token == "t"
    assert (notice.changed, notice.renew, notice.resync) == (changed, renew, resync)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"not json", "not JSON"),
        (b'{"value": []}', "no value list"),
        (b'{"value": [{"clientState": "t"}]}', "without subscriptionId"),
    ],
)
def test_malformed_requests_are_named(body: bytes, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        GraphReceiver().read({}, {}, body)
