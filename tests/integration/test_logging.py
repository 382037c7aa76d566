"""`[logging]`: JSON lines with their context, and no configured secret in any line of any
command (DEBUG logging, a real `bridge serve` with sync rounds, CalDAV requests and the
status page, a worker, and every other command)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time

import caldav
import pytest

from bridge.cli import build_parser
from bridge.secret_box import generate_key
from tests.support.api_client import KEYS, keys_toml
from tests.support.cli import bridge
from tests.support.http import request, vevent
from tests.support.ops import CLIENT_SECRET, start_ops
from tests.support.radicale_server import start_radicale
from tests.support.server import free_port, wait_listening

#: Every test here opens the store first (start_ops: its first step migrates it): its
#: MariaDB database may come migrated (tests/conftest.py).
pytestmark = pytest.mark.migrated_first

#: Python's levels and Radicale's own (TRACE, NOTICE, ALERT).
LEVELS = {"TRACE", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT"}


def test_json_lines_carry_time_level_logger_binding_round_and_request_id(
    tmp_path, db_url, google_emulator
):
    ops = start_ops(
        tmp_path, db_url, google_emulator, top='[logging]\nformat = "json"\nlevel = "debug"'
    )
    try:
        ops.wait(lambda: ops.binding()["last_success_at"], "no first round")
        answer = request(
            ops.server.url, "PROPFIND", "/alice/", user="alice", headers={"Depth": "0"}
        )
        assert answer.status == 207
        request_id = answer.headers["x-request-id"]
        ops.wait(lambda: request_id in ops.server.output(), "the request was not logged")
    finally:
        ops.server.stop()
    lines = [line for line in ops.server.output().splitlines() if line.strip()]
    records = []
    for line in lines:
        record = json.loads(line)  # every line is one JSON object
        assert set(record) >= {
            "time",
            "level",
            "logger",
            "message",
            "binding",
            "round",
            "request_id",
        }
        assert record["time"].endswith("Z") and record["level"] in LEVELS
        records.append(record)
    rounds = [r for r in records if r["binding"] == "alice/google"]
    assert rounds and all(r["round"] for r in rounds)
    assert any(r["logger"].startswith("bridge.sync") for r in rounds)
    mine = [r for r in records if r["request_id"] == request_id]
    assert mine and any("PROPFIND" in r["message"] for r in mine)
    assert any(r["level"] == "DEBUG" for r in records)


def test_human_lines_stay_the_default(tmp_path, db_url, google_emulator):
    ops = start_ops(tmp_path, db_url, google_emulator)
    try:
        ops.wait(lambda: ops.binding()["last_success_at"], "no first round")
    finally:
        ops.server.stop()
    first = ops.server.output().splitlines()[0]
    assert not first.startswith("{") and " INFO " in first


def _commands(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> set[tuple[str, ...]]:
    found = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found |= _commands(sub, (*prefix, name)) or {(*prefix, name)}
    return found


def test_no_configured_secret_reaches_any_log_line(tmp_path, db_url, google_emulator):
    radicale = start_radicale(tmp_path / "radicale")
    key = generate_key()
    (tmp_path / "secret.key").write_text(key + "\n")
    os.chmod(tmp_path / "secret.key", 0o600)
    (tmp_path / "bob.password").write_text(radicale.password("bob") + "\n")
    os.chmod(tmp_path / "bob.password", 0o600)
    calendar = radicale.calendar("bob")
    ops = start_ops(
        tmp_path,
        db_url,
        google_emulator,
        top='[logging]\nlevel = "debug"\n\n[secrets]\nkey_file = "secret.key"',
        api=keys_toml(),
    )
    config = ops.config
    text = config.read_text()
    bob_binding = f"""
[[users.bindings]]
name = "radicale"
kind = "caldav"
[users.bindings.backend]
url = "{calendar}"
username = "bob"
password_file = "bob.password"
"""
    config.write_text(
        text.replace('can_see = ["alice"]\n', 'can_see = ["alice"]\n' + bob_binding, 1)
    )
    secrets = {
        "client secret": CLIENT_SECRET,
        "refresh token": ops.refresh_token,
        "secret key": key,
        "CalDAV password": radicale.password("bob"),
        "htpasswd password": "alice",  # alice's CalDAV and status page login
        "target database password": "move-target-pw-7f3a",
        "REST API key": KEYS["crm"][0],
    }
    output: list[str] = []
    run: set[tuple[str, ...]] = set()

    def command(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        done = bridge(*args, "--config", str(config), cwd=tmp_path, stdin=stdin)
        output.append(done.stdout + done.stderr)
        groups = ("db", "bindings", "secrets", "google", "graph", "api")
        run.add(tuple(args[:2]) if args[0] in groups else tuple(args[:1]))
        return done

    try:
        os.kill(ops.server.process.pid, signal.SIGHUP)  # bob's binding joins
        ops.wait(lambda: "configuration reloaded" in ops.server.output(), "no reload")
        ops.wait(
            lambda: len(ops.status()) == 2 and all(b["last_success_at"] for b in ops.status()),
            "no rounds",
        )
        client = caldav.DAVClient(url=ops.server.url + "/", username="alice", password="alice")
        meetings = [c for c in client.principal().calendars() if str(c.url).endswith("/meetings/")][
            0
        ]
        meetings.add_event(vevent("s-1", "Secretive", extra="ATTENDEE:mailto:bob@example.com"))
        ops.wait(
            lambda: (
                "Secretive"
                in {e.get("summary") for e in google_emulator.events("alice@example.com")}
            ),
            "not synced",
        )
        assert ops.get("/status").status == 200 and ops.get("/metrics").status == 200
        bearer = {"Authorization": f"Bearer {KEYS['crm'][0]}"}
        assert ops.get("/metrics", user=None, headers=bearer).status == 200
        made = request(
            ops.api_url,
            "POST",
            "/api/users/alice/meetings",
            json.dumps(
                {
                    "subject": "Via API",
                    "start": "2026-12-01T10:00Z",
                    "end": "2026-12-01T11:00Z",
                    "external_participants": [{"email": "ann@partner.test", "name": "Ann"}],
                }
            ),
            user=None,
            headers={**bearer, "Content-Type": "application/json"},
        )
        assert made.status == 201, made.body
        run.add(("serve",))
        metrics_port = free_port()
        worker = subprocess.Popen(
            [sys.executable, "-m", "bridge.cli", "worker", "--config", str(config)]
            + ["--metrics-listen", f"127.0.0.1:{metrics_port}"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        wait_listening("bridge worker", worker, metrics_port, 60, lambda: "", worker.kill)
        time.sleep(1)
        worker_url = f"http://127.0.0.1:{metrics_port}"
        for login in ({"user": "alice"}, {"user": None, "headers": bearer}):
            assert request(worker_url, "GET", "/metrics", **login).status == 200
        worker.send_signal(signal.SIGTERM)
        output.append(worker.communicate(timeout=60)[0])
        run.add(("worker",))
        command("status")
        command("sync", "alice")
        command("sync", "bob")
        command("check")
        command("reload")
        command("db", "upgrade")
        command("db", "prune")
        command("db", "wait", "--head")
        # an unreachable target whose URL carries a password: the failure must not show it
        target = "mysql+pymysql://bridge:move-target-pw-7f3a@127.0.0.1:1/bridge"
        assert command("db", "migrate-to-mysql", "--to", target).returncode != 0
        command("bindings", "prune", "--dry-run")
        command("secrets", "rotate")
        generated = bridge("secrets", "generate-key", cwd=tmp_path)
        output.append(generated.stderr)  # its stdout is a new key, the command's answer
        run.add(("secrets", "generate-key"))
        command("google", "authorize", "alice", stdin="not-a-code\n")
        command("graph", "authorize", "alice")  # alice has no graph binding: refused
        made_key = bridge("api", "new-key", cwd=tmp_path)
        output.append(made_key.stderr)  # its stdout is a new key, the command's answer
        run.add(("api", "new-key"))
        command("api", "hash-key", stdin=KEYS["crm"][0] + "\n")
        invited = json.loads(made.body)["uid"]
        assert command("invite", invited, "--preview").returncode == 0
        assert command("invite", invited, "--no-send").returncode == 0
        assert "held" in command("invite", invited, "--state").stdout
        assert command("invite", invited, "--cancel", "--no-send").returncode == 0
    finally:
        ops.server.stop()
        radicale.stop()
    output.append(ops.server.output())
    assert _commands(build_parser()) <= run, _commands(build_parser()) - run
    everything = "\n".join(output)
    assert "DEBUG" in everything  # debug logging was on
    for what, value in secrets.items():
        if what == "htpasswd password":
            continue  # five letters: too short to track; its Basic header is checked below
        assert value not in everything, f"the {what} is in the log"
    assert "YWxpY2U6YWxpY2U=" not in everything  # alice:alice as a Basic header
