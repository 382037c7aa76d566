"""A meeting written over the REST API travels like one written over CalDAV: it lands in
the store with the origin ``api:<key name>``, shows in a real CalDAV client's
sync-collection report, and the change log carries it to alice's Google binding (the
emulator) — created, changed and deleted, with nobody mailed and no internal notes."""

from __future__ import annotations

import caldav

from bridge.config import load_config
from bridge.store import meetings as meeting_store
from bridge.wiring import open_store
from tests.support.api_client import meeting, start_api


def _calendar(server, login: str) -> caldav.Calendar:
    client = caldav.DAVClient(url=server.url + "/", username=login, password=login)
    return next(
        c for c in client.principal().calendars() if str(c.url).rstrip("/").endswith("/meetings")
    )


def _google(google, subject: str | None = None):
    events = google.events("alice@example.com")
    return [e for e in events if subject is None or e.get("summary") == subject]


def test_api_meeting_reaches_caldav_and_google(tmp_path, db_url, google_emulator):
    api = start_api(tmp_path, db_url, google_emulator)
    try:
        ops = api.ops
        ops.wait(lambda: ops.binding()["last_success_at"], "no first round")
        alice_cal, bob_cal = _calendar(ops.server, "alice"), _calendar(ops.server, "bob")
        alice_token = alice_cal.objects_by_sync_token(load_objects=False).sync_token
        bob_token = bob_cal.objects_by_sync_token(load_objects=False).sync_token

        made = api.create(
            "alice",
            meeting(
                "Launch plan",
                internal_attendees=["bob"],
                internal_notes="confidential margin",
                external_participants=[{"email": "eve@partner.example", "name": "Eve"}],
            ),
        )
        uid = made["uid"]
        store = open_store(load_config(ops.config), adopt=False)
        try:
            row = store.read(lambda c: meeting_store.by_uid(c, uid))
            assert row.origin == "api:crm"
        finally:
            store.dispose()
        for cal, token in ((alice_cal, alice_token), (bob_cal, bob_token)):
            delta = cal.objects_by_sync_token(sync_token=token, load_objects=True)
            texts = [obj.data for obj in delta]
            assert len(texts) == 1 and f"UID:{uid}" in texts[0] and "Launch plan" in texts[0]

        (pushed,) = ops.wait(lambda: _google(google_emulator, "Launch plan"), "not pushed", 20)
        assert not pushed.get("attendees")  # sync never invites anyone
        assert "confidential" not in str(pushed)
        assert google_emulator.would_mail() == []

        api.call("PATCH", f"/api/meetings/{uid}", json={"subject": "Launch plan v2"})
        ops.wait(lambda: _google(google_emulator, "Launch plan v2"), "change not pushed", 20)
        assert api.call("DELETE", f"/api/meetings/{uid}").status_code == 204
        ops.wait(lambda: not _google(google_emulator, "Launch plan v2"), "delete not pushed", 20)
        for cal in (alice_cal, bob_cal):
            try:
                cal.event_by_uid(uid)
            except caldav.error.NotFoundError:
                continue
            raise AssertionError(f"{uid} still in {cal.url}")
        assert google_emulator.would_mail() == []
    finally:
        api.stop()
