"""Webhooks: Google Calendar push notifications, and the health check.

``POST /webhooks/google`` receives what a channel opened by bridge.sync.channels sends.
It names the channel (X-Goog-Channel-ID) and echoes its secret token
(X-Goog-Channel-Token); a known channel with the right token makes its binding due and
is answered 200 at once: no remote call happens inside the request, the scheduler runs
the round. An unknown channel gets 404 and a wrong token 403, and nothing changes.

``GET /health`` answers 200 ``{"status": "ok"}`` when the database answers, else 503.
"""

from __future__ import annotations

import asyncio
import hmac
import logging

from aiohttp import web
from sqlalchemy import text

from bridge.store import Store
from bridge.store import bindings as binding_store
from bridge.store import channels as channel_store

log = logging.getLogger("bridge.api.webhooks")

STORE = web.AppKey("store", Store)
GOOGLE_PATH = "/webhooks/google"
# "sync" opens every channel; "exists" says the calendar changed. Both make the binding due.
DUE_STATES = frozenset({"exists", "sync"})


def _token_matches(given: str, stored: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), stored.encode("utf-8"))


async def google_notification(request: web.Request) -> web.Response:
    store = request.app[STORE]
    channel_id = request.headers.get("X-Goog-Channel-ID", "")
    if not channel_id:
        return web.Response(status=400, text="X-Goog-Channel-ID missing\n")
    channel = await asyncio.to_thread(
        store.read, lambda conn: channel_store.by_channel_id(conn, channel_id)
    )
    if channel is None:
        log.info("notification for unknown channel %s", channel_id)
        return web.Response(status=404, text="unknown channel\n")
    if not _token_matches(request.headers.get("X-Goog-Channel-Token", ""), channel.token):
        log.warning("notification for channel %s with a wrong token", channel_id)
        return web.Response(status=403, text="wrong channel token\n")
    state = request.headers.get("X-Goog-Resource-State", "")
    if state in DUE_STATES:
        binding_id = channel.binding_id
        await asyncio.to_thread(store.write, lambda tx: binding_store.request_run(tx, [binding_id]))
    log.debug("channel %s: %s #%s", channel_id, state, request.headers.get("X-Goog-Message-Number"))
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


def webhook_app(store: Store) -> web.Application:
    """The aiohttp application serving the webhooks and /health for ``store``."""
    app = web.Application()
    app[STORE] = store
    add_routes(app)
    return app
