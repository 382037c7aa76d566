"""The REST API's meetings against a running `bridge serve`: create, read, change, delete,
the time-range listing and its paging, and bad input answered field by field."""

from __future__ import annotations

import pytest

from tests.support.api_client import meeting, start_api


@pytest.fixture
def api(tmp_path, db_url, google_emulator):
    client = start_api(tmp_path, db_url, google_emulator)
    yield client
    client.stop()


def test_create_read_change_delete(api):
    made = api.create(
        "alice",
        meeting(
            "Quarterly review",
            location="Room 2",
            description="Agenda",
            internal_notes="Budget is tight",
            internal_attendees=["bob"],
            external_participants=[{"email": "eve@partner.example", "name": "Eve"}],
            busy="tentative",
            recurrence={"rrule": "FREQ=WEEKLY;COUNT=3"},
        ),
    )
    uid = made["uid"]
    assert made["organiser"] == "alice" and made["internal_attendees"] == ["bob"]
    assert made["start"] == "2026-12-03T10:00:00+01:00"
    assert made["time_zone"] == "Europe/Copenhagen" and made["busy"] == "tentative"
    assert made["external_participants"][0]["email"] == "eve@partner.example"
    assert made["internal_notes"] == "Budget is tight"
    assert made["recurrence"] == {"rrule": "FREQ=WEEKLY;COUNT=3", "exdates": []}
    got = api.call("GET", f"/api/meetings/{uid}")
    assert got.status_code == 200 and got.json() == made

    changed = api.call(
        "PATCH", f"/api/meetings/{uid}", json={"subject": "Review (moved)", "location": "Room 3"}
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["subject"], body["location"], body["description"]) == (
        "Review (moved)",
        "Room 3",
        "Agenda",
    )
    assert body["internal_notes"] == "Budget is tight" and body["sequence"] > made["sequence"]

    replaced = api.call("PUT", f"/api/meetings/{uid}", json=meeting("Replaced"))
    assert replaced.status_code == 200, replaced.text
    whole = replaced.json()
    assert (
        whole["subject"] == "Replaced" and whole["location"] == "" and whole["recurrence"] is None
    )
    assert whole["internal_attendees"] == [] and whole["external_participants"] == []

    assert api.call("DELETE", f"/api/meetings/{uid}").status_code == 204
    assert api.call("GET", f"/api/meetings/{uid}").status_code == 404
    assert api.call("DELETE", f"/api/meetings/{uid}").status_code == 404


def test_all_day_and_client_chosen_uid(api):
    made = api.create(
        "bob",
        {
            "uid": "crm-activity-42",
            "subject": "Fair",
            "all_day": True,
            "start": "2026-12-10",
            "end": "2026-12-12",
        },
    )
    assert made["uid"] == "crm-activity-42"
    assert (made["start"], made["end"], made["all_day"]) == ("2026-12-10", "2026-12-12", True)
    again = api.call(
        "POST", "/api/users/bob/meetings", json={**meeting(), "uid": "crm-activity-42"}
    )
    assert again.status_code == 409
    assert again.json()["error"]["fields"] == [{"field": "uid", "problem": "is taken"}]


def test_range_listing_pages_through_the_time_index(api):
    for day in range(1, 8):
        api.create(
            "alice",
            meeting(
                f"Day {day}", start=f"2026-11-0{day}T09:00:00Z", end=f"2026-11-0{day}T10:00:00Z"
            ),
        )
    api.create(
        "dave", meeting("Not alice's", start="2026-11-03T09:00:00Z", end="2026-11-03T10:00:00Z")
    )
    window = {"start": "2026-11-02T00:00:00Z", "end": "2026-11-06T00:00:00Z", "limit": "3"}
    first = api.call("GET", "/api/users/alice/meetings", params=window)
    assert first.status_code == 200, first.text
    page = first.json()
    assert page["total"] == 4 and page["next_offset"] == 3
    assert [m["subject"] for m in page["meetings"]] == ["Day 2", "Day 3", "Day 4"]
    second = api.call("GET", "/api/users/alice/meetings", params={**window, "offset": "3"})
    rest = second.json()
    assert [m["subject"] for m in rest["meetings"]] == ["Day 5"] and rest["next_offset"] is None
    # an edge: a meeting ending exactly at start is outside [start, end)
    edge = {"start": "2026-11-02T10:00:00Z", "end": "2026-11-02T10:30:00Z"}
    assert api.call("GET", "/api/users/alice/meetings", params=edge).json()["total"] == 0


def _fields(answer) -> dict[str, str]:
    assert answer.status_code == 422, answer.text
    return {f["field"]: f["problem"] for f in answer.json()["error"]["fields"]}


def test_bad_input_names_each_field(api):
    bad = {
        "subject": 5,
        "start": "tomorrow",
        "end": "2026-12-03T09:00:00",
        "time_zone": "Mars/Olympus",
        "all_day": "no",
        "busy": "sleeping",
        "private": "yes",
        "internal_attendees": ["nobody"],
        "external_participants": [{"email": "not-an-address"}],
        "recurrence": {"rrule": "FREQ=SOMETIMES"},
        "colour": "red",
    }
    fields = _fields(api.call("POST", "/api/users/alice/meetings", json=bad))
    assert set(fields) == {
        "subject",
        "start",
        "end",
        "time_zone",
        "all_day",
        "busy",
        "private",
        "internal_attendees",
        "external_participants[0].email",
        "recurrence.rrule",
        "colour",
    }
    assert "not a writable field" in fields["colour"]
    assert "'nobody'" in fields["internal_attendees"]
    backwards = meeting(start="2026-12-03T11:00:00Z", end="2026-12-03T10:00:00Z")
    assert _fields(api.call("POST", "/api/users/alice/meetings", json=backwards)) == {
        "end": "must be after start"
    }
    assert _fields(api.call("POST", "/api/users/alice/meetings", json={"subject": "x"})) == {
        "start": "is required",
        "end": "is required",
    }
    not_json = api.call(
        "POST", "/api/users/alice/meetings", data=b"{", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 400 and "not JSON" in not_json.json()["error"]["message"]
    wrong_type = api.call(
        "POST", "/api/users/alice/meetings", data=b"x", headers={"Content-Type": "text/plain"}
    )
    assert wrong_type.status_code == 415
    huge = api.call("POST", "/api/users/alice/meetings", json=meeting(description="x" * 300_000))
    assert huge.status_code == 413 and huge.json()["error"]["status"] == 413
    window = {"start": "2026-01-01T00:00:00Z", "end": "2027-06-01T00:00:00Z"}
    assert "end" in _fields(api.call("GET", "/api/users/alice/meetings", params=window))
    assert "start" in _fields(
        api.call("GET", "/api/users/alice/meetings", params={"end": "2026-01-02T00:00:00Z"})
    )
    paging = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z", "limit": "0"}
    assert "limit" in _fields(api.call("GET", "/api/users/alice/meetings", params=paging))
    costly = meeting(recurrence={"rrule": "FREQ=SECONDLY"})
    assert (
        "SECONDLY"
        in _fields(api.call("POST", "/api/users/alice/meetings", json=costly))["recurrence.rrule"]
    )
    made = api.create("alice", meeting())
    assert _fields(api.call("PATCH", f"/api/meetings/{made['uid']}", json={"uid": "other"})) == {
        "uid": "cannot be changed"
    }


def test_open_series_past_the_index_horizon_is_listed_only_where_it_occurs(api):
    """The time index expands a series index_horizon_days (1830) ahead; past that its
    iCalendar decides, so a weekly Monday series shows on a Monday in 2033, not on a
    Tuesday."""
    weekly = meeting(
        "Monday standup",
        start="2026-11-02T09:00:00Z",
        end="2026-11-02T09:30:00Z",
        recurrence={"rrule": "FREQ=WEEKLY"},
    )
    uid = api.create("alice", weekly)["uid"]

    def listed(day: str) -> list[str]:
        window = {"start": f"{day}T00:00:00Z", "end": f"{day}T23:59:59Z"}
        answer = api.call("GET", "/api/users/alice/meetings", params=window)
        assert answer.status_code == 200, answer.text
        return [m["uid"] for m in answer.json()["meetings"]]

    assert listed("2033-06-06") == [uid]  # a Monday
    assert listed("2033-06-07") == []  # a Tuesday
    assert listed("2026-11-09") == [uid] and listed("2026-11-10") == []  # indexed
