"""Every backend counts its requests to the service in ``bridge_remote_calls_total{kind}``
(bridge.metrics; issue 11: remote calls by kind), whatever its wire."""

from __future__ import annotations

from prometheus_client import REGISTRY

from tests.contract.pull import listed
from tests.support.remote_events import meeting


def calls(kind: str) -> float:
    return REGISTRY.get_sample_value("bridge_remote_calls_total", {"kind": kind}) or 0.0


def test_remote_calls_are_counted_by_kind(driver):
    backend = driver.make_backend()
    try:
        before = calls(driver.kind)
        backend.create(meeting(), idempotency_key="binding-1/m-1")
        after_create = calls(driver.kind)
        assert after_create >= before + 1
        events, _ = listed(backend, None)
        assert [e.crm_meeting_id for e in events] == ["m-1"]
        assert calls(driver.kind) >= after_create + 1
    finally:
        backend.close()
