"""``GET /ready``: 200 ``{"status": "ready", "revision": ...}`` when the store answers and
its schema is at the newest revision, else 503 with the reason (a container's health
check, a load balancer's readiness probe). ``/health`` only asks whether the database
answers."""

from __future__ import annotations

import asyncio

from aiohttp import web

from bridge.store import Store
from bridge.store.readiness import head, problem


def ready_handler(store_key: web.AppKey[Store]):  # noqa: ANN201 - an aiohttp handler
    async def ready(request: web.Request) -> web.Response:
        store = request.app[store_key]
        reason = await asyncio.to_thread(problem, store.engine)
        if reason:
            return web.json_response({"status": "not ready", "reason": reason}, status=503)
        return web.json_response({"status": "ready", "revision": head()})

    return ready
