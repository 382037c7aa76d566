"""Reload without restart, against a running `bridge serve`: SIGHUP and `bridge reload`
apply users, visibility and binding rules without dropping CalDAV connections or
interrupting a round; a file with a mistake is refused and the old one keeps running."""

from __future__ import annotations

import base64
import http.client
import os
import re
import signal
import subprocess
import sys
import time

import bcrypt
import pytest

from tests.support.cli import bridge
from tests.support.http import request, vevent
from tests.support.ops import start_ops

#: Every test here opens the store first (start_ops: its first step migrates it): its
#: MariaDB database may come migrated (tests/conftest.py).
pytestmark = pytest.mark.migrated_first

PROPFIND = """<?xml version="1.0" encoding="utf-8"?>
<propfind xmlns="DAV:"><prop><displayname/></prop></propfind>"""


def home_listing(conn: http.client.HTTPConnection, login: str, password: str) -> str:
    """PROPFIND Depth 1 of the user's home over a kept-alive connection."""
    token = base64.b64encode(f"{login}:{password}".encode()).decode()
    conn.request(
        "PROPFIND",
        f"/{login}/",
        body=PROPFIND,
        headers={"Authorization": f"Basic {token}", "Depth": "1"},
    )
    answer = conn.getresponse()
    body = answer.read().decode()
    assert answer.status == 207, (answer.status, body)
    return body


def wait_log(ops, text: str, seconds: float = 15, *, after: int = 0) -> str:
    deadline = time.monotonic() + seconds
    while text not in (log := ops.server.output())[after:]:
        assert time.monotonic() < deadline, f"{text!r} not logged:\n{log[-4000:]}"
        time.sleep(0.1)
    return log


def edit(config, old: str, new: str) -> None:
    text = config.read_text()
    assert old in text, old
    config.write_text(text.replace(old, new, 1))


def test_sighup_applies_users_visibility_and_rules_keeping_connections(
    tmp_path, db_url, google_emulator
):
    ops = start_ops(tmp_path, db_url, google_emulator)
    try:
        ops.wait(lambda: ops.binding()["last_success_at"], "no first round")
        port = int(ops.server.url.rsplit(":", 1)[1])
        dave = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        assert "meetings-bob" not in home_listing(dave, "dave", "dave")
        kept_socket = dave.sock
        alice = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        assert "meetings-carol" in home_listing(alice, "alice", "alice")

        # erin joins (htpasswd and config), dave may now see bob, alice no longer carol,
        # and the binding syncs calendar-wins.
        hashed = bcrypt.hashpw(b"erin-pass", bcrypt.gensalt(4)).decode()
        htpasswd = tmp_path / "users.htpasswd"
        htpasswd.write_text(htpasswd.read_text() + f"erin:{hashed}\n")
        edit(ops.config, 'can_see = ["bob", "carol"]', 'can_see = ["bob"]')
        edit(
            ops.config,
            'display_name = "Dave Dune"',
            'display_name = "Dave Dune"\ncan_see = ["bob"]',
        )
        edit(
            ops.config,
            '[[users]]\nlogin = "bob"',
            '[[users]]\nlogin = "erin"\nemail = "erin@example.com"\n\n[[users]]\nlogin = "bob"',
        )
        edit(
            ops.config,
            f'token_uri = "{google_emulator.token_uri}"',
            f'token_uri = "{google_emulator.token_uri}"\n[users.bindings.rules]\n'
            'conflict_policy = "calendar-wins"',
        )
        os.kill(ops.server.process.pid, signal.SIGHUP)
        wait_log(ops, "configuration reloaded from")

        assert "meetings-bob" in home_listing(dave, "dave", "dave")
        assert dave.sock is kept_socket  # the same connection, never dropped
        assert "meetings-carol" not in home_listing(alice, "alice", "alice")
        erin = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        assert "/erin/meetings/" in home_listing(erin, "erin", "erin-pass")

        # The binding's new rules are adopted: its next round runs with them, not refused.
        before = ops.binding()["last_success_at"]
        put = request(ops.server.url, "PUT", "/alice/meetings/r-1.ics", vevent("r-1", "After"))
        assert put.status == 201, put.body
        ops.wait(lambda: ops.binding()["last_success_at"] > before, "no round after reload")
        assert ops.binding()["refused"] == "" and ops.binding()["state"] != "failing"
        status = bridge("status", "--config", str(ops.config), cwd=tmp_path)
        assert "refused" not in status.stdout, status.stdout
        assert "reload refused" not in ops.server.output()
    finally:
        ops.server.stop()


def test_a_config_with_a_mistake_is_refused_and_the_old_one_keeps_running(
    tmp_path, db_url, google_emulator
):
    ops = start_ops(tmp_path, db_url, google_emulator)
    try:
        good = ops.config.read_text()
        edit(ops.config, 'email = "dave@example.com"', 'email = "dave-at-example.com"')
        edit(
            ops.config,
            'display_name = "Dave Dune"',
            'display_name = "Dave Dune"\ncan_see = ["bob"]',
        )
        mark = len(ops.server.output())
        os.kill(ops.server.process.pid, signal.SIGHUP)
        log = wait_log(ops, "reload refused", after=mark)
        line = next(x for x in log[mark:].splitlines() if "reload refused" in x)
        assert str(ops.config) in line  # the file,
        assert re.search(r"users\[3\]\.email: 'dave-at-example.com' is not an e-mail", line)
        assert "the running configuration stays" in line
        # The old configuration runs on: dave still sees nobody, CalDAV answers.
        answer = request(
            ops.server.url, "PROPFIND", "/dave/", PROPFIND, user="dave", headers={"Depth": "1"}
        )
        assert answer.status == 207 and "meetings-bob" not in answer.body

        # `bridge reload` checks the file first: nothing is signalled.
        refused = bridge("reload", "--config", str(ops.config), cwd=tmp_path)
        assert refused.returncode == 2
        assert "users[3].email" in refused.stderr
        assert "configuration reloaded" not in ops.server.output()

        ops.config.write_text(
            good.replace(
                'display_name = "Dave Dune"', 'display_name = "Dave Dune"\ncan_see = ["bob"]'
            )
        )
        asked = bridge("reload", "--config", str(ops.config), cwd=tmp_path)
        assert asked.returncode == 0, asked.stderr
        assert f"asked bridge serve (pid {ops.server.process.pid})" in asked.stdout
        wait_log(ops, "configuration reloaded from")
        answer = request(
            ops.server.url, "PROPFIND", "/dave/", PROPFIND, user="dave", headers={"Depth": "1"}
        )
        assert "meetings-bob" in answer.body
    finally:
        ops.server.stop()
    # The pid file went with the process: nothing left to signal.
    gone = bridge("reload", "--config", str(ops.config), cwd=tmp_path)
    assert gone.returncode == 1 and "no running bridge serve or worker" in gone.stdout


def test_a_round_in_progress_is_not_interrupted(tmp_path, db_url, google_emulator):
    ops = start_ops(tmp_path, db_url, google_emulator)
    try:
        first = ops.wait(lambda: ops.binding()["last_success_at"], "no first round")
        google_emulator.faults.slow(4, times=1, api="events.list")
        put = request(ops.server.url, "PUT", "/alice/meetings/s-1.ics", vevent("s-1", "Slow"))
        assert put.status == 201
        ops.wait(lambda: ops.binding()["state"] == "running", "the round did not start")
        mark = len(ops.server.output())
        edit(
            ops.config,
            'display_name = "Dave Dune"',
            'display_name = "Dave Dune"\ncan_see = ["bob"]',
        )
        os.kill(ops.server.process.pid, signal.SIGHUP)
        wait_log(ops, "configuration reloaded from", after=mark)
        assert ops.binding()["state"] == "running"  # reloaded while the round ran
        done = ops.wait(
            lambda: (b := ops.binding())["last_success_at"] > first and b, "the round did not end"
        )
        assert done["failures"] == 0 and done["last_error"] == ""
        assert "Slow" in {e.get("summary") for e in google_emulator.events("alice@example.com")}
        assert "failed" not in ops.server.output()[mark:]
    finally:
        ops.server.stop()


def test_bridge_reload_reaches_serve_and_every_worker(tmp_path, db_url, google_emulator):
    ops = start_ops(tmp_path, db_url, google_emulator)
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "bridge.cli", "worker", "--config", str(ops.config)],
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        pid_file = tmp_path / f"bridge-worker-{worker.pid}.pid"
        ops.wait(lambda: pid_file.exists(), "the worker wrote no pid file")
        edit(
            ops.config,
            'display_name = "Dave Dune"',
            'display_name = "Dave Dune"\ncan_see = ["bob"]',
        )
        asked = bridge("reload", "--config", str(ops.config), cwd=tmp_path)
        assert asked.returncode == 0, asked.stderr
        assert f"asked bridge serve (pid {ops.server.process.pid})" in asked.stdout
        assert f"asked bridge worker (pid {worker.pid})" in asked.stdout
        wait_log(ops, "configuration reloaded from")
        ops.wait(
            lambda: "configuration reloaded from" in (tmp_path / "worker.log").read_text(),
            "the worker did not reload",
        )
    finally:
        worker.terminate()
        worker.wait(30)
        log.close()
        ops.server.stop()
    assert not pid_file.exists()  # removed at a clean exit


def test_a_binding_removed_from_the_file_stops_at_the_reload(tmp_path, db_url, google_emulator):
    ops = start_ops(tmp_path, db_url, google_emulator)
    try:
        ops.wait(lambda: ops.binding()["last_success_at"], "no first round")
        text = ops.config.read_text()
        start = text.index("[[users.bindings]]")
        end = text.index("[[users]]", start)
        ops.config.write_text(text[:start] + text[end:])
        os.kill(ops.server.process.pid, signal.SIGHUP)
        wait_log(ops, "configuration reloaded from")
        row = ops.wait(lambda: (b := ops.binding())["retired_at"] and b, "not retired")
        assert row["next_run_at"] is None
        calls = sum(google_emulator.calls.values())
        put = request(ops.server.url, "PUT", "/alice/meetings/g-1.ics", vevent("g-1", "Gone"))
        assert put.status == 201
        time.sleep(3)  # a live binding would have synced it within a second or two
        assert sum(google_emulator.calls.values()) == calls
        assert "Gone" not in {e.get("summary") for e in google_emulator.events("alice@example.com")}
        assert "<td>retired</td>" in ops.get("/status/rows").body
    finally:
        ops.server.stop()
