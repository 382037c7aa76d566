"""Webhooks: push notifications of every kind that offers push, and the health check.

``POST /webhooks/{kind}`` receives what a channel opened by bridge.sync.channels sends.
The kind's registered PushReceiver (bridge.backends.kinds) turns the request into
notices (or a reply the service expects, e.g. a validation handshake); an unknown kind,
or one without a receiver, is answered 404 and a request the receiver cannot read 400.
Each notice is acted on only when all of these hold, checked in this order:

- it names a stored channel of a binding of that kind (else 404);
- its token matches the channel's token digest, compared in constant time (else 403);
- its resource id is the channel's, once the open call's answer has told it (else 403);
- the channel has not expired (else 410);
- the receiver found nothing else wrong with it, e.g. Google's message number (else 400).

A genuine notice may ask for more (any kind, bridge.backends.base.PushNotice): ``resync``
drops the binding's change cursor in the same transaction that makes it due now, so its
next round lists every event again (a round running meanwhile keeps the drop:
bridge.store.bindings.advance_remote_cursor); ``renew`` asks the process's channel keeper
(``RENEWALS``, bridge.sync.channels.keep_channels) to renew the channel at once.

A refusal names its reason, never the binding, and changes nothing; it is logged at most
once per channel and reason per minute. Its body is the REST API's JSON error
(``{"error": {"status": 403, "message": "wrong channel token"}}``). The answer is then
the receiver's to shape (``PushReceiver.acknowledge`` with the verdict: 200, or the first
refusal's status): EWS
expects a SOAP SendNotificationResult, OK for an accepted notice and Unsubscribe for an
unknown or expired channel; a receiver answering None keeps the plain status.

A numbered notice (Google numbers a channel's messages with increasing, not consecutive,
integers) whose number is not above the last one accepted is a replay or a late
duplicate, answered 200 and ignored. A notice that says "changed" makes the binding due
within ``coalesce_seconds`` (never later than it already was), so a flood makes one round:
no remote call happens here.

``GET /health`` answers 200 ``{"status": "ok"}`` when the database answers, else 503;
``GET /ready`` (bridge.api.ready) also wants the schema at the newest revision.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time

from aiohttp import web

from bridge.api.log_limit import LogLimiter
from bridge.api.rest_common import error
from bridge.backends import kinds
from bridge.backends.base import PushNotice, PushReply
from bridge.secret_box import token_matches
from bridge.store import Store
from bridge.store import bindings as binding_store
from bridge.store import channels as channel_store
from bridge.store.changes import Tx
from bridge.store.channels import ChannelRow
from bridge.sync.channels import RenewRequests, webhook_path

log = logging.getLogger("bridge.api.webhooks")

STORE = web.AppKey("store", Store)
COALESCE = web.AppKey("coalesce_seconds", float)
LOG_LIMIT = web.AppKey("log_limit", LogLimiter)
RENEWALS = web.AppKey("renewals", RenewRequests)
GOOGLE_PATH = webhook_path("google")
WEBHOOK_ROUTE = webhook_path("{kind}")


def _refuse(
    request: web.Request, status: int, reason: str, channel_id: str, *, key: str = ""
) -> web.Response:
    """A 4xx naming ``reason``; logged once per channel (or ``key``) and reason per minute."""
    held = request.app[LOG_LIMIT].allow((reason, key or channel_id))
    if held is not None:
        more = f" ({held} more since the last report)" if held else ""
        kind = request.match_info.get("kind", "")
        log.warning("%s notification refused: %s (channel %s)%s", kind, reason, channel_id, more)
    return error(status, reason)


def _check(request: web.Request, notice: PushNotice, channel: ChannelRow) -> web.Response | None:
    """The refusal for a notice on a known channel, or None when it is genuine."""
    if not token_matches(notice.token, channel.token_hash):
        return _refuse(request, 403, "wrong channel token", channel.channel_id)
    if channel.resource_id and not hmac.compare_digest(
        notice.resource_id.encode("utf-8"), channel.resource_id.encode("utf-8")
    ):
        return _refuse(request, 403, "resource id does not match the channel", channel.channel_id)
    if channel.expiration <= time.time():
        return _refuse(request, 410, "channel expired", channel.channel_id)
    if notice.problem:
        return _refuse(request, 400, notice.problem, channel.channel_id)
    return None


async def _receive(request: web.Request, kind: str, notice: PushNotice) -> web.Response:
    """Check one notice and, when it is genuine and new, make its binding due."""
    store = request.app[STORE]
    channel_id = notice.channel_id
    if not channel_id:
        return error(400, "the notification names no channel")
    channel = await asyncio.to_thread(
        store.read, lambda conn: channel_store.for_notice(conn, kind, channel_id)
    )
    if channel is None:
        # Ids of unknown channels are the sender's choice: one log key for them all.
        return _refuse(request, 404, "unknown channel", channel_id, key="*")
    refusal = _check(request, notice, channel)
    if refusal is not None:
        return refusal
    number = notice.message_number
    due_by = time.time() + request.app[COALESCE]

    def record(tx: Tx) -> bool:
        if number is not None and not channel_store.accept_message(tx, channel_id, number):
            return False
        if notice.resync:
            binding_store.drop_remote_cursor(tx, channel.binding_id)
            binding_store.request_run(tx, [channel.binding_id])
        elif notice.changed:
            binding_store.request_run_by(tx, channel.binding_id, due_by)
        if notice.renew:  # for whichever process keeps the channels
            channel_store.ask_renew(tx, channel.binding_id, time.time())
        return True

    if await asyncio.to_thread(store.write, record):
        log.debug("channel %s: notice #%s (changed: %s)", channel_id, number, notice.changed)
        if notice.resync:
            log.info("channel %s: the service lost notices; binding resyncs", channel_id)
        if notice.renew:
            request.app[RENEWALS].poke()  # this process's keeper, if any, looks at once
    elif (held := request.app[LOG_LIMIT].allow(("replay", channel_id))) is not None:
        more = f" ({held} more since the last report)" if held else ""
        log.info(
            "channel %s: message #%d is not newer than the last; ignored%s",
            channel_id,
            number,
            more,
        )
    return web.Response(status=200)


async def notification(request: web.Request) -> web.Response:
    kind = request.match_info["kind"]
    try:
        receiver = kinds.kind_of(kind).receiver
    except KeyError:
        receiver = None
    if receiver is None:
        return error(404, "no push for this kind")
    body = await request.read()
    try:
        read = receiver.read(request.headers, request.query, body)
    except ValueError as problem:
        return error(400, str(problem))
    if isinstance(read, PushReply):
        return web.Response(status=read.status, text=read.body, content_type=read.content_type)
    answer = web.Response(status=200)
    for notice in read:  # every notice is checked; the first refusal is the answer
        outcome = await _receive(request, kind, notice)
        if outcome.status != 200 and answer.status == 200:
            answer = outcome
    reply = receiver.acknowledge(answer.status)  # the kind shapes its acknowledgement
    if reply is not None:
        return web.Response(status=reply.status, text=reply.body, content_type=reply.content_type)
    return answer


async def health(request: web.Request) -> web.Response:
    store = request.app[STORE]
    try:
        await asyncio.to_thread(store.ping)
    except Exception as failure:  # noqa: BLE001 - reported, not raised
        log.warning("health: database did not answer: %s", failure)
        answer = {"status": "error", "database": type(failure).__name__}
        return web.json_response(answer, status=503)
    return web.json_response({"status": "ok"})


def add_routes(app: web.Application) -> None:
    """Add the webhook and health routes to an app that holds the store under STORE."""
    app.router.add_post(WEBHOOK_ROUTE, notification)
    app.router.add_get("/health", health)
    from bridge.api.ready import ready_handler

    app.router.add_get("/ready", ready_handler(STORE))


def webhook_app(
    store: Store, *, coalesce_seconds: float = 2.0, request_seconds: float | None = None
) -> web.Application:
    """The aiohttp application serving the webhooks and /health for ``store``; each
    request answered within ``request_seconds`` (None: rest_common.REQUEST_SECONDS)."""
    from bridge.api.rest_common import REQUEST_LIMIT, api_errors  # JSON refusals

    # the REST routes bound their own bodies (rest_common.json_body); webhooks keep
    # aiohttp's default limit
    app = web.Application(middlewares=[api_errors])
    app[STORE] = store
    app[COALESCE] = float(coalesce_seconds)
    if request_seconds is not None:
        app[REQUEST_LIMIT] = float(request_seconds)
    app[LOG_LIMIT] = LogLimiter(60.0)
    app[RENEWALS] = RenewRequests()
    add_routes(app)
    return app
