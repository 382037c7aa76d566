"""Graph change notifications: subscriptions (PushChannel) and the webhook (PushReceiver).

A subscription watches ``/users/{mailbox}/events`` (created, updated, deleted); Graph
chooses its id, which every notification names as ``subscriptionId`` with our
``clientState`` (the channel token). Events subscriptions live at most 10,080 minutes;
``renew`` PATCHes the expiry in place. Before creating a subscription Graph POSTs
``?validationToken=...`` to the address and wants it echoed as text/plain: the receiver
answers that with a PushReply. Lifecycle notifications come to the same address, and
say what the seam's generic notice fields ask for: ``reauthorizationRequired`` renews the
subscription at once (``renew``), ``subscriptionRemoved`` too (the renewal's 404 opens a
new one) and makes the binding due, ``missed`` forces a resync (``resync``: the next
round lists every event, not the delta).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import quote

from bridge.backends.base import PushNotice, PushReply, Subscription
from bridge.backends.graph.wire import parse_instant

if TYPE_CHECKING:
    from bridge.backends.graph.backend import GraphBackend

#: Events subscriptions: at most 10,080 minutes; a minute less leaves room for clocks.
MAX_LIFETIME = timedelta(minutes=10_079)
#: Lifecycle events that make the binding due, ask to renew the subscription now, or a
#: resync (every other lifecycle event is read and ignored).
DUE_LIFECYCLE = frozenset({"missed", "subscriptionRemoved"})
RENEW_LIFECYCLE = frozenset({"reauthorizationRequired", "subscriptionRemoved"})
RESYNC_LIFECYCLE = frozenset({"missed"})


def _expiry(lifetime: timedelta) -> str:
    when = datetime.now(UTC) + min(lifetime, MAX_LIFETIME)
    return when.isoformat().replace("+00:00", "Z")


class GraphPush:
    """The push capability of one GraphBackend (its client, token and mailbox)."""

    max_lifetime = MAX_LIFETIME

    def __init__(self, backend: GraphBackend) -> None:
        self.backend = backend

    def open(self, address: str, channel_id: str, token: str, lifetime: timedelta) -> Subscription:
        body = {
            "changeType": "created,updated,deleted",
            "notificationUrl": address,
            "lifecycleNotificationUrl": address,
            "resource": f"{self.backend.base.lstrip('/')}/events",
            "expirationDateTime": _expiry(lifetime),
            "clientState": token,
        }
        from bridge.backends.graph.http import raise_for  # aiohttp loads on use

        reply = self.backend.http.call("POST", "/subscriptions", body=body)
        raise_for(reply, "POST subscriptions", mailbox=True)
        return self._subscription(reply.body or {})

    def renew(self, subscription: Subscription, lifetime: timedelta) -> Subscription | None:
        from bridge.backends.graph.http import raise_for

        reply = self.backend.http.call(
            "PATCH",
            f"/subscriptions/{quote(subscription.id, safe='')}",
            body={"expirationDateTime": _expiry(lifetime)},
        )
        raise_for(reply, "PATCH subscription")
        return self._subscription(reply.body or {}, subscription.id)

    def stop(self, subscription: Subscription) -> None:
        from bridge.backends.graph.http import raise_for

        reply = self.backend.http.call(
            "DELETE", f"/subscriptions/{quote(subscription.id, safe='')}"
        )
        raise_for(reply, "DELETE subscription")

    @staticmethod
    def _subscription(body: dict, known: str = "") -> Subscription:
        expires = body.get("expirationDateTime")
        return Subscription(
            id=str(body.get("id") or known),
            expires_at=parse_instant(expires) if expires else None,
        )


class GraphReceiver:
    """Reads a Graph webhook request: the validation handshake, change notifications and
    lifecycle notifications (JSON ``{"value": [...]}``)."""

    def read(
        self, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> list[PushNotice] | PushReply:
        if "validationToken" in query:
            return PushReply(200, query["validationToken"], "text/plain")
        try:
            data = json.loads(body or b"null")
        except (ValueError, RecursionError):  # RecursionError: nested too deeply
            raise ValueError("the notification body is not JSON") from None
        values = data.get("value") if isinstance(data, dict) else None
        if not isinstance(values, list) or not values:
            raise ValueError("the notification holds no value list")
        notices = []
        for item in values:
            if not isinstance(item, dict) or not item.get("subscriptionId"):
                raise ValueError("a notification without subscriptionId")
            lifecycle = item.get("lifecycleEvent")
            sub = str(item["subscriptionId"])
            notices.append(
                PushNotice(
                    channel_id=sub,
                    token=str(item.get("clientState") or ""),
                    resource_id=sub,
                    changed=lifecycle in DUE_LIFECYCLE if lifecycle else True,
                    renew=lifecycle in RENEW_LIFECYCLE,
                    resync=lifecycle in RESYNC_LIFECYCLE,
                )
            )
        return notices

    def acknowledge(self, status: int) -> PushReply | None:
        """Graph reads the HTTP status alone: any 2xx within 3 s is a delivery (202
        Accepted, as its documentation answers); a refusal keeps its plain status."""
        return None
