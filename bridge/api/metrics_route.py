"""``GET /metrics``: the Prometheus exposition (bridge.metrics), behind the status page's
gate (Prometheus logs in with ``basic_auth`` in its scrape config)."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CollectorRegistry

from bridge.api.login import Gate
from bridge.metrics import exposition, store_registry
from bridge.store import Store

METRICS = web.AppKey("metrics", CollectorRegistry)
METRICS_GATE = web.AppKey("metrics_gate", Gate)


async def metrics(request: web.Request) -> web.Response:
    await request.app[METRICS_GATE].login(request)
    body, content_type = await asyncio.to_thread(exposition, request.app[METRICS])
    return web.Response(body=body, headers={"Content-Type": content_type})


def add_routes(app: web.Application, store: Store, gate: Gate) -> None:
    app[METRICS] = store_registry(store)
    app[METRICS_GATE] = gate
    app.router.add_get("/metrics", metrics)
