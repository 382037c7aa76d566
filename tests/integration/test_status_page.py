"""The live status page's HTTP side (the browser side: test_status_browser.py): who may
open it, what it lists, and "sync now" with its CSRF guard, against a running
`bridge serve`."""

from __future__ import annotations

import re
import time

import pytest

from tests.support.cli import bridge
from tests.support.http import request
from tests.support.ops import start_ops

#: Every test here opens the store first (start_ops: its first step migrates it): its
#: MariaDB database may come migrated (tests/conftest.py).
pytestmark = pytest.mark.migrated_first


def test_status_page_lists_the_binding_as_bridge_status_does(tmp_path, db_url, google_emulator):
    ops = start_ops(tmp_path, db_url, google_emulator)
    try:
        found = ops.wait(lambda: ops.binding()["last_success_at"], "no first round")
        row = ops.binding()
        assert (row["login"], row["name"], row["kind"], row["state"]) == (
            "alice",
            "google",
            "google",
            "idle",
        )
        assert found > 0 and row["last_error"] == "" and row["next_run_at"] > time.time()
        page = ops.get("/status")
        assert page.status == 200 and page.headers["content-type"].startswith("text/html")
        assert 'data-state="idle"' in page.body and "<td>alice</td>" in page.body
        assert page.headers["cache-control"] == "no-store"
        status = bridge("status", "--config", str(ops.config), cwd=tmp_path)
        assert status.returncode == 0, status.stderr
        assert "alice/google (google)" in status.stdout
        assert "  state:        idle" in status.stdout
    finally:
        ops.server.stop()


def test_only_admins_get_in(tmp_path, db_url, google_emulator):
    ops = start_ops(tmp_path, db_url, google_emulator)
    try:
        for path in ("/status", "/status/rows", "/status.json", "/metrics"):
            anonymous = ops.get(path, user=None)
            assert anonymous.status == 401, path
            assert anonymous.headers["www-authenticate"].startswith("Basic ")
            assert ops.get(path, user="alice", password="wrong").status == 401, path
            refused = ops.get(path, user="bob")  # a CalDAV user, not an admin
            assert refused.status == 403 and "'bob' is not in api.admins" in refused.body
            assert ops.get(path).status == 200, path
        assert ops.get("/health", user=None).status == 200  # health stays open
    finally:
        ops.server.stop()


def _token(page: str) -> str:
    return re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', page).group(1)


def test_sync_now_needs_the_page_token_and_the_same_origin(tmp_path, db_url, google_emulator):
    ops = start_ops(tmp_path, db_url, google_emulator)
    try:
        first = ops.wait(lambda: ops.binding()["last_success_at"], "no first round")
        binding = ops.binding()["id"]
        path = f"/status/bindings/{binding}/sync"
        token = _token(ops.get("/status").body)
        post = lambda **headers: request(ops.api_url, "POST", path, headers=headers)  # noqa: E731
        assert post().status == 403  # no token: what a cross-site form sends
        assert post(**{"X-Bridge-CSRF": "0" * 64}).status == 403
        cross = post(**{"X-Bridge-CSRF": token, "Origin": "http://evil.example"})
        assert cross.status == 403 and "cross-origin" in cross.body
        bob = request(ops.api_url, "POST", path, user="bob", headers={"X-Bridge-CSRF": token})
        assert bob.status == 403
        time.sleep(1.1)
        assert ops.binding()["last_success_at"] == first  # nothing ran: poll is an hour
        same = f"http://{ops.api_url.split('//')[1]}"
        accepted = post(**{"X-Bridge-CSRF": token, "Origin": same})
        assert accepted.status == 202, accepted.body
        ops.wait(lambda: ops.binding()["last_success_at"] > first, "sync now ran no round", 10)
        missing = request(
            ops.api_url, "POST", "/status/bindings/999/sync", headers={"X-Bridge-CSRF": token}
        )
        assert missing.status == 404
    finally:
        ops.server.stop()


def test_a_failing_binding_says_why_in_plain_words(tmp_path, db_url, google_emulator):
    ops = start_ops(tmp_path, db_url, google_emulator)
    try:
        ops.wait(lambda: ops.binding()["last_success_at"], "no first round")
        google_emulator.faults.error(404, "notFound", times=1000)
        token = _token(ops.get("/status").body)
        binding = ops.binding()["id"]
        request(
            ops.api_url,
            "POST",
            f"/status/bindings/{binding}/sync",
            headers={"X-Bridge-CSRF": token},
        )
        row = ops.wait(
            lambda: (b := ops.binding())["state"] == "failing" and b, "the round did not fail"
        )
        assert row["last_error"].startswith("The calendar was not found: ")
        assert row["failures"] == 1
        assert 'data-state="failing"' in ops.get("/status/rows").body
        status = bridge("status", "--config", str(ops.config), cwd=tmp_path)
        assert "  state:        failing" in status.stdout
        assert "last error:" in status.stdout and "The calendar was not found" in status.stdout
    finally:
        ops.server.stop()


def test_the_push_channel_expiry_is_shown_and_counted(tmp_path, db_url, google_emulator):
    ops = start_ops(
        tmp_path, db_url, google_emulator, api='public_url = "http://127.0.0.1:{api_port}"'
    )
    try:
        row = ops.wait(
            lambda: (b := ops.binding())["channel_expires_at"] and b, "no push channel opened"
        )
        assert abs(row["channel_expires_at"] - (time.time() + 86400)) < 600
        assert re.search(
            r"<td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in 2[34] h\)</td>",
            ops.get("/status/rows").body,
        )
        metrics = ops.get("/metrics").body
        assert "bridge_push_channels_open 1.0" in metrics
        status = bridge("status", "--config", str(ops.config), cwd=tmp_path)
        assert "  push channel: open until " in status.stdout
    finally:
        ops.server.stop()
