"""The Graph emulator's recurring events: masters, occurrences, exceptions, cancellations."""

from __future__ import annotations

from tests.emulators.graph import GraphEmulator
from tests.emulators.graph.fixtures import (  # noqa: F401 - fixtures
    ALICE,
    Client,
    client_fixture,
    event_json,
    graph_fixture,
)

WINDOW = "startDateTime=2026-12-01T00:00:00Z&endDateTime=2027-01-01T00:00:00Z"


def weekly(count: int = 4, **extra: object) -> dict:
    return event_json(
        "Weekly",
        day="2026-12-01",
        recurrence={
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["tuesday"]},
            "range": {"type": "numbered", "startDate": "2026-12-01", "numberOfOccurrences": count},
        },
        **extra,
    )


def drain(client: Client, url: str) -> tuple[list[dict], str]:
    items = []
    while True:
        page = client("GET", url)
        assert page.status == 200, page.body
        items += page["value"]
        if "@odata.deltaLink" in page.body:
            return items, page["@odata.deltaLink"]
        url = page["@odata.nextLink"]


def test_series_instances_exception_and_cancellation(client: Client) -> None:
    path = f"/users/{ALICE}/events"
    master = client("POST", path, weekly())
    assert master.status == 201 and master["type"] == "seriesMaster"
    assert master["recurrence"]["pattern"]["firstDayOfWeek"] == "sunday"  # defaults filled in
    listing = client("GET", f"{path}/{master['id']}/instances?{WINDOW}")
    occurrences = listing["value"]
    assert [o["start"]["dateTime"][:16] for o in occurrences] == [
        "2026-12-01T09:00",
        "2026-12-08T09:00",
        "2026-12-15T09:00",
        "2026-12-22T09:00",
    ]
    assert {o["type"] for o in occurrences} == {"occurrence"}
    assert {o["seriesMasterId"] for o in occurrences} == {master["id"]}
    second, third = occurrences[1]["id"], occurrences[2]["id"]
    moved = {"dateTime": "2026-12-09T15:00:00", "timeZone": "Europe/Berlin"}
    changed = client(
        "PATCH",
        f"{path}/{second}",
        {"subject": "Moved", "start": moved, "end": {**moved, "dateTime": "2026-12-09T16:00:00"}},
    )
    assert changed.status == 200 and changed["type"] == "exception"
    assert changed["subject"] == "Moved" and changed["originalStart"] == "2026-12-08T09:00:00Z"
    assert client("DELETE", f"{path}/{third}").status == 204
    assert client("GET", f"{path}/{third}").status == 404
    after = client("GET", f"{path}/{master['id']}/instances?{WINDOW}")["value"]
    assert [o["type"] for o in after] == ["occurrence", "exception", "occurrence"]
    assert client("PATCH", f"{path}/{second}", {"recurrence": master["recurrence"]}).status == 400
    # the master's own listing shows the series once; occurrences are not events of their own
    assert [e["type"] for e in client("GET", path)["value"]] == ["seriesMaster"]


def test_delta_returns_occurrences_and_exceptions_not_masters(client: Client) -> None:
    path = f"/users/{ALICE}/events"
    master = client("POST", path, weekly())
    items, link = drain(client, f"/users/{ALICE}/calendarView/delta?{WINDOW}")
    assert len(items) == 4 and {i["type"] for i in items} == {"occurrence"}
    first = items[0]["id"]
    client("PATCH", f"{path}/{first}", {"subject": "Only this one"})
    items, link = drain(client, link)
    assert [(i["id"], i["type"]) for i in items] == [(first, "exception")]
    client("DELETE", f"{path}/{items[0]['id']}")
    items, link = drain(client, link)
    assert items == [{"@removed": {"reason": "deleted"}, "id": first}]
    client("PATCH", f"{path}/{master['id']}", {"subject": "Renamed series"})
    items, link = drain(client, link)
    assert len(items) == 3 and {i.get("subject") for i in items} == {"Renamed series"}
    client("DELETE", f"{path}/{master['id']}")
    items, _ = drain(client, link)
    assert len(items) == 3 and all("@removed" in i for i in items)


def test_patterns_and_bad_recurrences(client: Client) -> None:
    path = f"/users/{ALICE}/events"
    monthly = event_json(
        "Monthly",
        day="2026-12-01",
        recurrence={
            "pattern": {"type": "relativeMonthly", "daysOfWeek": ["thursday"], "index": "last"},
            "range": {"type": "endDate", "startDate": "2026-12-01", "endDate": "2027-03-31"},
        },
    )
    made = client("POST", path, monthly)
    assert made.status == 201
    window = "startDateTime=2026-12-01T00:00:00Z&endDateTime=2027-06-01T00:00:00Z"
    days = [
        o["start"]["dateTime"][:10]
        for o in client("GET", f"{path}/{made['id']}/instances?{window}")["value"]
    ]
    assert days == ["2026-12-31", "2027-01-28", "2027-02-25", "2027-03-25"]
    reversed_window = "startDateTime=2027-06-01T00:00:00Z&endDateTime=2026-12-01T00:00:00Z"
    assert client("GET", f"{path}/{made['id']}/instances?{reversed_window}").status == 400
    bad = [
        {"pattern": {"type": "hourly"}, "range": {"type": "noEnd", "startDate": "2026-12-01"}},
        {"pattern": {"type": "weekly"}, "range": {"type": "noEnd", "startDate": "2026-12-01"}},
        {"pattern": {"type": "daily"}, "range": {"type": "numbered", "startDate": "2026-12-01"}},
        {"pattern": {"type": "absoluteMonthly"}, "range": {"type": "noEnd", "startDate": "x"}},
    ]
    for recurrence in bad:
        answer = client("POST", path, event_json(recurrence=recurrence))
        assert answer.status == 400, recurrence


def test_user_side_series_edits(graph: GraphEmulator, client: Client) -> None:
    alice = graph.mailbox(ALICE)
    master = alice.create(**weekly(2))
    instances = client("GET", f"/users/{ALICE}/events/{master['id']}/instances?{WINDOW}")
    alice.update(instances["value"][0]["id"], subject="Edited in Outlook")
    assert alice.event(instances["value"][0]["id"])["type"] == "exception"
    assert graph.mailed == []


def test_exception_edits_move_the_master_change_key(graph: GraphEmulator, client: Client) -> None:
    alice = graph.mailbox(ALICE)
    master = client("POST", f"/users/{ALICE}/events", weekly(3))
    occurrences = alice.instances(master["id"])
    assert [o["type"] for o in occurrences] == ["occurrence"] * 3
    client("PATCH", f"/users/{ALICE}/events/{occurrences[0]['id']}", {"subject": "One"})
    stale = client(
        "PATCH",
        f"/users/{ALICE}/events/{master['id']}",
        {"subject": "All"},
        {"If-Match": master["@odata.etag"]},
    )
    assert stale.status == 412
    alice.delete(occurrences[1]["id"])
    assert [o["type"] for o in alice.instances(master["id"])] == ["exception", "occurrence"]


def test_series_start_rule_and_reshaping(graph: GraphEmulator, client: Client) -> None:
    path = f"/users/{ALICE}/events"
    mismatched = weekly()
    mismatched["recurrence"]["range"]["startDate"] = "2026-11-24"
    assert client("POST", path, mismatched).status == 400
    master = client("POST", path, weekly(3))
    occurrences = graph.mailbox(ALICE).instances(master["id"])
    client("PATCH", f"{path}/{occurrences[0]['id']}", {"subject": "Exception"})
    later = {"dateTime": "2026-12-08T12:00:00", "timeZone": "Europe/Berlin"}
    refused = client("PATCH", f"{path}/{master['id']}", {"start": later})
    assert refused.status == 400  # the range still starts on 2026-12-01
    assert client("GET", f"{path}/{master['id']}")["start"]["dateTime"].startswith("2026-12-01")
    moved = client(
        "PATCH",
        f"{path}/{master['id']}",
        {
            "start": later,
            "end": {**later, "dateTime": "2026-12-08T13:00:00"},
            "recurrence": {
                **master["recurrence"],
                "range": {**master["recurrence"]["range"], "startDate": "2026-12-08"},
            },
        },
    )
    assert moved.status == 200
    after = graph.mailbox(ALICE).instances(master["id"])
    assert [o["type"] for o in after] == ["occurrence"] * 3  # the exception went with the old shape
    assert after[0]["start"]["dateTime"].startswith("2026-12-08T11:00")
