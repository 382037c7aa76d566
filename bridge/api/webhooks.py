"""Webhooks: Google Calendar push notifications, and the health check.

``POST /webhooks/google`` receives what a channel opened by bridge.sync.channels sends.
A notification is acted on only when all of these hold, checked in this order:

- X-Goog-Channel-ID names a stored channel (else 404; no id at all: 400);
- X-Goog-Channel-Token matches the channel's token digest, compared in constant time
  (else 403);
- X-Goog-Resource-ID is the channel's resource id, once the watch answer has told it
  (else 403);
- the channel has not expired (else 410);
- X-Goog-Message-Number is an integer (else 400).

A refusal names its reason, never the binding, and changes nothing; it is logged at most
once per channel and reason per minute. Google numbers the messages of a channel with
increasing (not consecutive) integers, the "sync" message being 1: a number not above
the last one accepted is a replay or a late duplicate, answered 200 and ignored. A new
"sync" or "exists" message makes the binding due within ``coalesce_seconds`` (never
later than it already was), so a flood makes one round: no remote call happens here.

``GET /health`` answers 200 ``{"status": "ok"}`` when the database answers, else 503.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from typing import Any

from aiohttp import web
from sqlalchemy import text

from bridge.api.log_limit import LogLimiter
from bridge.secret_box import token_matches
from bridge.store import Store
from bridge.store import bindings as binding_store
from bridge.store import channels as channel_store
from bridge.store.changes import Tx

log = logging.getLogger("bridge.api.webhooks")

STORE = web.AppKey("store", Store)
COALESCE = web.AppKey("coalesce_seconds", float)
LOG_LIMIT = web.AppKey("log_limit", LogLimiter)
GOOGLE_PATH = "/webhooks/google"
# "sync" opens every channel; "exists" says the calendar changed. Both make the binding due.
DUE_STATES = frozenset({"exists", "sync"})


def _refuse(
    request: web.Request, status: int, reason: str, channel_id: str, *, key: str = ""
) -> web.Response:
    """A 4xx naming ``reason``; logged once per channel (or ``key``) and reason per minute."""
    held = request.app[LOG_LIMIT].allow((reason, key or channel_id))
    if held is not None:
        more = f" ({held} more since the last report)" if held else ""
        log.warning("google notification refused: %s (channel %s)%s", reason, channel_id, more)
    return web.Response(status=status, text=reason + "\n")


def _check(request: web.Request, channel: Any) -> web.Response | None:
    """The refusal for a notification on a known channel, or None when it is genuine."""
    headers = request.headers
    if not token_matches(headers.get("X-Goog-Channel-Token", ""), channel.token_hash):
        return _refuse(request, 403, "wrong channel token", channel.channel_id)
    given = headers.get("X-Goog-Resource-ID", "")
    if channel.resource_id and not hmac.compare_digest(
        given.encode("utf-8"), channel.resource_id.encode("utf-8")
    ):
        return _refuse(request, 403, "resource id does not match the channel", channel.channel_id)
    if channel.expiration <= time.time():
        return _refuse(request, 410, "channel expired", channel.channel_id)
    return None


def _message_number(request: web.Request) -> int | None:
    raw = request.headers.get("X-Goog-Message-Number", "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


async def google_notification(request: web.Request) -> web.Response:
    store = request.app[STORE]
    channel_id = request.headers.get("X-Goog-Channel-ID", "")
    if not channel_id:
        return web.Response(status=400, text="X-Goog-Channel-ID missing\n")
    channel = await asyncio.to_thread(
        store.read, lambda conn: channel_store.by_channel_id(conn, channel_id)
    )
    if channel is None:
        # Ids of unknown channels are the sender's choice: one log key for them all.
        return _refuse(request, 404, "unknown channel", channel_id, key="*")
    refusal = _check(request, channel)
    if refusal is not None:
        return refusal
    number = _message_number(request)
    if number is None:
        return _refuse(request, 400, "X-Goog-Message-Number missing or not a number", channel_id)
    state = request.headers.get("X-Goog-Resource-State", "")
    due_by = time.time() + request.app[COALESCE]

    def record(tx: Tx) -> bool:
        if not channel_store.accept_message(tx, channel_id, number):
            return False
        if state in DUE_STATES:
            binding_store.request_run_by(tx, channel.binding_id, due_by)
        return True

    if await asyncio.to_thread(store.write, record):
        log.debug("channel %s: %s #%d", channel_id, state, number)
    elif (held := request.app[LOG_LIMIT].allow(("replay", channel_id))) is not None:
        more = f" ({held} more since the last report)" if held else ""
        log.info(
            "channel %s: message #%d is not newer than the last; ignored%s",
            channel_id,
            number,
            more,
        )
    return web.Response(status=200)


async def health(request: web.Request) -> web.Response:
    store = request.app[STORE]
    try:
        await asyncio.to_thread(store.read, lambda conn: conn.execute(text("SELECT 1")).scalar())
    except Exception as error:  # noqa: BLE001 - reported, not raised
        log.warning("health: database did not answer: %s", error)
        return web.json_response({"status": "error", "database": type(error).__name__}, status=503)
    return web.json_response({"status": "ok"})


def add_routes(app: web.Application) -> None:
    """Add the webhook and health routes to an app that holds the store under STORE."""
    app.router.add_post(GOOGLE_PATH, google_notification)
    app.router.add_get("/health", health)


def webhook_app(store: Store, *, coalesce_seconds: float = 2.0) -> web.Application:
    """The aiohttp application serving the webhooks and /health for ``store``."""
    app = web.Application()
    app[STORE] = store
    app[COALESCE] = float(coalesce_seconds)
    app[LOG_LIMIT] = LogLimiter(60.0)
    add_routes(app)
    return app
