"""The Invite action over the REST API of a running `bridge serve` (alice's Google binding
on the emulator): preview, send, drift, update, cancel, key scoping and refusals naming
their field. The copy is read from the emulator's own record."""

from __future__ import annotations

from tests.support.api_client import meeting, start_api

ALICE = "alice@example.com"
GUESTS = [{"email": "ann@partner.test", "name": "Ann"}, {"email": "ben@client.test", "name": ""}]


def _copies(google) -> list[dict]:
    return [
        e
        for e in google.events(ALICE)
        if (e.get("extendedProperties") or {}).get("private", {}).get("crmInviteCopy") == "true"
    ]


def test_invite_end_to_end_over_rest(tmp_path, db_url, google_emulator):
    api = start_api(tmp_path, db_url, google_emulator)
    try:
        uid = api.create(
            "alice",
            meeting(
                "Kick-off",
                location="Harbour",
                internal_attendees=["bob"],
                external_participants=GUESTS,
                description="CRM-ONLY-TEXT",
            ),
        )["uid"]
        base = f"/api/meetings/{uid}/invite"

        preview = api.call("GET", base + "/preview", key="alice", params={"language": "de"})
        assert preview.status_code == 200, preview.text
        shown = preview.json()
        assert [a["email"] for a in shown["attendees"]] == ["ann@partner.test", "ben@client.test"]
        assert shown["organiser"]["email"] == ALICE and shown["can_send"] is True
        assert "Guten Tag Ann, ben@client.test" in shown["description"]
        assert "CRM-ONLY-TEXT" not in shown["description"]
        assert _copies(google_emulator) == [], "a preview sends nothing"

        assert api.call("GET", base, key="alice").json()["state"] == "none"
        sent = api.call("POST", base, key="alice", json={"language": "de", "send": True})
        assert sent.status_code == 201, sent.text
        assert sent.json()["state"] == "sent" and sent.json()["sequence"] == 0
        (copy,) = _copies(google_emulator)
        assert sorted(a["email"] for a in copy["attendees"]) == [
            "ann@partner.test",
            "ben@client.test",
        ]
        assert uid not in str(copy) and "CRM-ONLY-TEXT" not in str(copy)

        again = api.call("POST", base, key="alice", json={})
        assert again.status_code == 409 and again.json()["error"]["fields"][0]["field"] == "meeting"

        moved = api.call("PATCH", f"/api/meetings/{uid}", key="alice", json={"location": "Pier"})
        assert moved.status_code == 200, moved.text
        drift = api.call("GET", base, key="alice").json()
        assert drift["out_of_date"] is True
        assert drift["differences"] == [
            {"field": "location", "sent": {"location": "Harbour"}, "now": {"location": "Pier"}}
        ]
        assert _copies(google_emulator)[0]["location"] == "Harbour", "drift sends nothing"

        updated = api.call("POST", base + "/update", key="alice", json={})
        assert updated.status_code == 200, updated.text
        assert updated.json()["sequence"] == 1 and updated.json()["out_of_date"] is False
        (copy,) = _copies(google_emulator)
        assert copy["location"] == "Pier" and copy["sequence"] >= 1

        cancelled = api.call("POST", base + "/cancel", key="alice", json={"send": True})
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
        assert _copies(google_emulator) == []
        assert api.call("GET", f"/api/meetings/{uid}", key="alice").status_code == 200
    finally:
        api.stop()


def test_invite_refusals_name_the_field_and_keys_are_scoped(tmp_path, db_url, google_emulator):
    api = start_api(tmp_path, db_url, google_emulator)
    try:
        uid = api.create(
            "alice", meeting(internal_attendees=["bob"], external_participants=GUESTS)
        )["uid"]
        lonely = api.create("alice", meeting("Alone"))["uid"]
        base = f"/api/meetings/{uid}/invite"

        def refused(answer, status: int, field: str) -> None:
            assert answer.status_code == status, answer.text
            assert field in [f["field"] for f in answer.json()["error"]["fields"]], answer.text

        refused(api.call("GET", base + "/preview", params={"template": "x!"}), 422, "template")
        refused(api.call("GET", base + "/preview", params={"language": "fr"}), 400, "language")
        refused(api.call("GET", base + "/preview", params={"colour": "red"}), 422, "colour")
        refused(api.call("POST", base, json={"send": "yes"}), 422, "send")
        refused(api.call("POST", base, json={"notes": "x"}), 422, "notes")
        refused(api.call("POST", base + "/update", json={}), 409, "meeting")
        refused(api.call("POST", base + "/cancel", json={}), 409, "meeting")
        refused(api.call("POST", f"/api/meetings/{lonely}/invite", json={}), 409, "attendees")
        assert api.call("GET", base, key=None).status_code == 401
        assert api.call("POST", base, key="bob", json={}).status_code == 403  # attends only
        assert api.call("POST", base, key="dave", json={}).status_code == 404  # cannot see it
        assert api.call("GET", "/api/meetings/nonesuch/invite").status_code == 404
        assert _copies(google_emulator) == [], "no refusal wrote anything"
    finally:
        api.stop()
