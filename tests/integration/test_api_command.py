"""`bridge api`: the HTTP API in a process of its own (api.standalone = true). `bridge serve`
then serves CalDAV and syncs but neither the API nor the push channels; `bridge api` serves
the REST API and webhooks and keeps the channels, so exactly one process does."""

from __future__ import annotations

import subprocess
import sys
import time

import requests

from bridge.api.keys import hash_key
from tests.integration.test_serve_push import CAL, meetings_calendar, start_with_binding
from tests.support import server as support
from tests.support.cli import bridge

KEY = "crmb_cli-test-0123456789abcdef0123456789abcdef"


def _open_channels(google) -> list:
    return [c for c in google.watches.channels.values() if not c.stopped]


def _wait(check, what: str, output, seconds: float = 20):
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, f"{what}:\n{output()[-3000:]}"
        time.sleep(0.2)
    return found


def test_bridge_api_serves_alone_and_keeps_the_channels(tmp_path, db_url, google_emulator):
    api_port = support.free_port()
    api = f"""
[api]
enabled = true
standalone = true
port = {api_port}
public_url = "http://127.0.0.1:{api_port}"

[[api.keys]]
name = "crm"
hash = "{hash_key(KEY)}"
users = ["*"]
"""
    server = start_with_binding(tmp_path, db_url, google_emulator, api=api)
    log = tmp_path / "api.log"
    process = None
    try:
        _wait(
            lambda: "API not served here" in server.output(), "serve served the API", server.output
        )
        cal = meetings_calendar(server)  # CalDAV and sync run in serve: a round has run
        time.sleep(1.5)
        assert _open_channels(google_emulator) == []  # serve keeps no channel
        process = subprocess.Popen(
            [sys.executable, "-m", "bridge.cli", "api", "--config", str(server.config)],
            cwd=tmp_path,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        output = lambda: log.read_text(errors="replace")  # noqa: E731
        support.wait_listening("bridge api", process, api_port, 30, output, process.kill)
        base = f"http://127.0.0.1:{api_port}"
        auth = {"Authorization": f"Bearer {KEY}"}
        made = requests.post(
            f"{base}/api/users/alice/meetings",
            headers=auth,
            json={
                "subject": "Via bridge api",
                "start": "2026-12-03T10:00:00Z",
                "end": "2026-12-03T11:00:00Z",
            },
            timeout=30,
        )
        assert made.status_code == 201, made.text
        assert "Via bridge api" in cal.event_by_uid(made.json()["uid"]).data  # CalDAV sees it
        _wait(
            lambda: any(e.get("summary") == "Via bridge api" for e in google_emulator.events(CAL)),
            "not pushed to Google",
            server.output,
        )
        _wait(lambda: _open_channels(google_emulator), "bridge api opened no channel", output)
        assert len(_open_channels(google_emulator)) == 1
        process.terminate()
        assert process.wait(20) == 0, output()
        assert _open_channels(google_emulator) == []  # stopped with the process
        assert KEY not in output() and KEY not in server.output()
    finally:
        if process is not None and process.poll() is None:
            process.kill()
        server.stop()


def test_bridge_api_needs_standalone(tmp_path, db_url, google_emulator):
    config = tmp_path / "bridge.toml"
    support.write_config(tmp_path, db_url, support.free_port())
    config.write_text(config.read_text() + "\n[api]\nenabled = true\n")
    ran = bridge("api", "--config", str(config), cwd=tmp_path, timeout=60)
    assert ran.returncode == 2
    assert "api.standalone" in ran.stderr and "bridge serve" in ran.stderr


def test_key_helpers(tmp_path):
    made = bridge("api", "new-key", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    key = made.stdout.split("it is not shown again): ")[1].split()[0]
    assert f'hash = "{hash_key(key)}"' in made.stdout and key.startswith("crmb_")
    hashed = bridge("api", "hash-key", cwd=tmp_path, stdin=key + "\n")
    assert hashed.stdout.strip() == hash_key(key)
    assert bridge("api", "hash-key", cwd=tmp_path).returncode == 2
