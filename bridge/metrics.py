"""The process's Prometheus metrics (prometheus_client), served at ``/metrics`` by the API.

Counted where they happen (bridge.wsgi_metrics, the scheduler, the backends' HTTP layers):

- ``bridge_caldav_requests_total{method,status}`` and ``bridge_caldav_request_seconds{method}``
- ``bridge_sync_rounds_total{kind,outcome}`` and ``bridge_sync_round_seconds{kind,outcome}``
  (outcome: ok, failed, lease_lost)
- ``bridge_remote_calls_total{kind}``, ``bridge_remote_retries_total{kind}``
- ``bridge_throttle_waits_total{kind}``, ``bridge_throttle_wait_seconds_total{kind}``

Read from the store at each scrape (``StoreCollector``, through bridge.store.status):

- ``bridge_changes_waiting{binding,kind}``: change-log rows a binding has not pushed yet
- ``bridge_push_channels_open``, ``bridge_leases_held``

Counters live in the process that counts them: a scrape of `bridge serve` sees its own
CalDAV requests and the rounds its scheduler ran, not those of separate `bridge worker`
processes; the store gauges are the same from any process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bridge.store import Store
from bridge.store import status as status_store

log = logging.getLogger("bridge.metrics")

CALDAV_METHODS = frozenset(
    "GET HEAD PUT DELETE POST OPTIONS PROPFIND PROPPATCH REPORT MKCOL MKCALENDAR MOVE COPY"
    " LOCK UNLOCK ACL".split()
)

CALDAV_REQUESTS = Counter(
    "bridge_caldav_requests", "CalDAV requests answered, by method and status", ["method", "status"]
)
CALDAV_SECONDS = Histogram(
    "bridge_caldav_request_seconds", "Time to answer a CalDAV request", ["method"]
)
ROUNDS = Counter("bridge_sync_rounds", "Sync rounds run, by kind and outcome", ["kind", "outcome"])
ROUND_SECONDS = Histogram(
    "bridge_sync_round_seconds",
    "Duration of a sync round",
    ["kind", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
REMOTE_CALLS = Counter("bridge_remote_calls", "Requests sent to calendar services", ["kind"])
REMOTE_RETRIES = Counter(
    "bridge_remote_retries", "Requests to calendar services sent again after a failure", ["kind"]
)
THROTTLE_WAITS = Counter(
    "bridge_throttle_waits", "Times a request waited for the service's rate limit", ["kind"]
)
THROTTLE_SECONDS = Counter(
    "bridge_throttle_wait_seconds", "Seconds spent waiting for rate limits", ["kind"]
)


def caldav_method(method: str) -> str:
    """The method label: one of the WebDAV/CalDAV methods, else "other" (bounded labels)."""
    upper = method.upper()
    return upper if upper in CALDAV_METHODS else "other"


def remote_call(kind: str, *, retry: bool = False) -> None:
    REMOTE_CALLS.labels(kind).inc()
    if retry:
        REMOTE_RETRIES.labels(kind).inc()


def throttled(kind: str, seconds: float) -> None:
    if seconds > 0:
        THROTTLE_WAITS.labels(kind).inc()
        THROTTLE_SECONDS.labels(kind).inc(seconds)


def round_done(kind: str, outcome: str, seconds: float) -> None:
    ROUNDS.labels(kind, outcome).inc()
    ROUND_SECONDS.labels(kind, outcome).observe(seconds)


class StoreCollector(Collector):
    """Gauges read from the store at scrape time."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = time.time()
        try:
            waiting, views, leases, channels = self.store.read(
                lambda conn: (
                    status_store.waiting_changes(conn),
                    status_store.bindings_status(conn),
                    status_store.leases_held(conn, now),
                    status_store.open_channels(conn, now),
                )
            )
        except Exception:  # noqa: BLE001 - a scrape answers without the store gauges
            log.warning("metrics: the store did not answer", exc_info=True)
            return
        lag = GaugeMetricFamily(
            "bridge_changes_waiting",
            "Change-log rows in the user's calendars a binding has not pushed yet",
            labels=["binding", "kind"],
        )
        for status in views:
            row = status.row
            if row.id in waiting:
                lag.add_metric([f"{row.login}/{row.name}", row.kind], waiting[row.id])
        yield lag
        yield GaugeMetricFamily("bridge_push_channels_open", "Push channels open", value=channels)
        yield GaugeMetricFamily("bridge_leases_held", "Binding leases held", value=leases)


def exposition(store_registry: CollectorRegistry) -> tuple[bytes, str]:
    """The scrape body (this process's counters, then the store gauges) and its type."""
    return generate_latest(REGISTRY) + generate_latest(store_registry), CONTENT_TYPE_LATEST


def store_registry(store: Store) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    return registry
