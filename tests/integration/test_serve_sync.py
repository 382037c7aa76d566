"""`bridge serve` with a Google binding: an event saved on a phone reaches Google."""

from __future__ import annotations

import time

import caldav

from bridge.config import load_config
from bridge.server import open_store
from bridge.store import bindings as binding_store
from tests.support import server as support
from tests.support.http import vevent


def test_phone_change_reaches_google_within_seconds(tmp_path, db_url, google_emulator):
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
    store = open_store(load_config(config))
    row = store.read(lambda c: binding_store.by_login(c, "alice"))[0]
    store.write(
        lambda tx: binding_store.set_secret(tx, row.id, {"refresh_token": user.refresh_token})
    )

    server = support.start(config, port, cwd=tmp_path)
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
        store.dispose()
