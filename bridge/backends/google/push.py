"""Google push: events.watch channels (PushChannel) and the X-Goog-* webhook (PushReceiver).

Google cannot extend a channel: ``renew`` answers None and the caller opens a new channel
and stops the old one. The channel id is ours (client-chosen); Google echoes it, the
token and the watched resource's id in every notification, numbering a channel's
messages with increasing integers ("sync", the first, is 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bridge.backends.base import PushNotice, PushReply, Subscription

if TYPE_CHECKING:
    from bridge.backends.google.backend import GoogleBackend

#: events.watch grants a channel at most about a week.
MAX_LIFETIME = timedelta(days=7)
#: "sync" opens every channel; "exists" says the calendar changed. Both make the binding due.
DUE_STATES = frozenset({"exists", "sync"})


class GooglePush:
    """The push capability of one GoogleBackend (its service, pacing and retries)."""

    max_lifetime = MAX_LIFETIME

    def __init__(self, backend: GoogleBackend) -> None:
        self.backend = backend

    def open(self, address: str, channel_id: str, token: str, lifetime: timedelta) -> Subscription:
        """events.watch: Google POSTs to ``address`` when the calendar changes."""
        body = {
            "id": channel_id,
            "type": "web_hook",
            "address": address,
            "token": token,
            "params": {"ttl": str(int(lifetime.total_seconds()))},
        }
        backend = self.backend
        request = backend.events.watch(calendarId=backend.settings.calendar_id, body=body)
        answer = backend._run("events.watch", request)
        expiration = answer.get("expiration")
        return Subscription(
            id=answer["id"],
            expires_at=None
            if expiration is None
            else datetime.fromtimestamp(int(expiration) / 1000, UTC),
            resource_id=answer["resourceId"],
        )

    def renew(self, subscription: Subscription, lifetime: timedelta) -> Subscription | None:
        return None  # Google has no channel renewal: open a new one, stop the old

    def stop(self, subscription: Subscription) -> None:
        """channels.stop; NotFound when the channel is unknown or already stopped."""
        body = {"id": subscription.id, "resourceId": subscription.resource_id}
        self.backend._run("channels.stop", self.backend.api.channels.stop(body=body))


def _message_number(raw: str) -> int | None:
    raw = raw.strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


class GoogleReceiver:
    """Reads a Google notification: everything is in its X-Goog-* headers, the body is empty."""

    def read(
        self, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> list[PushNotice] | PushReply:
        channel_id = headers.get("X-Goog-Channel-ID", "")
        if not channel_id:
            raise ValueError("X-Goog-Channel-ID missing")
        number = _message_number(headers.get("X-Goog-Message-Number", ""))
        return [
            PushNotice(
                channel_id=channel_id,
                token=headers.get("X-Goog-Channel-Token", ""),
                resource_id=headers.get("X-Goog-Resource-ID", ""),
                message_number=number,
                changed=headers.get("X-Goog-Resource-State", "") in DUE_STATES,
                problem=""
                if number is not None
                else "X-Goog-Message-Number missing or not a number",
            )
        ]

    def acknowledge(self, status: int) -> PushReply | None:
        return None  # Google reads the HTTP status alone
