"""`bridge serve` with a Google binding: an event saved on a phone reaches Google."""

from __future__ import annotations

import time

import caldav

from bridge.config import load_config
from bridge.secret_keys import load_keyring
from bridge.store import binding_secrets
from bridge.store import bindings as binding_store
from bridge.wiring import open_store
from tests.support import server as support
from tests.support.http import vevent

CAL = "alice@example.com"


def start_with_binding(tmp_path, db_url, google_emulator, *, api: str = ""):
    """bridge serve with alice bound to the emulator (refresh token stored)."""
    user = google_emulator.add_user("alice@example.com")
    port = support.free_port()
    binding = f"""
[[users.bindings]]
name = "google"
kind = "google"
[users.bindings.backend]
client_id = "client-id"
client_secret = "secret"
api_endpoint = "{google_emulator.api_endpoint}"
batch_uri = "{google_emulator.batch_uri}"
token_uri = "{google_emulator.token_uri}"
"""
    config = support.write_config(tmp_path, db_url, port, alice_extra=binding)
    if api:
        config.write_text(config.read_text() + api)
    settings = load_config(config)
    store = open_store(settings)
    keyring = load_keyring(settings)
    row = store.read(lambda c: binding_store.by_login(c, "alice"))[0]
    secret = {"refresh_token": user.refresh_token}
    store.write(lambda tx: binding_secrets.set_secret(tx, row.id, secret, keyring))

    store.dispose()
    return support.start(config, port, cwd=tmp_path)


def meetings_calendar(server):
    client = caldav.DAVClient(url=server.url + "/", username="alice", password="alice")
    return [c for c in client.principal().calendars() if str(c.url).endswith("/meetings/")][0]


def test_phone_change_reaches_google_within_seconds(tmp_path, db_url, google_emulator):
    server = start_with_binding(tmp_path, db_url, google_emulator)
    try:
        cal = caldav.DAVClient(url=server.url + "/", username="alice", password="alice")
        meetings = [c for c in cal.principal().calendars() if str(c.url).endswith("/meetings/")][0]
        began = time.monotonic()
        meetings.add_event(
            vevent("phone-1", "Made on the phone", extra="ATTENDEE:mailto:eve@x.org")
        )
        while time.monotonic() - began < 20:
            found = [
                e
                for e in google_emulator.events("alice@example.com")
                if e.get("summary") == "Made on the phone"
            ]
            if found:
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"not in Google after 20 s:\n{server.output()[-3000:]}")
        assert "attendees" not in found[0]
        assert all(send == "none" for _, _, send in google_emulator.sent_updates)
    finally:
        server.stop()


def test_google_change_reaches_caldav_by_push(tmp_path, db_url, google_emulator):
    """With [api] on, a push channel makes a Google edit visible over CalDAV in seconds,
    far sooner than the 60 s polling interval."""
    api_port = support.free_port()
    api = f"""
[api]
enabled = true
port = {api_port}
public_url = "http://127.0.0.1:{api_port}"
"""
    server = start_with_binding(tmp_path, db_url, google_emulator, api=api)
    try:
        cal = meetings_calendar(server)
        cal.add_event(vevent("push-1", "Before"))
        deadline = time.monotonic() + 20
        while not any(e.get("summary") == "Before" for e in google_emulator.events(CAL)):
            assert time.monotonic() < deadline, server.output()[-3000:]
            time.sleep(0.2)
        while not [c for c in google_emulator.watches.channels.values() if not c.stopped]:
            assert time.monotonic() < deadline, server.output()[-3000:]
            time.sleep(0.2)
        event = next(e for e in google_emulator.events(CAL) if e.get("summary") == "Before")
        began = time.monotonic()
        google_emulator.edit(CAL, event["id"], summary="After (edited in Google)")
        while "After (edited in Google)" not in cal.event_by_uid("push-1").data:
            assert time.monotonic() - began < 10, server.output()[-3000:]
            time.sleep(0.2)
    finally:
        server.stop()


def test_serve_stops_syncing_a_binding_adopted_with_other_rules(tmp_path, db_url, google_emulator):
    """`bridge db upgrade` with another file while serve runs: the store now holds the new
    rules, so serve (whose file differs) refuses the binding and says why in its log."""
    import subprocess
    import sys

    server = start_with_binding(tmp_path, db_url, google_emulator)
    try:
        cal = meetings_calendar(server)
        cal.add_event(vevent("before-1", "Before the new file"))
        deadline = time.monotonic() + 20
        while not any(
            e.get("summary") == "Before the new file" for e in google_emulator.events(CAL)
        ):
            assert time.monotonic() < deadline, server.output()[-3000:]
            time.sleep(0.2)
        other = tmp_path / "other.toml"
        token_line = f'token_uri = "{google_emulator.token_uri}"\n'
        rules = '[users.bindings.rules]\nconflict_policy = "calendar-wins"\n'
        other.write_text(server.config.read_text().replace(token_line, token_line + rules, 1))
        adopted = subprocess.run(
            [sys.executable, "-m", "bridge.cli", "db", "upgrade", "--config", str(other)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert adopted.returncode == 0, adopted.stderr
        cal.add_event(vevent("after-1", "After the new file"))
        deadline = time.monotonic() + 6
        wanted = "rules.conflict_policy: stored 'calendar-wins', this configuration 'crm-wins'"
        while wanted not in server.output():
            assert time.monotonic() < deadline, server.output()[-3000:]
            time.sleep(0.2)
        time.sleep(2)
        summaries = {e.get("summary") for e in google_emulator.events(CAL)}
        assert "After the new file" not in summaries
        assert "binding alice/google" in server.output()
    finally:
        server.stop()
