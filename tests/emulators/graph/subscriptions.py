"""Change notifications: /subscriptions with validation, delivery, renewal, lifecycle events."""

from __future__ import annotations

import asyncio
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from . import times
from .call import Call, Reply
from .errors import GraphError, access_denied
from .store import Mailbox, State, invalid_user

MAX_MINUTES = 10080
CHANGE_TYPES = {"created", "updated", "deleted"}
LIFECYCLE = {"reauthorizationRequired", "missed", "subscriptionRemoved"}


@dataclass
class Subscription:
    id: str
    upn: str
    user_id: str
    tenant_id: str
    client_id: str
    resource: str
    change_types: set[str]
    notification_url: str
    lifecycle_url: str | None
    client_state: str | None
    expires: datetime
    immutable: bool

    def json(self) -> dict[str, Any]:
        return {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity",
            "id": self.id,
            "resource": self.resource,
            "applicationId": self.client_id,
            "changeType": ",".join(sorted(self.change_types)),
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "expirationDateTime": times.iso_utc(self.expires),
            "creatorId": self.client_id,
            "includeResourceData": False,
            "latestSupportedTlsVersion": "v1_2",
            "notificationUrlAppId": None,
        }


@dataclass
class Delivery:
    url: str
    payload: dict[str, Any]
    status: int | None  # None: no answer (refused, timed out)
    kind: str  # "validation", "notification", "lifecycle"


def invalid(message: str) -> GraphError:
    return GraphError(400, "InvalidRequest", message)


@dataclass
class Subscriptions:
    state: State
    subs: dict[str, Subscription] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    loop: asyncio.AbstractEventLoop | None = None
    validation_timeout: float = 10.0
    delivery_timeout: float = 3.0
    require_https: bool = False
    cond: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        self.state.listeners.append(self.on_change)

    # --- HTTP ----------------------------------------------------------------------------
    async def handle(self, call: Call, rest: list[str]) -> Reply:
        if rest or call.method != "POST":
            with self.state.lock:
                return self.manage(call, rest)
        return await self.create(call)

    def manage(self, call: Call, rest: list[str]) -> Reply:
        grant = call.grant
        assert grant is not None
        if not rest:
            if call.method == "GET":
                now = datetime.now(UTC)
                mine = [
                    s.json()
                    for s in self.subs.values()
                    if s.client_id == grant.client_id and s.expires > now
                ]
                return Reply(200, {"value": mine})
        else:
            sub = self.subs.get(rest[0])
            if sub is not None and sub.expires <= datetime.now(UTC):
                self.subs.pop(sub.id, None)  # Graph deletes a subscription once it expires
                sub = None
            if sub is None or sub.tenant_id != grant.tenant_id:
                raise GraphError(404, "ResourceNotFound", f"The object '{rest[0]}' was not found.")
            if sub.client_id != grant.client_id:
                raise access_denied()
            if len(rest) == 2 and rest[1] == "reauthorize" and call.method == "POST":
                return Reply(204)
            if len(rest) == 1 and call.method == "GET":
                return Reply(200, sub.json())
            if len(rest) == 1 and call.method == "PATCH":
                sub.expires = self.expiry((call.body or {}).get("expirationDateTime"))
                return Reply(200, sub.json())
            if len(rest) == 1 and call.method == "DELETE":
                self.subs.pop(sub.id, None)
                return Reply(204)
        raise GraphError(400, "BadRequest", f"Unsupported request: {call.method} {call.path}")

    def expiry(self, value: Any) -> datetime:
        if not isinstance(value, str):
            raise invalid("expirationDateTime is required.")
        moment = times.parse_instant(value, "expirationDateTime")
        now = datetime.now(UTC)
        if moment <= now:
            raise invalid("Subscription expiration must be in the future.")
        if moment > now + timedelta(minutes=MAX_MINUTES):
            raise invalid(
                f"Subscription expiration can only be {MAX_MINUTES} minutes in the future for "
                "Outlook event resources."
            )
        return moment

    def mailbox_of(self, call: Call, resource: str) -> Mailbox:
        grant = call.grant
        assert grant is not None
        seg = [s for s in resource.split("/") if s]
        if seg and seg[-1].lower() == "events" and len(seg) >= 2 and seg[-2].lower() == "calendar":
            seg = seg[:-2] + ["events"]
        if len(seg) == 2 and seg[0].lower() == "me" and seg[1].lower() == "events":
            if not grant.delegated:
                raise invalid("/me is only valid with delegated authentication.")
            key = grant.user or ""
        elif len(seg) == 3 and seg[0].lower() == "users" and seg[2].lower() == "events":
            key = seg[1]
        else:
            raise invalid(f"Unsupported resource '{resource}'; use users/{{id}}/events.")
        box = self.state.mailbox(key)
        if box is None or box.tenant_id != grant.tenant_id:
            raise invalid_user(key)
        if grant.delegated and box.upn != grant.user:
            raise access_denied()
        if not grant.permissions & {"Calendars.Read", "Calendars.ReadWrite"}:
            raise access_denied()
        return box

    async def create(self, call: Call) -> Reply:
        body = call.body if isinstance(call.body, dict) else {}
        grant = call.grant
        assert grant is not None
        for name in ("changeType", "notificationUrl", "resource", "expirationDateTime"):
            if not body.get(name):
                raise invalid(f"'{name}' is required.")
        kinds = {k.strip() for k in str(body["changeType"]).split(",")}
        if not kinds <= CHANGE_TYPES:
            raise invalid(f"changeType '{body['changeType']}' is not supported for events.")
        state = body.get("clientState")
        if state is not None and (not isinstance(state, str) or len(state) > 128):
            raise invalid("clientState must be a string of at most 128 characters.")
        urls = [body["notificationUrl"], body.get("lifecycleNotificationUrl")]
        for url in filter(None, urls):
            if self.require_https and not str(url).startswith("https://"):
                raise invalid("The notification URL must use https.")
        with self.state.lock:
            box = self.mailbox_of(call, str(body["resource"]))
        expires = self.expiry(body["expirationDateTime"])
        for url in filter(None, urls):
            await self.validate(str(url))
        sub = Subscription(
            id=str(uuid.uuid4()),
            upn=box.upn,
            user_id=box.user_id,
            tenant_id=grant.tenant_id,
            client_id=grant.client_id,
            resource=str(body["resource"]),
            change_types=kinds,
            notification_url=str(body["notificationUrl"]),
            lifecycle_url=body.get("lifecycleNotificationUrl"),
            client_state=state,
            expires=expires,
            immutable=call.view().immutable,
        )
        with self.state.lock:
            self.subs[sub.id] = sub
        return Reply(201, sub.json())

    async def validate(self, url: str) -> None:
        token = (
            f"Validation: Testing client application reachability for subscription {uuid.uuid4()}"
        )
        status, text, kind = None, "", ""
        try:
            timeout = aiohttp.ClientTimeout(total=self.validation_timeout)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.post(
                    url, params={"validationToken": token}, headers={"Content-Type": "text/plain"}
                ) as response:
                    status, text = response.status, await response.text()
                    kind = response.headers.get("Content-Type", "")
        except (aiohttp.ClientError, TimeoutError):
            pass
        self.record(Delivery(url, {"validationToken": token}, status, "validation"))
        if status != 200 or text != token or not kind.startswith("text/plain"):
            raise GraphError(
                400,
                "ValidationError",
                "Subscription validation request failed. Notification endpoint must respond "
                "with 200 OK and the validation token as text/plain within 10 seconds.",
            )

    # --- delivery ------------------------------------------------------------------------
    def record(self, delivery: Delivery) -> None:
        with self.cond:
            self.deliveries.append(delivery)
            self.cond.notify_all()

    def on_change(self, box: Mailbox, change_type: str, immutable_id: str) -> None:
        now = datetime.now(UTC)
        stored = box.events.get(immutable_id)
        for sub in list(self.subs.values()):
            if sub.upn != box.upn or change_type not in sub.change_types or sub.expires <= now:
                continue
            event_id = immutable_id
            if stored is not None and not sub.immutable:
                event_id = stored.rest_id
            resource = f"Users/{box.user_id}/Events/{event_id}"
            item = {
                "subscriptionId": sub.id,
                "subscriptionExpirationDateTime": times.iso_utc(sub.expires),
                "changeType": change_type,
                "resource": resource,
                "resourceData": {
                    "@odata.type": "#Microsoft.Graph.Event",
                    "@odata.id": resource,
                    "@odata.etag": stored.etag() if stored is not None else None,
                    "id": event_id,
                },
                "clientState": sub.client_state,
                "tenantId": sub.tenant_id,
            }
            self.send(sub.notification_url, {"value": [item]}, "notification")

    def lifecycle(self, subscription_id: str, event: str) -> None:
        if event not in LIFECYCLE:
            raise ValueError(f"lifecycle event must be one of {sorted(LIFECYCLE)}")
        with self.state.lock:
            sub = self.subs[subscription_id]
            if not sub.lifecycle_url:
                raise ValueError(f"subscription {subscription_id} has no lifecycleNotificationUrl")
            if event == "subscriptionRemoved":
                self.subs.pop(sub.id, None)
        item = {
            "subscriptionId": sub.id,
            "subscriptionExpirationDateTime": times.iso_utc(sub.expires),
            "tenantId": sub.tenant_id,
            "clientState": sub.client_state,
            "lifecycleEvent": event,
        }
        self.send(sub.lifecycle_url, {"value": [item]}, "lifecycle")

    def send(self, url: str, payload: dict[str, Any], kind: str) -> None:
        loop = self.loop
        if loop is None:
            return
        loop.call_soon_threadsafe(lambda: loop.create_task(self.post(url, payload, kind)))

    async def post(self, url: str, payload: dict[str, Any], kind: str) -> None:
        status = None
        try:
            timeout = aiohttp.ClientTimeout(total=self.delivery_timeout)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.post(url, json=payload) as response:
                    status = response.status
        except (aiohttp.ClientError, TimeoutError):
            pass
        self.record(Delivery(url, payload, status, kind))

    def wait_for(self, count: int, kind: str, timeout: float) -> list[Delivery]:
        with self.cond:
            self.cond.wait_for(
                lambda: len([d for d in self.deliveries if d.kind == kind]) >= count, timeout
            )
            return [d for d in self.deliveries if d.kind == kind]
