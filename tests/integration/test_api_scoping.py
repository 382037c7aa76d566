"""Who may do what with an API key (against a running `bridge serve`): 401 without a valid
key, 403 outside its scope, 404 for a meeting it may not see (exactly as for one that does
not exist), private meetings as busy time only, sync status and "sync now", and the admin
key on /status and /metrics."""

from __future__ import annotations

import time

import pytest

from tests.support.api_client import KEYS, meeting, start_api


@pytest.fixture
def api(tmp_path, db_url, google_emulator):
    client = start_api(tmp_path, db_url, google_emulator)
    yield client
    client.stop()


def test_no_valid_key_is_401(api):
    for token in (None, "", "crmb_wrong", KEYS["crm"][0] + "x"):
        if token is None:
            answer = api.call("GET", "/api/users/alice/meetings", key=None)
        else:
            answer = api.call("GET", "/api/meetings/x", token=token)
        assert answer.status_code == 401, token
        assert answer.headers["WWW-Authenticate"].startswith("Bearer ")
        assert answer.json()["error"]["status"] == 401
    basic = api.call(
        "GET", "/api/meetings/x", key=None, headers={"Authorization": "Basic YWxpY2U6YWxpY2U="}
    )
    assert basic.status_code == 401  # CalDAV passwords are no API keys
    assert api.call("GET", "/api/openapi.json", key=None).status_code == 200


def test_scope_403_and_hidden_meetings_404(api):
    daves = api.create("dave", meeting("Dave's own"))["uid"]
    missing = api.call("GET", "/api/meetings/no-such-uid", key="alice")
    hidden = api.call("GET", f"/api/meetings/{daves}", key="alice")  # alice may not see dave
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()  # the same answer: no leak that it exists
    for method, body in (("PATCH", {"subject": "x"}), ("PUT", meeting()), ("DELETE", None)):
        assert api.call(method, f"/api/meetings/{daves}", key="alice", json=body).status_code == 404
    assert (
        api.call("POST", "/api/users/bob/meetings", key="alice", json=meeting()).status_code == 403
    )
    assert (
        api.call("POST", "/api/users/nobody/meetings", key="alice", json=meeting()).status_code
        == 403
    )
    assert api.call("POST", "/api/users/nobody/meetings", json=meeting()).status_code == 404
    window = {"start": "2026-12-01T00:00:00Z", "end": "2026-12-31T00:00:00Z"}
    assert (
        api.call("GET", "/api/users/dave/meetings", key="alice", params=window).status_code == 403
    )
    # alice may see bob's calendar (can_see): his meeting in full, but not change it
    bobs = api.create("bob", meeting("Bob's open meeting"), key="bob")["uid"]
    seen = api.call("GET", f"/api/meetings/{bobs}", key="alice")
    assert seen.status_code == 200 and seen.json()["subject"] == "Bob's open meeting"
    assert (
        api.call("PATCH", f"/api/meetings/{bobs}", key="alice", json={"subject": "x"}).status_code
        == 403
    )
    assert api.call("DELETE", f"/api/meetings/{bobs}", key="alice").status_code == 403
    # alice's key may not make bob organise a meeting; a meeting with bob invited is fine
    as_bob = api.call(
        "POST", "/api/users/alice/meetings", key="alice", json=meeting(organiser="bob")
    )
    assert as_bob.status_code == 403
    invited = api.create("alice", meeting(internal_attendees=["bob"]), key="alice")
    bob_sees = api.call("GET", "/api/users/bob/meetings", key="bob", params=window).json()
    assert invited["uid"] in {m["uid"] for m in bob_sees["meetings"]}


def test_booking_on_someones_behalf(api):
    """carol may book for bob (can_book_for): her key makes bob the organiser."""
    made = api.create("carol", meeting("For Bob", organiser="bob"), key="carol")
    assert (made["organiser"], made["booked_by"]) == ("bob", "carol")
    window = {"start": "2026-12-01T00:00:00Z", "end": "2026-12-31T00:00:00Z"}
    bobs = api.call("GET", "/api/users/bob/meetings", key="bob", params=window).json()
    assert [m["uid"] for m in bobs["meetings"]] == [made["uid"]]
    changed = api.call("PATCH", f"/api/meetings/{made['uid']}", key="carol", json={"location": "B"})
    assert changed.status_code == 200 and changed.json()["booked_by"] == "carol"
    # alice may not book for bob, even handing him her own meeting
    mine = api.create("alice", meeting("Mine"), key="alice")
    handed = api.call(
        "PATCH", f"/api/meetings/{mine['uid']}", key="alice", json={"organiser": "bob"}
    )
    assert handed.status_code == 403


def test_private_meeting_is_busy_time_to_a_non_participant(api):
    secret = api.create(
        "bob",
        meeting(
            "Salary talk", private=True, location="HR", internal_notes="raise", description="d"
        ),
        key="bob",
    )
    assert secret["subject"] == "Salary talk"  # bob takes part: in full
    busy = api.call("GET", f"/api/meetings/{secret['uid']}", key="alice").json()
    assert busy == {
        "uid": secret["uid"],
        "start": secret["start"],
        "end": secret["end"],
        "time_zone": "Europe/Copenhagen",
        "all_day": False,
        "busy": "busy",
        "recurrence": None,
        "private": True,
        "busy_only": True,
    }
    window = {"start": "2026-12-01T00:00:00Z", "end": "2026-12-31T00:00:00Z"}
    listed = api.call("GET", "/api/users/bob/meetings", key="alice", params=window).json()
    assert listed["meetings"] == [busy]
    assert (
        "Salary" not in api.call("GET", "/api/users/bob/meetings", key="alice", params=window).text
    )
    assert api.call("GET", f"/api/meetings/{secret['uid']}", key="dave").status_code == 404
    assert api.call("GET", f"/api/meetings/{secret['uid']}").json()["subject"] == "Salary talk"
    # once alice takes part she sees it in full
    api.call(
        "PATCH", f"/api/meetings/{secret['uid']}", key="bob", json={"internal_attendees": ["alice"]}
    )
    full = api.call("GET", f"/api/meetings/{secret['uid']}", key="alice").json()
    assert full["subject"] == "Salary talk" and full["internal_notes"] == "raise"


def test_sync_status_and_sync_now(api):
    first = api.ops.wait(lambda: api.ops.binding()["last_success_at"], "no first round")
    listed = api.call("GET", "/api/users/alice/bindings", key="alice")
    assert listed.status_code == 200
    (view,) = listed.json()["bindings"]
    assert (view["login"], view["name"], view["kind"], view["state"]) == (
        "alice",
        "google",
        "google",
        "idle",
    )
    assert view == {**api.ops.binding(), "state": view["state"], "running": view["running"]}
    assert (
        api.call("GET", "/api/users/alice/bindings/google", key="alice").json()["id"] == view["id"]
    )
    assert api.call("GET", "/api/users/alice/bindings", key="bob").status_code == 403
    assert api.call("GET", "/api/users/alice/bindings/nope", key="alice").status_code == 404
    assert api.call("POST", "/api/users/alice/bindings/google/sync", key="bob").status_code == 403
    time.sleep(1.1)
    asked = api.call("POST", "/api/users/alice/bindings/google/sync", key="alice")
    assert asked.status_code == 202 and asked.json() == {"binding": "google", "requested": True}
    api.ops.wait(lambda: api.ops.binding()["last_success_at"] > first, "sync now ran no round", 15)


def test_admin_key_opens_status_and_metrics(api):
    for path in ("/status", "/status.json", "/metrics"):
        assert api.call("GET", path, key="crm").status_code == 200, path
        refused = api.call("GET", path, key="alice")  # a valid key, not scoped to everyone
        assert refused.status_code == 403, path
        assert api.call("GET", path, token="crmb_wrong").status_code == 401, path
    api.create("alice", meeting("Logged?"), key="alice")
    output = api.ops.server.output()
    for key, _users in KEYS.values():
        assert key not in output
