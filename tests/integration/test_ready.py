"""GET /ready: 503 with the reason until the schema is at the newest revision, then 200;
/health only asks whether the database answers. On SQLite and MariaDB."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from bridge.api.runner import start_in_thread
from bridge.api.webhooks import webhook_app
from bridge.store import Store
from bridge.store.migrate import upgrade
from bridge.store.readiness import head


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_ready_wants_the_schema_at_head(db_url):
    store = Store(db_url, migrate=False)
    _, base, stop = start_in_thread(webhook_app(store), "127.0.0.1", 0)
    try:
        assert _get(base + "/health") == (200, {"status": "ok"})
        status, body = _get(base + "/ready")
        assert status == 503
        assert body["status"] == "not ready"
        assert f"the database has no schema, this bridge needs {head()}" in body["reason"]
        upgrade(store.engine, "0011")
        status, body = _get(base + "/ready")
        assert status == 503 and "the schema is at 0011" in body["reason"]
        upgrade(store.engine)
        assert _get(base + "/ready") == (200, {"status": "ready", "revision": head()})
    finally:
        stop()
        store.dispose()


def test_ready_says_when_the_database_is_down():
    store = Store("mysql+pymysql://nobody@127.0.0.1:9/none", migrate=False)
    _, base, stop = start_in_thread(webhook_app(store), "127.0.0.1", 0)
    try:
        status, body = _get(base + "/ready")
        assert status == 503
        assert body["reason"].startswith("the database does not answer (")
    finally:
        stop()
        store.dispose()
