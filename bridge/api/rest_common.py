"""What every REST route shares: the key of a request, JSON bodies, JSON errors, limits.

Errors are ``{"error": {"status": 422, "message": "...", "fields": [{"field": "start",
"problem": "is required"}]}}``, on every route of the app. Every request is answered
within the app's ``REQUEST_LIMIT`` (``[api] request_seconds``; ``REQUEST_SECONDS`` in an
app that sets none) (else 503) and an ``/api/`` body may hold at most
``MAX_BODY_BYTES`` (else 413; webhooks keep aiohttp's 1 MiB).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bridge.api.json_body import loads as json_body_loads
from bridge.api.keys import ApiKeys
from bridge.config.api import ApiKey

log = logging.getLogger("bridge.api.rest")

KEYS = web.AppKey("api_keys", ApiKeys)
MAX_BODY_BYTES = 256 * 1024
REQUEST_SECONDS = 30.0
#: The app's time limit per request, in seconds (``[api] request_seconds``).
REQUEST_LIMIT = web.AppKey("request_seconds", float)
BEARER = 'Bearer realm="CRM calendar bridge API"'


def error(
    status: int, message: str, fields: list[tuple[str, str]] | None = None, **headers: str
) -> web.Response:
    body: dict[str, Any] = {"status": status, "message": message}
    if fields:
        body["fields"] = [{"field": f, "problem": p} for f, p in fields]
    return web.json_response({"error": body}, status=status, headers=headers or None)


class Refused(Exception):
    """Raised by a handler to answer with ``error(...)``."""

    def __init__(self, status: int, message: str, fields: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields


def not_found(what: str = "meeting") -> Refused:
    return Refused(404, f"no such {what}")


async def key_of(request: web.Request) -> ApiKey:
    """The key the request proves; 401 without a valid one."""
    key = await request.app[KEYS].of_request(request)
    if key is None:
        raise Refused(401, "a valid API key is needed: Authorization: Bearer <key>")
    return key


async def _read_body(request: web.Request) -> bytes:
    """The whole body, however it is split on the wire (``content.read(n)`` returns
    what has arrived so far, not n bytes); 413 as soon as it passes MAX_BODY_BYTES."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise Refused(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def json_body(request: web.Request) -> Any:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise Refused(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    kind = request.content_type
    if kind != "application/json":
        raise Refused(415, f"send application/json, not {kind or 'no content type'}")
    raw = await _read_body(request)
    try:
        return json_body_loads(raw)
    except ValueError as problem:
        raise Refused(400, f"the body is not JSON: {problem}") from None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json_refusal(answer: web.HTTPException) -> web.Response:
    """A refusal raised outside ``/api/`` (the operator pages' gate, an unknown route, a
    wrong method) as the same JSON error, its headers (WWW-Authenticate, Allow) kept."""
    message = (answer.text or "").strip()
    if not message or message == f"{answer.status}: {answer.reason}":  # aiohttp's default
        message = answer.reason
    kept = {
        name: value
        for name, value in answer.headers.items()
        if name.lower() in ("www-authenticate", "allow", "retry-after")
    }
    return error(answer.status, message, **kept)


@web.middleware
async def api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every request answered within ``REQUEST_LIMIT`` (else 503: a body sent too slowly
    holds a connection no longer) and every refusal a JSON error: on ``/api/`` routes
    whatever the handler raises, on the others (operator pages, webhooks, unknown routes)
    a refusal raised as an HTTP exception (answers a handler returns, like a webhook's
    acknowledgement, pass untouched)."""
    rest = request.path.startswith("/api/")
    limit = request.config_dict.get(REQUEST_LIMIT, REQUEST_SECONDS)
    try:
        async with asyncio.timeout(limit):
            return await handler(request)
    except Refused as refused:
        headers = {"WWW-Authenticate": BEARER} if refused.status == 401 else {}
        return error(refused.status, refused.message, refused.fields, **headers)
    except TimeoutError:
        return error(503, f"the request took longer than {limit:g} s")
    except web.HTTPException as answer:
        if answer.status < 400:
            raise
        return error(answer.status, answer.reason) if rest else _json_refusal(answer)
    except Exception:
        if not rest:
            raise
        log.exception("%s %s failed", request.method, request.path)
        return error(500, "internal error (logged)")
