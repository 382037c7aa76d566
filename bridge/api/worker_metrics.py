"""`bridge worker`'s own HTTP listener (``[worker] metrics_listen``): ``GET /metrics`` with
the same families as `bridge serve`'s (bridge.metrics: this process's counters - its
rounds, remote calls, retries, throttling waits - then the store gauges), behind the same
gate (bridge.api.login), and ``GET /health``. Nothing else is served here: no webhooks,
no REST, no status page."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web

from bridge.api import metrics_route
from bridge.api.login import Gate
from bridge.api.rest_common import api_errors
from bridge.config.worker import Listen
from bridge.store import Store

log = logging.getLogger("bridge.worker")


def metrics_app(store: Store, gate: Gate) -> web.Application:
    """/metrics and /health of a worker."""
    from bridge.api.webhooks import STORE, health

    app = web.Application(middlewares=[api_errors], client_max_size=64 * 1024)
    app[STORE] = store
    metrics_route.add_routes(app, store, gate)
    app.router.add_get("/health", health)
    return app


def start_metrics(store: Store, gate: Gate, listen: Listen) -> tuple[str, Callable[[], None]]:
    """Serve a worker's /metrics on ``listen`` from a daemon thread: (base URL, stop).
    A failure to listen (address in use, no such address) is raised here as OSError."""
    from bridge.api.runner import start_in_thread

    _, url, stop = start_in_thread(metrics_app(store, gate), listen.host, listen.port)
    log.info("worker metrics on %s/metrics", url)
    return url, stop
