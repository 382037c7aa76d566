"""A private occurrence of a public series shows to colleagues as busy time only, on every
read path of a colleague view (GET, calendar-query, expand, multiget, sync-collection,
free-busy), while the public occurrences show in full; participants see everything."""

from __future__ import annotations

import re

import pytest

from tests.support import dav
from tests.support.http import Response, request
from tests.support.module_server import ModuleServer, module_server  # noqa: F401

VIEW = "/alice/meetings-bob/"  # alice's view of bob's meetings; alice takes part in none
WINDOW = ("20261101T000000Z", "20261201T000000Z")


def series(uid: str, *, master_class: str, override_class: str | None, attendee: str = "") -> str:
    """A weekly series (4 times from Mon 2 Nov 2026 10:00Z) with its 2nd occurrence moved
    to 12:00 and carrying secrets marked with ``uid``."""
    mark = uid.upper()
    override_class_line = f"CLASS:{override_class}\r\n" if override_class else ""
    attendee_line = f"ATTENDEE:mailto:{attendee}\r\n" if attendee else ""
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\n"
        "BEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n"
        "DTSTART:20261102T100000Z\r\nDTEND:20261102T110000Z\r\n"
        "RRULE:FREQ=WEEKLY;COUNT=4\r\n"
        f"SUMMARY:Weekly sync {uid}\r\nCLASS:{master_class}\r\n{attendee_line}"
        "END:VEVENT\r\n"
        "BEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n"
        "RECURRENCE-ID:20261109T100000Z\r\n"
        "DTSTART:20261109T120000Z\r\nDTEND:20261109T130000Z\r\n"
        f"SUMMARY:{mark}-SUMMARY\r\n{override_class_line}"
        f"LOCATION:{mark}-LOCATION\r\nDESCRIPTION:{mark}-DESCRIPTION\r\n"
        f"ATTENDEE;CN={mark}-CN:mailto:{uid}-guest@outside.example\r\n{attendee_line}"
        f"X-CRM-FIELD-NOTE:{mark}-FIELD\r\n"
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\n"
        f"DESCRIPTION:{mark}-ALARM\r\nTRIGGER:-PT10M\r\nEND:VALARM\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


# uid -> (master CLASS, override CLASS): each hides its override from colleagues.
CASES = {
    "occ-private": ("PUBLIC", "PRIVATE"),
    "occ-confidential": ("PUBLIC", "confidential"),
    # A private series whose moved occurrence omits CLASS: the series decides.
    "series-private": ("PRIVATE", None),
}


def secrets(uid: str) -> list[str]:
    mark = uid.upper()
    return [
        f"{mark}-{part}" for part in ("SUMMARY", "LOCATION", "DESCRIPTION", "CN", "FIELD", "ALARM")
    ] + [f"{uid}-guest@outside.example", "ATTENDEE", "VALARM", "X-CRM"]


@pytest.fixture(scope="module")
def world(module_server: ModuleServer) -> ModuleServer:  # noqa: F811 - the imported fixture
    for uid, (master, override) in CASES.items():
        put = request(
            module_server.url,
            "PUT",
            f"/bob/meetings/{uid}.ics",
            series(uid, master_class=master, override_class=override),
            user="bob",
        )
        assert put.status == 201, put
    # The same shape, but alice takes part: she must see it all.
    put = request(
        module_server.url,
        "PUT",
        "/bob/meetings/shared.ics",
        series(
            "shared", master_class="PUBLIC", override_class="PRIVATE", attendee="alice@example.com"
        ),
        user="bob",
    )
    assert put.status == 201, put
    return module_server


def report(world: ModuleServer, body: str, *, user: str = "alice", path: str = VIEW) -> Response:
    answer = request(world.url, "REPORT", path, body, user=user, headers={**dav.XML, "Depth": "1"})
    assert answer.status == 207, answer
    return answer


def assert_redacted(text: str, uid: str) -> None:
    for secret in secrets(uid):
        assert secret not in text, f"{secret!r} leaked:\n{text}"


def calendar_data(answer: Response) -> dict[str, str]:
    """href -> calendar-data of a multistatus (unescaped enough for marker checks)."""
    found: dict[str, str] = {}
    for response in re.findall(r"<response>(.*?)</response>", answer.body, re.S):
        href = re.search(r"<href>(.*?)</href>", response)
        data = re.search(r"<C:calendar-data[^>]*>(.*?)</C:calendar-data>", response, re.S)
        if href and data:
            found[href.group(1)] = data.group(1)
    return found


@pytest.mark.parametrize("uid", list(CASES))
def test_get_shows_the_private_occurrence_as_busy_time_only(world, uid):
    answer = request(world.url, "GET", f"{VIEW}{uid}.ics")
    assert answer.status == 200, answer
    assert_redacted(answer.body, uid)
    # The moved occurrence is still there, as busy time at its new time.
    assert "RECURRENCE-ID:20261109T100000Z" in answer.body
    assert "DTSTART:20261109T120000Z" in answer.body
    assert answer.body.count("SUMMARY:Busy") == (2 if CASES[uid][0] == "PRIVATE" else 1)
    public = f"Weekly sync {uid}" in answer.body
    assert public == (CASES[uid][0] == "PUBLIC")
    # Bob, whose meeting it is, sees everything.
    own = request(world.url, "GET", f"/bob/meetings/{uid}.ics", user="bob")
    assert f"{uid.upper()}-SUMMARY" in own.body and f"{uid.upper()}-ALARM" in own.body


def test_calendar_query_redacts_private_occurrences(world):
    data = calendar_data(report(world, dav.calendar_query(*WINDOW)))
    assert {f"{VIEW}{uid}.ics" for uid in CASES} <= set(data)
    for uid in CASES:
        assert_redacted(data[f"{VIEW}{uid}.ics"], uid)
    assert "Weekly sync occ-private" in data[f"{VIEW}occ-private.ics"]


def test_expand_redacts_the_private_occurrence_only(world):
    data = calendar_data(report(world, dav.calendar_query(*WINDOW, expand=True)))
    for uid, (master, _) in CASES.items():
        text = data[f"{VIEW}{uid}.ics"]
        assert_redacted(text, uid)
        assert text.count("BEGIN:VEVENT") == 4
        # The occurrence moved to 12:00 is busy time; the other three are the series.
        assert "DTSTART:20261109T120000Z" in text
        if master == "PUBLIC":
            assert text.count(f"SUMMARY:Weekly sync {uid}") == 3
            assert text.count("SUMMARY:Busy") == 1


def test_multiget_redacts_private_occurrences(world):
    hrefs = [f"{VIEW}{uid}.ics" for uid in CASES]
    data = calendar_data(report(world, dav.multiget(hrefs)))
    assert set(data) == set(hrefs)
    for uid in CASES:
        assert_redacted(data[f"{VIEW}{uid}.ics"], uid)


def test_sync_collection_redacts_private_occurrences(world):
    answer = report(world, dav.sync_collection())
    data = calendar_data(answer)
    for uid in CASES:
        assert f"{VIEW}{uid}.ics" in data
        assert_redacted(data[f"{VIEW}{uid}.ics"], uid)
    for uid in CASES:  # whatever property the answer carries them in
        for secret in secrets(uid)[:-3]:
            assert secret not in answer.body


def test_free_busy_shows_the_moved_private_occurrence_as_busy(world):
    answer = request(
        world.url,
        "REPORT",
        VIEW,
        dav.free_busy(*WINDOW),
        headers={**dav.XML, "Depth": "1"},
    )
    assert answer.status == 200, answer
    assert "BEGIN:VFREEBUSY" in answer.body
    assert "20261109T120000Z/" in answer.body  # the moved private occurrence is busy
    for uid in CASES:
        assert_redacted(answer.body, uid)


def test_a_participant_sees_the_private_occurrence_in_full(world):
    answer = request(world.url, "GET", f"{VIEW}shared.ics")
    assert answer.status == 200, answer
    assert "SHARED-SUMMARY" in answer.body and "SHARED-LOCATION" in answer.body
    data = calendar_data(report(world, dav.multiget([f"{VIEW}shared.ics"])))
    assert "SHARED-DESCRIPTION" in data[f"{VIEW}shared.ics"]


def test_a_user_who_may_not_see_bob_gets_nothing(world):
    answer = request(world.url, "GET", "/carol/meetings-bob/occ-private.ics", user="carol")
    assert answer.status == 404, answer
    assert "OCC-PRIVATE" not in answer.body
