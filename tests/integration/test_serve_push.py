"""`bridge serve` with a Google binding and [api] on: push channels (the cases for every
backend kind are in tests/contract/test_serve_sync.py)."""

from __future__ import annotations

import time

import caldav

from bridge.config import load_config
from bridge.secret_keys import load_keyring
from bridge.store import binding_secrets
from bridge.store import bindings as binding_store
from bridge.wiring import open_store
from tests.support import server as support
from tests.support.google_toml import google_binding
from tests.support.http import vevent

CAL = "alice@example.com"


def start_with_binding(tmp_path, db_url, google_emulator, *, api: str = ""):
    """bridge serve with alice bound to the emulator (refresh token stored)."""
    user = google_emulator.add_user("alice@example.com")
    port = support.free_port()
    binding = google_binding(google_emulator)
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
