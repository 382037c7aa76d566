"""events.watch / channels.stop, and delivery of push notifications to the channel address."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import aiohttp

from .call import Call, Reply
from .errors import invalid, not_found, required
from .store import Calendar, State

DEFAULT_TTL = timedelta(days=7)


@dataclass
class Channel:
    id: str
    calendar_id: str
    address: str
    token: str | None
    expiration: datetime
    resource_id: str
    resource_uri: str
    messages: int = 0
    pending: bool = False
    stopped: bool = False


@dataclass
class Delivery:
    channel_id: str
    state: str  # "sync" or "exists"
    message_number: int
    status: int | None  # the receiver's HTTP status, None when it could not be reached
    error: str | None = None


class Watches:
    """Channels by id; `deliveries` records every notification POSTed (or attempted)."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.lock = threading.RLock()
        self.channels: dict[str, Channel] = {}
        self.deliveries: list[Delivery] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.base_url = ""
        self.debounce = 0.05
        self.delivered = threading.Condition(self.lock)
        state.change_listeners.append(self.changed)

    def watch(self, call: Call, calendar: Calendar) -> Reply:
        body = call.json()
        if not body.get("id"):
            raise required("Missing channel id.")
        if not body.get("address"):
            raise required("Missing channel address.")
        if body.get("type", "web_hook") not in ("web_hook", "webhook"):
            raise invalid(f"Invalid channel type: {body.get('type')}")
        now = self.state.clock()
        expiration = now + DEFAULT_TTL
        ttl = (body.get("params") or {}).get("ttl")
        if ttl is not None:
            expiration = now + timedelta(seconds=int(ttl))
        if body.get("expiration"):
            expiration = min(
                expiration, datetime.fromtimestamp(int(body["expiration"]) / 1000, UTC)
            )
        with self.lock:
            if body["id"] in self.channels and not self.channels[body["id"]].stopped:
                raise invalid(f"Channel id {body['id']} not unique")
            channel = Channel(
                id=body["id"],
                calendar_id=calendar.id,
                address=body["address"],
                token=body.get("token"),
                expiration=expiration,
                resource_id=hashlib.sha1(calendar.id.encode()).hexdigest()[:27],
                resource_uri=f"{self.base_url}/calendar/v3/calendars/{calendar.id}/events?alt=json",
            )
            self.channels[channel.id] = channel
            self._schedule(channel, "sync", 0.0)
        return Reply(
            200,
            {
                "kind": "api#channel",
                "id": channel.id,
                "resourceId": channel.resource_id,
                "resourceUri": channel.resource_uri,
                **({"token": channel.token} if channel.token is not None else {}),
                "expiration": str(int(expiration.timestamp() * 1000)),
            },
        )

    def stop(self, call: Call) -> Reply:
        body = call.json()
        with self.lock:
            channel = self.channels.get(body.get("id", ""))
            if channel is None or channel.stopped or channel.resource_id != body.get("resourceId"):
                raise not_found()
            channel.stopped = True
        return Reply(204)

    def changed(self, calendar_id: str) -> None:
        with self.lock:
            for channel in self.channels.values():
                if channel.calendar_id == calendar_id and not channel.pending:
                    self._schedule(channel, "exists", self.debounce)

    def _schedule(self, channel: Channel, state: str, delay: float) -> None:
        if self.loop is None or channel.stopped or channel.expiration <= self.state.clock():
            return
        channel.pending = state == "exists"
        loop = self.loop
        loop.call_soon_threadsafe(lambda: loop.create_task(self._deliver(channel, state, delay)))

    async def _deliver(self, channel: Channel, state: str, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        with self.lock:
            channel.pending = False if state == "exists" else channel.pending
            if channel.stopped:
                return
            channel.messages += 1
            number = channel.messages
        headers = {
            "X-Goog-Channel-ID": channel.id,
            "X-Goog-Channel-Expiration": format_datetime(channel.expiration, usegmt=True),
            "X-Goog-Resource-ID": channel.resource_id,
            "X-Goog-Resource-URI": channel.resource_uri,
            "X-Goog-Resource-State": state,
            "X-Goog-Message-Number": str(number),
        }
        if channel.token is not None:
            headers["X-Goog-Channel-Token"] = channel.token
        delivery = Delivery(channel.id, state, number, None)
        try:
            timeout = aiohttp.ClientTimeout(total=10)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.post(channel.address, headers=headers, data=b"") as response:
                    delivery.status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            delivery.error = repr(exc)
        with self.lock:
            self.deliveries.append(delivery)
            self.delivered.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Delivery]:
        """Block the calling (test) thread until `count` notifications were attempted."""
        with self.lock:
            self.delivered.wait_for(lambda: len(self.deliveries) >= count, timeout)
            return list(self.deliveries)
