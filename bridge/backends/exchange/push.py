"""Exchange push: EWS push subscriptions on the calendar folder (PushChannel) and the
server's SendNotification POSTs (PushReceiver).

EWS sends no secret of ours, so the callback URL carries both: ``?channel=<our channel
id>&token=<the channel token>``. The channel id is ours (chosen before Subscribe, so a
notification that beats the Subscribe answer is recognised); the server's SubscriptionId
is the channel's resource id, which the webhook compares with the stored one. A
subscription has no expiry at the server: it ends when a notification is answered
Unsubscribe, or when the server has failed to deliver several times. ``renew`` answers
None (the bridge opens a new subscription and stops the old); a notification naming a
channel the bridge no longer has (stopped, replaced, expired) is answered Unsubscribe,
which is also how a push subscription really ends (EWS's Unsubscribe operation is for pull
and streaming subscriptions only; ``stop`` tries it and takes that refusal as done).

A notification holding only a StatusEvent is the server's keep-alive (every
``STATUS_FREQUENCY`` minutes without events): it keeps the channel and makes no round.
Watermarks are opaque, not ordered numbers, so notices carry no message number.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from xml.etree.ElementTree import Element, ParseError, SubElement, tostring

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from bridge.backends.base import NotFound, PushNotice, PushReply, Subscription

if TYPE_CHECKING:
    from bridge.backends.exchange.backend import ExchangeBackend

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
MESSAGES = "http://schemas.microsoft.com/exchange/services/2006/messages"
TYPES = "http://schemas.microsoft.com/exchange/services/2006/types"

#: The events of the calendar folder that make the binding due.
EVENT_TYPES = ("CopiedEvent", "CreatedEvent", "DeletedEvent", "ModifiedEvent", "MovedEvent")
#: Minutes between the server's StatusEvents when nothing happens (EWS allows 1..1440).
STATUS_FREQUENCY = 15
#: EWS subscriptions do not expire, but one whose deliveries failed for a while (the bridge
#: was down) is dropped by the server without a word: re-opened daily bounds that loss.
MAX_LIFETIME = timedelta(days=1)


def callback_url(address: str, channel_id: str, token: str) -> str:
    """``address`` with the channel id and token added to its query string."""
    parts = urlsplit(address)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [("channel", channel_id), ("token", token)]
    return urlunsplit(parts._replace(query=urlencode(query)))


class ExchangePush:
    """The push capability of one ExchangeBackend (its session, retries and errors)."""

    max_lifetime = MAX_LIFETIME

    def __init__(self, backend: ExchangeBackend) -> None:
        self.backend = backend

    def open(self, address: str, channel_id: str, token: str, lifetime: timedelta) -> Subscription:
        """Subscribe (PushSubscriptionRequest) on the calendar folder; the server POSTs
        its notifications to ``address`` with our channel id and token in the query."""
        backend = self.backend
        url = callback_url(address, channel_id, token)
        folder = backend.folder
        subscription_id, _watermark = backend._call("Subscribe", lambda: folder.subscribe_to_push(
            url, event_types=list(EVENT_TYPES), status_frequency=STATUS_FREQUENCY,
        ))  # fmt: skip
        return Subscription(id=channel_id, expires_at=None, resource_id=subscription_id)

    def renew(self, subscription: Subscription, lifetime: timedelta) -> Subscription | None:
        return None  # EWS cannot extend a subscription: open a new one, stop the old

    def stop(self, subscription: Subscription) -> None:
        """Unsubscribe; NotFound when the server no longer knows the subscription. A server
        that refuses Unsubscribe for push subscriptions (ErrorInvalidSubscription, as the
        protocol documents) ends it at its next notification, answered Unsubscribe."""
        from exchangelib import errors as ews

        backend = self.backend
        subscription_id = subscription.resource_id

        def unsubscribe() -> str:
            try:
                backend.account.root.unsubscribe(subscription_id)
            except ews.ErrorSubscriptionNotFound:
                return "gone"
            except ews.ErrorInvalidSubscription:
                return "ends at its next notification"
            return "stopped"

        if backend._call("Unsubscribe", unsubscribe) == "gone":
            raise NotFound("EWS Unsubscribe: the subscription is gone (ErrorSubscriptionNotFound)")


def _status_reply(status: str) -> PushReply:
    """The SendNotificationResult EWS expects for every notification it POSTs."""
    envelope = Element(f"{{{SOAP}}}Envelope")
    body = SubElement(envelope, f"{{{SOAP}}}Body")
    result = SubElement(body, f"{{{MESSAGES}}}SendNotificationResult")
    SubElement(result, f"{{{MESSAGES}}}SubscriptionStatus").text = status
    xml = tostring(envelope, encoding="unicode", xml_declaration=False)
    return PushReply(200, '<?xml version="1.0" encoding="utf-8"?>' + xml, "text/xml")


OK_REPLY = _status_reply("OK")
UNSUBSCRIBE_REPLY = _status_reply("Unsubscribe")


class ExchangeReceiver:
    """Reads SendNotification SOAP bodies: one notice per Notification element."""

    def read(
        self, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> list[PushNotice] | PushReply:
        try:
            root = fromstring(body)
        except (ParseError, DefusedXmlException, ValueError):
            raise ValueError("not a SendNotification SOAP body (unreadable XML)") from None
        send = root.find(f"{{{SOAP}}}Body/{{{MESSAGES}}}SendNotification")
        if send is None:
            raise ValueError("not a SendNotification SOAP body")
        notes = list(send.iter(f"{{{MESSAGES}}}Notification"))
        if not notes:
            raise ValueError("the SendNotification holds no Notification")
        notices = []
        for note in notes:
            subscription_id = (note.findtext(f"{{{TYPES}}}SubscriptionId") or "").strip()
            if not subscription_id:
                raise ValueError("a Notification names no SubscriptionId")
            events = [child.tag.rpartition("}")[2] for child in note]
            notices.append(
                PushNotice(
                    # Ours from the callback URL; without it the server's id (then unknown).
                    channel_id=query.get("channel", "") or subscription_id,
                    token=query.get("token", ""),
                    resource_id=subscription_id,
                    changed=any(e in EVENT_TYPES for e in events),
                )
            )
        return notices

    def acknowledge(self, status: int) -> PushReply | None:
        """OK for an accepted notification (a replay too); Unsubscribe for one naming a
        channel we do not have or that expired; other refusals keep the generic answer
        (a failed delivery to the server)."""
        if status == 200:
            return OK_REPLY
        if status in (404, 410):
            return UNSUBSCRIBE_REPLY
        return None
