"""Google event JSON ⇄ RemoteEvent (bridge.backends.google.wire), and the request pacer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bridge.backends.base import Deleted, RemoteEvent, RemoteOverride
from bridge.backends.google import wire
from bridge.backends.google.http import RateLimiter
from bridge.model import BusyStatus

BERLIN = ZoneInfo("Europe/Berlin")


def echo(event: RemoteEvent, **server: object) -> dict:
    """What Google would answer for an insert of ``event`` (the body plus server fields)."""
    body = wire.event_body(event, event_id="abcde12345")
    body = {k: v for k, v in body.items() if v is not None}
    return {**body, "etag": '"1"', "updated": "2031-01-01T00:00:00.000Z", **server}


def timed(**fields: object) -> RemoteEvent:
    values: dict = dict(
        remote_id="",
        start=datetime(2031, 3, 3, 10, tzinfo=BERLIN),
        end=datetime(2031, 3, 3, 11, tzinfo=BERLIN),
        crm_meeting_id="m-1",
        subject="Board",
        location="Room",
        description="Text",
        timezone="Europe/Berlin",
    )
    values.update(fields)
    return RemoteEvent(**values)


@pytest.mark.parametrize(
    "event",
    [
        timed(),
        timed(busy=BusyStatus.FREE),
        timed(busy=BusyStatus.TENTATIVE),
        timed(busy=BusyStatus.OUT_OF_OFFICE),
        timed(private=True),
        timed(timezone="UTC"),
        timed(recurrence=("EXDATE:20310310T090000Z", "RRULE:COUNT=5;FREQ=WEEKLY")),
        timed(
            start=datetime(2031, 5, 2, tzinfo=UTC),
            end=datetime(2031, 5, 4, tzinfo=UTC),
            all_day=True,
            timezone="UTC",
            recurrence=("EXDATE;VALUE=DATE:20310509", "RRULE:FREQ=WEEKLY"),
        ),
    ],
    ids=["busy", "free", "tentative", "oof", "private", "utc", "series", "all-day"],
)
def test_round_trip_keeps_the_content_hash(event: RemoteEvent) -> None:
    back = wire.event_from_google(echo(event), calendar_tz="Europe/Berlin")
    assert back.content_hash() == event.content_hash()
    assert back.crm_meeting_id == "m-1" and back.remote_id == "abcde12345"
    assert back.etag == '"1"' and back.updated == datetime(2031, 1, 1, tzinfo=UTC)
    assert back.start.tzinfo is not None


def test_body_never_carries_attendees_and_tags_the_event() -> None:
    from bridge.backends.base import RemoteAttendee

    body = wire.event_body(timed(attendees=(RemoteAttendee("x@example.org"),)))
    assert "attendees" not in body
    assert body["extendedProperties"] == {"private": {"crmMeetingId": "m-1"}}
    assert body["start"] == {"dateTime": "2031-03-03T10:00:00+01:00", "timeZone": "Europe/Berlin"}
    assert body["recurrence"] is None  # clears a series in a patch
    copy = wire.event_body(timed(is_invite_copy=True), event_id="abcde")
    assert copy["extendedProperties"]["private"]["crmInviteCopy"] == "true"
    assert "recurrence" not in copy and copy["id"] == "abcde"


def test_inbound_fields_and_invite_copy() -> None:
    item = {
        "id": "e1",
        "status": "confirmed",
        "summary": "S",
        "visibility": "confidential",
        "transparency": "transparent",
        "start": {"dateTime": "2031-03-03T10:00:00Z"},
        "end": {"dateTime": "2031-03-03T11:00:00Z"},
        "attendees": [
            {"email": "a@x.org", "displayName": "A", "responseStatus": "accepted"},
            {"email": "room@resource.calendar.google.com", "resource": True},
        ],
        "extendedProperties": {"private": {"crmMeetingId": "m", "crmInviteCopy": "true"}},
    }
    event = wire.event_from_google(item)
    assert event.private and event.busy is BusyStatus.FREE and event.is_invite_copy
    assert event.timezone == "UTC"
    assert [(a.email, a.name, a.partstat) for a in event.attendees] == [
        ("a@x.org", "A", "ACCEPTED")
    ]


def test_google_recurrence_lines_become_utc() -> None:
    lines = [
        "RRULE:FREQ=WEEKLY;COUNT=5",
        "EXDATE;TZID=Europe/Berlin:20310310T100000,20310331T100000",
        "RDATE:20310401T120000Z",
    ]
    assert wire.recurrence_from_google(lines, BERLIN) == (
        "EXDATE:20310310T090000Z",
        "EXDATE:20310331T080000Z",
        "RDATE:20310401T120000Z",
        "RRULE:COUNT=5;FREQ=WEEKLY",
    )
    assert wire.recurrence_from_google(["EXDATE;VALUE=DATE:20310502,20310509"]) == (
        "EXDATE;VALUE=DATE:20310502",
        "EXDATE;VALUE=DATE:20310509",
    )


def master() -> dict:
    return {
        "id": "s1",
        "etag": '"5"',
        "summary": "Weekly",
        "start": {"dateTime": "2031-03-03T10:00:00+01:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2031-03-03T11:00:00+01:00", "timeZone": "Europe/Berlin"},
        "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=5"],
    }


def test_exceptions_fold_into_overrides_and_exdates() -> None:
    moved = {
        "id": "s1_20310317T090000Z",
        "recurringEventId": "s1",
        "originalStartTime": {"dateTime": "2031-03-17T10:00:00+01:00"},
        "summary": "moved",
        "start": {"dateTime": "2031-03-17T12:00:00+01:00"},
        "end": {"dateTime": "2031-03-17T13:00:00+01:00"},
        "transparency": "transparent",
    }
    cancelled = {"id": "s1_20310324T090000Z", "status": "cancelled", "recurringEventId": "s1"}
    untouched = {**moved, "id": "s1_20310310T090000Z", "summary": "Weekly"}
    untouched["originalStartTime"] = {"dateTime": "2031-03-10T10:00:00+01:00"}
    untouched["start"] = untouched["originalStartTime"]
    untouched["end"] = {"dateTime": "2031-03-10T11:00:00+01:00"}
    del untouched["transparency"]
    event = wire.event_from_google(master(), [moved, cancelled, untouched])
    assert event.recurrence == ("EXDATE:20310324T090000Z", "RRULE:COUNT=5;FREQ=WEEKLY")
    assert event.overrides == (
        RemoteOverride(
            "2031-03-17T09:00:00+00:00",
            datetime(2031, 3, 17, 11, tzinfo=UTC),
            datetime(2031, 3, 17, 12, tzinfo=UTC),
            subject="moved",
            busy=BusyStatus.FREE,
        ),
    )


def test_override_body_and_instance_ids() -> None:
    event = wire.event_from_google(master())
    override = RemoteOverride(
        "2031-03-17T09:00:00+00:00",
        datetime(2031, 3, 17, 11, tzinfo=UTC),
        datetime(2031, 3, 17, 12, tzinfo=UTC),
        subject="x",
        busy=BusyStatus.TENTATIVE,
    )
    body = wire.override_body(event, override)
    assert body["start"]["dateTime"] == "2031-03-17T12:00:00+01:00"
    assert body["status"] == "tentative" and "attendees" not in body
    assert wire.instance_id("s1", override.recurrence_id) == "s1_20310317T090000Z"
    assert wire.instance_id("s1", "2031-05-02") == "s1_20310502"
    item = {"recurringEventId": "s1", "id": "s1_20310317T090000Z", **body}
    assert wire.override_from_google(item) == override


def test_deleted_items_keep_only_their_identity() -> None:
    event = wire.event_from_google({"id": "gone1", "status": "cancelled", "etag": '"9"'})
    assert event == Deleted("gone1", None)  # no placeholder times, no content
    dated = {"id": "gone2", "status": "cancelled", "updated": "2031-03-17T09:00:00.000Z"}
    assert wire.event_from_google(dated) == Deleted("gone2", datetime(2031, 3, 17, 9, tzinfo=UTC))
    assert not hasattr(wire, "EPOCH")


def test_event_ids_are_derived_from_the_idempotency_key() -> None:
    event_id = wire.event_id_for("binding-1/m-1")
    assert event_id == wire.event_id_for("binding-1/m-1") != wire.event_id_for("binding-1/m-2")
    assert len(event_id) == 52 and set(event_id) <= set("0123456789abcdefghijklmnopqrstuv")


def test_rate_limiter_paces_after_the_burst() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(5, burst=2, clock=lambda: now[0], sleep=sleep)
    assert [limiter.acquire() for _ in range(2)] == [0.0, 0.0]
    assert limiter.acquire() == pytest.approx(0.2)
    assert limiter.acquire(10) == pytest.approx(0.2)  # a batch of 10 ...
    assert limiter.acquire() == pytest.approx(2.0)  # ... is paid for by who comes next
    now[0] += 60
    assert limiter.acquire() == 0.0
    assert sum(slept) == pytest.approx(2.4)
    assert timedelta(seconds=sum(slept)) < timedelta(seconds=3)
