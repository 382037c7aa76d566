"""The live status page: ``GET /status`` lists every binding and updates itself.

- ``GET /status``: the page (HTML from bridge/api/templates, no JavaScript framework: a
  small script asks for ``/status/rows`` every ``POLL_SECONDS`` and swaps the table body,
  so a round that fails shows within seconds without a reload);
- ``GET /status/rows``: the table body alone; ``GET /status.json``: the same as JSON;
- ``POST /status/bindings/{id}/sync``: "sync now" makes the binding due at once
  (bridge.store.bindings.request_run, what a local change does); the round starts on the
  scheduler's next tick.

Every route is behind bridge.api.login's gate. The POST is CSRF-safe twice over: it
needs the ``X-Bridge-CSRF`` header carrying the token the page was rendered with (an
HMAC of the login under a per-process key: a cross-site form cannot set headers, and a
cross-site script cannot read the page), and a request whose ``Origin`` names another
origin is refused.

The rows come from bridge.sync.status.status_views, the function `bridge status` uses.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict
from urllib.parse import urlsplit

import jinja2
from aiohttp import web

from bridge.api.login import Gate
from bridge.store import Store
from bridge.store import bindings as binding_store
from bridge.store.changes import Tx
from bridge.sync.status import RulesCheck, StatusView, status_views

POLL_SECONDS = 2
CSRF_HEADER = "X-Bridge-CSRF"

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("bridge.api", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
)


class StatusSource:
    """What the page needs: the store, the gate, and the rules check of the current
    configuration (``rules`` is a function so a reload can swap what it returns)."""

    def __init__(self, store: Store, gate: Gate, rules: Callable[[], RulesCheck]) -> None:
        self.store = store
        self.gate = gate
        self.rules = rules
        self._key = secrets.token_bytes(32)

    def csrf_token(self, login: str) -> str:
        return hmac.new(self._key, login.encode("utf-8"), hashlib.sha256).hexdigest()

    async def views(self) -> list[StatusView]:
        rules = self.rules()
        return await asyncio.to_thread(status_views, self.store, rules)


STATUS = web.AppKey("status", StatusSource)


def _ago(epoch: float | None, now: float) -> str:
    if not epoch:
        return "never"
    return f"{_clock(epoch)} ({_span(now - epoch)} ago)"


def _ahead(epoch: float | None, now: float) -> str:
    if epoch is None:
        return "-"
    if epoch <= now:
        return "now"
    return f"{_clock(epoch)} (in {_span(epoch - now)})"


def _clock(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def _span(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def _rows_html(views: list[StatusView]) -> str:
    now = time.time()
    return _TEMPLATES.get_template("status_rows.html").render(
        views=views, ago=lambda e: _ago(e, now), ahead=lambda e: _ahead(e, now)
    )


async def page(request: web.Request) -> web.Response:
    source = request.app[STATUS]
    login = await source.gate.login(request)
    views = await source.views()
    html = _TEMPLATES.get_template("status.html").render(
        rows=_rows_html(views),
        csrf=source.csrf_token(login),
        login=login,
        poll_ms=POLL_SECONDS * 1000,
    )
    return web.Response(text=html, content_type="text/html", headers=_NO_STORE)


async def rows(request: web.Request) -> web.Response:
    source = request.app[STATUS]
    await source.gate.login(request)
    html = _rows_html(await source.views())
    return web.Response(text=html, content_type="text/html", headers=_NO_STORE)


async def as_json(request: web.Request) -> web.Response:
    source = request.app[STATUS]
    await source.gate.login(request)
    views = await source.views()
    return web.json_response({"bindings": [asdict(v) for v in views]}, headers=_NO_STORE)


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # same-origin fetches may omit it; the token still has to match
    parts = urlsplit(origin)
    return f"{parts.netloc}".lower() == request.host.lower()


async def sync_now(request: web.Request) -> web.Response:
    source = request.app[STATUS]
    login = await source.gate.login(request)
    if not _same_origin(request):
        raise web.HTTPForbidden(text="cross-origin request refused\n")
    token = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(token.encode("utf-8"), source.csrf_token(login).encode("utf-8")):
        raise web.HTTPForbidden(text=f"missing or wrong {CSRF_HEADER} token: reload the page\n")
    raw = request.match_info["binding_id"]
    # a stored id: 1 to 18 ASCII digits (int() would take "٣", "1_0" or a number no
    # database column holds)
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise web.HTTPNotFound(text="no such binding\n")
    binding_id = int(raw)

    def ask(tx: Tx) -> bool:
        row = binding_store.get(tx.conn, binding_id)
        if row is None or row.retired_at is not None:
            return False
        binding_store.request_run(tx, [binding_id])
        return True

    if not await asyncio.to_thread(source.store.write, ask):
        raise web.HTTPNotFound(text="no such binding, or it is retired\n")
    return web.json_response({"binding": binding_id, "requested": True}, status=202)


_NO_STORE = {"Cache-Control": "no-store"}


def add_routes(app: web.Application, source: StatusSource) -> None:
    app[STATUS] = source
    app.router.add_get("/status", page)
    app.router.add_get("/status/rows", rows)
    app.router.add_get("/status.json", as_json)
    app.router.add_post(r"/status/bindings/{binding_id}/sync", sync_now)
