"""Every route the HTTP API serves is in its authorisation matrix
(tests/support/api_matrix.py) and in its fuzz campaign (tests/fuzz/api_cases.py), and
every /api/ route is in the OpenAPI document: a route added to the app without joining
them fails here.

The apps are built as `bridge serve`/`bridge api` and `bridge worker` build them
(bridge.wiring, bridge.api.worker_metrics) and their routers are read; nothing is served."""

from __future__ import annotations

import re

import pytest

from bridge.api.openapi import document
from bridge.config import parse_config
from bridge.secret_box import generate_key
from bridge.wiring import Wiring
from tests.fuzz.api_cases import ROUTES as FUZZED
from tests.support.api_matrix import ROUTES


def _served(app) -> set[tuple[str, str]]:
    """(method, path template) of every route the app answers; aiohttp's HEAD twins of
    GET routes are left out (they answer as GET does)."""
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("formatter") or info.get("path")
        if route.method != "HEAD" and path:
            found.add((route.method, path))
    return found


def _matches(template: str, path: str) -> bool:
    pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
    return re.fullmatch(pattern, path.split("?", 1)[0]) is not None


@pytest.fixture
def wiring(tmp_path, monkeypatch) -> Wiring:
    monkeypatch.setenv("BRIDGE_TEST_KEYS", generate_key())
    data = {
        "server": {"auth": "none"},
        "store": {"url": f"sqlite:///{tmp_path}/bridge.db"},
        "secrets": {"key_env": "BRIDGE_TEST_KEYS"},
        "api": {"enabled": True},
        "users": [{"login": "alice", "email": "alice@example.com"}],
    }
    return Wiring(parse_config(data, file="bridge.toml", base_dir=tmp_path))


def test_every_served_route_is_in_the_matrix_and_the_document(wiring):
    store = wiring.store()
    try:
        served = _served(wiring.api_app(store))
    finally:
        store.dispose()
    assert len(served) > 15, served  # the app was read, not an empty router
    for method, template in sorted(served):
        cells = [r for r in ROUTES if r.method == method and _matches(template, r.path)]
        assert cells, f"{method} {template} is served but not in tests/support/api_matrix.py"
        fuzzed = [path for m, path, _ in FUZZED if m == method and _matches(template, path)]
        assert fuzzed, f"{method} {template} is served but not in tests/fuzz/api_cases.py"
    paths = document()["paths"]
    for method, template in sorted(served):
        if template.startswith("/api/"):
            assert method.lower() in paths.get(template, {}), (
                f"{method} {template} is served but not in the OpenAPI document"
            )


def test_the_document_names_no_route_that_is_not_served(wiring):
    store = wiring.store()
    try:
        served = _served(wiring.api_app(store))
    finally:
        store.dispose()
    for template, operations in document()["paths"].items():
        for method in operations:
            if method in {"get", "put", "post", "patch", "delete"}:
                assert (method.upper(), template) in served, f"{method} {template}"


def test_the_worker_app_serves_only_routes_the_matrix_covers(wiring):
    """`bridge worker`'s listener ([worker] metrics_listen): /metrics behind the same gate
    as serve's (tests/integration/test_worker_metrics.py asks it with every kind of
    credential) and /health; nothing the matrix does not know."""
    from bridge.api.worker_metrics import metrics_app

    store = wiring.store()
    try:
        served = _served(metrics_app(store, wiring.admin_gate()))
    finally:
        store.dispose()
    assert ("GET", "/metrics") in served
    for method, template in served:
        assert any(r.method == method and _matches(template, r.path) for r in ROUTES), template
