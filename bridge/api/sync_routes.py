"""REST routes for sync status and "sync now", per user and binding.

- ``GET /api/users/{login}/bindings``: the user's bindings as ``bridge status`` and the
  status page show them (bridge.sync.status.status_views, one read for all three);
- ``GET /api/users/{login}/bindings/{name}``: one of them;
- ``POST /api/users/{login}/bindings/{name}/sync``: make it due now
  (bridge.store.bindings.request_run, as a webhook does); 202.

A key acting for someone else gets 403; an unknown binding of a user it acts for 404, and
so does a user the store does not know (a key for every user covers any name).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from aiohttp import web

from bridge.api.rest_common import Refused, key_of, not_found
from bridge.store import Store, users
from bridge.store import bindings as binding_store
from bridge.store.changes import Tx
from bridge.sync.status import RulesCheck, StatusView, status_views

SYNC_STORE = web.AppKey("sync_store", Store)
SYNC_RULES = web.AppKey("sync_rules", Callable[[], RulesCheck])  # type: ignore[arg-type]


def _json(view: StatusView) -> dict[str, Any]:
    return asdict(view)


async def _views_of(request: web.Request) -> tuple[str, list[StatusView]]:
    key = await key_of(request)
    login = request.match_info["login"]
    if not key.covers(login):
        raise Refused(403, f"this key does not act for {login!r}")
    store, rules = request.app[SYNC_STORE], request.app[SYNC_RULES]()
    views = await asyncio.to_thread(status_views, store, rules)
    mine = [v for v in views if v.login == login]
    if not mine:  # no bindings, or no such user (a key for every user covers any name)
        known = await asyncio.to_thread(store.read, lambda c: users.email_of(c, login))
        if known is None:
            raise not_found("user")
    return login, mine


async def bindings(request: web.Request) -> web.Response:
    _, views = await _views_of(request)
    return web.json_response({"bindings": [_json(v) for v in views]})


def _one(views: list[StatusView], name: str) -> StatusView:
    for view in views:
        if view.name == name:
            return view
    raise not_found("binding")


async def binding(request: web.Request) -> web.Response:
    _, views = await _views_of(request)
    return web.json_response(_json(_one(views, request.match_info["name"])))


async def sync_now(request: web.Request) -> web.Response:
    _, views = await _views_of(request)
    view = _one(views, request.match_info["name"])
    if view.retired_at is not None:
        raise Refused(409, "this binding is retired (gone from the configuration)")

    def ask(tx: Tx) -> None:
        binding_store.request_run(tx, [view.id])

    await asyncio.to_thread(request.app[SYNC_STORE].write, ask)
    return web.json_response({"binding": view.name, "requested": True}, status=202)


def add_routes(app: web.Application, store: Store, rules: Callable[[], RulesCheck]) -> None:
    app[SYNC_STORE] = store
    app[SYNC_RULES] = rules
    app.router.add_get("/api/users/{login}/bindings", bindings)
    app.router.add_get("/api/users/{login}/bindings/{name}", binding)
    app.router.add_post("/api/users/{login}/bindings/{name}/sync", sync_now)
