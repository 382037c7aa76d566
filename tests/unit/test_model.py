from datetime import UTC, datetime

from bridge.model import (
    APPOINTMENT,
    MEETING,
    BusyStatus,
    Meeting,
    Participant,
    Recurrence,
)


def test_busy_status_values_are_strings():
    assert BusyStatus("oof") is BusyStatus.OUT_OF_OFFICE
    assert BusyStatus.FREE == "free"
    assert [b.value for b in BusyStatus] == ["free", "tentative", "busy", "oof"]


def test_meeting_defaults_need_only_uid_and_times():
    start = datetime(2026, 1, 5, 10, tzinfo=UTC)
    m = Meeting("u1", start, start)
    assert m.organiser is None and m.booked_by is None
    assert m.internal_users == [] and m.external == [] and m.custom_fields == {}
    assert m.busy is BusyStatus.BUSY and m.timezone == "UTC" and m.sequence == 0
    assert m.recurrence is None and not m.private and not m.all_day
    assert m.activity_type in (MEETING, APPOINTMENT)


def test_mutable_defaults_are_not_shared():
    start = datetime(2026, 1, 5, tzinfo=UTC)
    a, b = Meeting("a", start, start), Meeting("b", start, start)
    a.internal_users.append("x")
    a.custom_fields["k"] = "v"
    assert b.internal_users == [] and b.custom_fields == {}
    assert Recurrence().exdates is not Recurrence().exdates


def test_participant_defaults():
    assert Participant("x@example.com") == Participant("x@example.com", "", "NEEDS-ACTION")
