"""The EWS SendNotification receiver and the callback URL, as pure functions."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from defusedxml.ElementTree import fromstring

from bridge.backends.exchange.push import (
    MESSAGES,
    SOAP,
    TYPES,
    ExchangeReceiver,
    callback_url,
)

RECEIVER = ExchangeReceiver()


def _body(*notifications: tuple[str, tuple[str, ...]]) -> bytes:
    notes = "".join(
        f"<m:Notification><t:SubscriptionId>{sub}</t:SubscriptionId>"
        "<t:PreviousWatermark>AQ==</t:PreviousWatermark><t:MoreEvents>false</t:MoreEvents>"
        + "".join(f"<t:{e}><t:Watermark>Ag==</t:Watermark></t:{e}>" for e in events)
        + "</m:Notification>"
        for sub, events in notifications
    )
    return (
        f'<soap:Envelope xmlns:soap="{SOAP}" xmlns:m="{MESSAGES}" xmlns:t="{TYPES}"><soap:Body>'
        "<m:SendNotification><m:ResponseMessages>"
        f'<m:SendNotificationResponseMessage ResponseClass="Success">{notes}'
        "</m:SendNotificationResponseMessage></m:ResponseMessages></m:SendNotification>"
        "</soap:Body></soap:Envelope>"
    ).encode()


def test_callback_url_keeps_the_address_and_adds_channel_and_token():
    url = callback_url("https://bridge.example.com/hooks/webhooks/exchange?x=1", "c1", "t/+=")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "bridge.example.com",
        "/hooks/webhooks/exchange",
    )
    assert parse_qs(parts.query) == {"x": ["1"], "channel": ["c1"], "token": ["t/+="]}


def test_a_change_is_a_changed_notice_naming_our_channel_and_the_subscription():
    query = {"channel": "c1", "token": "secret"}
    [notice] = RECEIVER.read({}, query, _body(("SUB1", ("ModifiedEvent", "StatusEvent"))))
    assert (notice.channel_id, notice.token, notice.resource_id) == ("c1", "secret", "SUB1")
    assert notice.changed and notice.message_number is None and not notice.problem


@pytest.mark.parametrize(
    "events", [("CreatedEvent",), ("DeletedEvent",), ("MovedEvent",), ("CopiedEvent",)]
)
def test_every_item_event_is_a_change(events):
    [notice] = RECEIVER.read({}, {"channel": "c", "token": "t"}, _body(("S", events)))
    assert notice.changed


def test_a_status_event_alone_is_a_keep_alive():
    [notice] = RECEIVER.read({}, {"channel": "c", "token": "t"}, _body(("S", ("StatusEvent",))))
    assert not notice.changed


def test_several_notifications_are_several_notices():
    body = _body(("S1", ("StatusEvent",)), ("S2", ("CreatedEvent",)))
    notices = RECEIVER.read({}, {"channel": "c", "token": "t"}, body)
    assert [(n.resource_id, n.changed) for n in notices] == [("S1", False), ("S2", True)]


def test_without_a_channel_in_the_url_the_subscription_id_names_it():
    [notice] = RECEIVER.read({}, {}, _body(("SUB9", ("CreatedEvent",))))
    assert (notice.channel_id, notice.token) == ("SUB9", "")


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", "unreadable XML"),
        (b"<soap:Envelope", "unreadable XML"),
        (f'<e:Envelope xmlns:e="{SOAP}"><e:Body/></e:Envelope>'.encode(), "not a SendNotif"),
        (_body(), "holds no Notification"),
        (_body(("", ("CreatedEvent",))), "names no SubscriptionId"),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
            "unreadable XML",
        ),
    ],
)
def test_a_malformed_body_is_a_value_error_naming_it(body, problem):
    with pytest.raises(ValueError, match=problem):
        RECEIVER.read({}, {"channel": "c", "token": "t"}, body)


def _status(reply) -> str:
    doc = fromstring(reply.body.encode())
    path = f"{{{SOAP}}}Body/{{{MESSAGES}}}SendNotificationResult/{{{MESSAGES}}}SubscriptionStatus"
    return doc.findtext(path)


def test_acknowledgements():
    ok = RECEIVER.acknowledge(200)
    assert ok is not None and (ok.status, ok.content_type, _status(ok)) == (200, "text/xml", "OK")
    for status in (404, 410):
        reply = RECEIVER.acknowledge(status)
        assert reply is not None and (reply.status, _status(reply)) == (200, "Unsubscribe")
    assert RECEIVER.acknowledge(403) is None and RECEIVER.acknowledge(400) is None
