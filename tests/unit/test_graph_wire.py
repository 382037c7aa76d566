"""Graph event JSON ⇄ RemoteEvent and recurrence JSON ⇄ RRULE (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bridge.backends.base import Rejected, RemoteEvent, RemoteOverride
from bridge.backends.graph import recurrence as rec
from bridge.backends.graph import wire
from bridge.backends.graph.series import rule_of
from bridge.model import BusyStatus

BERLIN = ZoneInfo("Europe/Berlin")


def _as_graph(body: dict, event_id: str = "AAMk1", kind: str = "singleInstance") -> dict:
    """What Graph answers for a written body: times in UTC, the zone kept as written."""
    out = dict(body)
    for edge in ("start", "end"):
        local = datetime.fromisoformat(body[edge]["dateTime"])
        zone_name = body[edge]["timeZone"]
        utc = local.replace(tzinfo=wire.zone(zone_name)).astimezone(UTC).replace(tzinfo=None)
        out[edge] = {"dateTime": utc.isoformat() + ".0000000", "timeZone": "UTC"}
    out["originalStartTimeZone"] = body["start"]["timeZone"]
    out |= {"id": event_id, "@odata.etag": 'W/"1"', "type": kind}
    out["body"] = {"contentType": "text", "content": body["body"]["content"] + "\r\n"}
    return out


def test_timed_event_round_trips_with_its_iana_zone() -> None:
    event = RemoteEvent(
        "",
        datetime(2026, 3, 2, 9, 30, tzinfo=BERLIN),
        datetime(2026, 3, 2, 10, 30, tzinfo=BERLIN),
        crm_meeting_id="m-1",
        subject="Review",
        location="Room 4",
        description="line one\nline two",
        timezone="Europe/Berlin",
        private=True,
        busy=BusyStatus.TENTATIVE,
    )
    body = wire.create_body(event, "tx-1", None)
    assert "attendees" not in body
    assert body["start"] == {"dateTime": "2026-03-02T09:30:00", "timeZone": "Europe/Berlin"}
    assert body["transactionId"] == "tx-1"
    assert body["singleValueExtendedProperties"] == [{"id": wire.CRM_ID_PROPERTY, "value": "m-1"}]
    back = wire.single_from_graph(_as_graph(body))
    assert back.content_hash() == event.content_hash()
    assert back.crm_meeting_id == "m-1"
    assert back.timezone == "Europe/Berlin" and back.private and back.busy == BusyStatus.TENTATIVE


def test_windows_zone_names_and_seven_fraction_digits_are_read() -> None:
    item = {
        "id": "x",
        "start": {"dateTime": "2026-03-02T08:30:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2026-03-02T09:30:00.0000000", "timeZone": "UTC"},
        "originalStartTimeZone": "W. Europe Standard Time",
        "showAs": "oof",
        "sensitivity": "personal",
    }
    event = wire.single_from_graph(item)
    assert event.timezone == "Europe/Berlin"
    assert event.start == datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
    assert event.busy == BusyStatus.OUT_OF_OFFICE and not event.private


def test_all_day_event_is_midnight_utc_both_ways() -> None:
    event = RemoteEvent(
        "",
        datetime(2026, 5, 1, tzinfo=UTC),
        datetime(2026, 5, 2, tzinfo=UTC),
        all_day=True,
        subject="Holiday",
    )
    body = wire.event_body(event)
    assert body["isAllDay"] is True
    assert body["start"] == {"dateTime": "2026-05-01T00:00:00", "timeZone": "UTC"}
    assert wire.single_from_graph(_as_graph(body)).content_hash() == event.content_hash()


def test_html_bodies_are_read_as_text_and_tags_found() -> None:
    item = {
        "id": "x",
        "start": {"dateTime": "2026-03-02T08:30:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-03-02T09:30:00", "timeZone": "UTC"},
        "body": {"contentType": "html", "content": "<html><body><p>Hello</p></body></html>"},
        "singleValueExtendedProperties": [
            {"id": wire.CRM_ID_PROPERTY, "value": "m-9"},
            {"id": wire.INVITE_PROPERTY, "value": "true"},
        ],
        "attendees": [
            {"emailAddress": {"address": "bob@example.com"}, "status": {"response": "accepted"}}
        ],
    }
    event = wire.single_from_graph(item)
    assert event.description == "Hello"
    assert event.crm_meeting_id == "m-9" and event.is_invite_copy
    assert (
        event.attendees[0].email == "bob@example.com" and event.attendees[0].partstat == "ACCEPTED"
    )
    assert wire.organises_meeting(item)
    assert not wire.organises_meeting({**item, "isOrganizer": False})


START = datetime(2026, 1, 5, 9, 0, tzinfo=BERLIN)  # a Monday


@pytest.mark.parametrize(
    ("rule", "pattern"),
    [
        ("RRULE:FREQ=DAILY;INTERVAL=2;COUNT=5", {"type": "daily", "interval": 2}),
        (
            "RRULE:FREQ=WEEKLY;BYDAY=MO,WE;WKST=SU;UNTIL=20260301T080000Z",
            {"type": "weekly", "daysOfWeek": ["monday", "wednesday"], "firstDayOfWeek": "sunday"},
        ),
        ("RRULE:FREQ=MONTHLY;BYMONTHDAY=5", {"type": "absoluteMonthly", "dayOfMonth": 5}),
        ("RRULE:FREQ=MONTHLY;BYDAY=-1FR", {"type": "relativeMonthly", "index": "last"}),
        ("RRULE:FREQ=YEARLY;BYMONTH=1;BYMONTHDAY=5", {"type": "absoluteYearly", "month": 1}),
        ("RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2TU", {"type": "relativeYearly", "index": "second"}),
    ],
)
def test_rules_graph_can_express_round_trip(rule: str, pattern: dict) -> None:
    graph = rec.to_graph(rule, START, "Europe/Berlin", False)
    for key, value in pattern.items():
        assert graph["pattern"][key] == value
    back = rec.from_graph(graph, "Europe/Berlin", False, START)
    assert rec.to_graph(back, START, "Europe/Berlin", False) == graph
    assert rec.canonical(back, START, "Europe/Berlin", False) == back


def test_what_the_start_implies_is_left_out_so_short_rules_come_back_as_written() -> None:
    for rule in (
        "RRULE:FREQ=WEEKLY;COUNT=5",
        "RRULE:FREQ=MONTHLY",
        "RRULE:FREQ=YEARLY;INTERVAL=2",
        "RRULE:FREQ=WEEKLY;BYDAY=MO,FR;WKST=SU",
        "RRULE:FREQ=DAILY;UNTIL=20260110T080000Z",  # at the start's time on the last day
    ):
        assert rec.canonical(rule, START, "Europe/Berlin", False) == rule


def test_until_is_the_end_date_in_the_series_zone() -> None:
    graph = rec.to_graph("RRULE:FREQ=DAILY;UNTIL=20260110T080000Z", START, "Europe/Berlin", False)
    assert graph["range"] == {
        "type": "endDate",
        "startDate": "2026-01-05",
        "endDate": "2026-01-10",
        "recurrenceTimeZone": "Europe/Berlin",
    }
    assert rec.from_graph(graph, "Europe/Berlin", False).endswith("UNTIL=20260110T225959Z")
    assert rec.from_graph(graph, "Europe/Berlin", False, START).endswith("UNTIL=20260110T080000Z")
    all_day = rec.to_graph("RRULE:FREQ=WEEKLY;UNTIL=20260131", START, "UTC", True)
    assert rec.from_graph(all_day, "UTC", True).endswith("UNTIL=20260131")


@pytest.mark.parametrize(
    ("rule", "named"),
    [
        ("RRULE:FREQ=HOURLY", "FREQ=HOURLY"),
        ("RRULE:FREQ=DAILY;BYHOUR=9,15", "BYHOUR"),
        ("RRULE:FREQ=MONTHLY;BYMONTHDAY=1,15", "one month day"),
        ("RRULE:FREQ=MONTHLY;BYMONTHDAY=-1", "from the end"),
        ("RRULE:FREQ=YEARLY;BYWEEKNO=20", "BYWEEKNO"),
        ("RRULE:FREQ=MONTHLY;BYDAY=1MO,3WE", "BYDAY=1MO,3WE"),
    ],
)
def test_rules_graph_cannot_express_are_refused_by_name(rule: str, named: str) -> None:
    with pytest.raises(rec.UnsupportedRule, match=named):
        rec.to_graph(rule, START, "Europe/Berlin", False)
    event = RemoteEvent("", START, START + timedelta(hours=1), recurrence=(rule,))
    with pytest.raises(Rejected, match="not synced"):
        rule_of(event)


def test_rdate_is_refused_not_dropped() -> None:
    lines = ("RRULE:FREQ=DAILY;COUNT=3", "RDATE:20260120T080000Z")
    with pytest.raises(Rejected, match="RDATE"):
        rule_of(RemoteEvent("", START, START + timedelta(hours=1), recurrence=lines))


def test_series_with_a_cancelled_occurrence_and_an_exception() -> None:
    utc = START.astimezone(UTC)
    master = {
        "id": "M",
        "type": "seriesMaster",
        "subject": "Standup",
        "start": {"dateTime": utc.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
        "end": {
            "dateTime": (utc + timedelta(minutes=15)).replace(tzinfo=None).isoformat(),
            "timeZone": "UTC",
        },
        "originalStartTimeZone": "Europe/Berlin",
        "recurrence": rec.to_graph("RRULE:FREQ=DAILY;COUNT=4", START, "Europe/Berlin", False),
    }

    def instance(day: int, kind: str = "occurrence", shift: int = 0, subject: str = "Standup"):
        original = utc + timedelta(days=day)
        begin = original + timedelta(hours=shift)
        return {
            "id": f"I{day}",
            "type": kind,
            "seriesMasterId": "M",
            "subject": subject,
            "originalStart": original.isoformat().replace("+00:00", "Z"),
            "start": {"dateTime": begin.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
            "end": {
                "dateTime": (begin + timedelta(minutes=15)).replace(tzinfo=None).isoformat(),
                "timeZone": "UTC",
            },
        }

    instances = [instance(0), instance(1, "exception", 2, "Moved"), instance(3)]  # day 2 cancelled
    event = wire.series_from_graph(master, instances, utc + timedelta(days=30))
    (exdate, rule) = sorted(event.recurrence)
    assert exdate == "EXDATE:20260107T080000Z"
    assert rule.startswith("RRULE:FREQ=DAILY")
    (moved,) = event.overrides
    assert moved == RemoteOverride(
        (utc + timedelta(days=1)).isoformat(),
        utc + timedelta(days=1, hours=2),
        utc + timedelta(days=1, hours=2, minutes=15),
        subject="Moved",
    )
