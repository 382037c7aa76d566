"""The Exchange wire without a server: RRULE <-> EWS recurrence, zones, settings, and a
CalendarItem made as EWS returns it read back as the RemoteEvent that wrote it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from exchangelib import CalendarItem, EWSTimeZone
from exchangelib.properties import HTMLBody
from exchangelib.recurrence import DeletedOccurrence

from bridge.backends.exchange import pattern, wire
from bridge.backends.exchange.settings import EXCHANGE, exchange_settings, url_problem
from bridge.backends.kinds import BindingConfigError, BindingSpec
from bridge.model import BusyStatus
from tests.support.remote_events import meeting

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    "rule",
    [
        "COUNT=10;FREQ=DAILY;INTERVAL=2",
        "BYDAY=MO,WE;FREQ=WEEKLY;UNTIL=20310428T070000Z",
        "BYMONTHDAY=3;FREQ=MONTHLY",
        "BYDAY=TU;BYSETPOS=2;COUNT=4;FREQ=MONTHLY",
        "BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;FREQ=MONTHLY",
        "BYMONTH=3;BYMONTHDAY=3;FREQ=YEARLY",
        "BYDAY=FR;BYMONTH=11;BYSETPOS=4;FREQ=YEARLY",
    ],
)
def test_a_canonical_rule_goes_to_ews_and_back_unchanged(rule):
    start = datetime(2031, 3, 3, 9, tzinfo=BERLIN)
    assert pattern.from_ews(pattern.to_ews(rule, start), start, False) == rule


def test_short_spellings_are_the_same_series_as_ews_spells_them():
    start = datetime(2031, 3, 3, 9, tzinfo=BERLIN)  # a Monday
    ews = pattern.from_ews(pattern.to_ews("FREQ=WEEKLY;COUNT=5", start), start, False)
    assert ews == "BYDAY=MO;COUNT=5;FREQ=WEEKLY"
    assert pattern.same_series("COUNT=5;FREQ=WEEKLY", ews, start, False)
    assert not pattern.same_series("COUNT=6;FREQ=WEEKLY", ews, start, False)
    assert pattern.from_ews(pattern.to_ews("FREQ=MONTHLY;BYDAY=2TU", start), start, False) == (
        "BYDAY=TU;BYSETPOS=2;FREQ=MONTHLY"
    )


@pytest.mark.parametrize(
    ("rule", "named"),
    [
        ("FREQ=HOURLY", "FREQ=HOURLY"),
        ("FREQ=DAILY;BYHOUR=9", "BYHOUR"),
        ("FREQ=MONTHLY;BYMONTHDAY=1,15", "BYMONTHDAY=1,15"),
        ("FREQ=YEARLY;INTERVAL=2", "INTERVAL"),
    ],
)
def test_what_ews_cannot_hold_is_named(rule, named):
    with pytest.raises(ValueError, match=named):
        pattern.to_ews(rule, datetime(2031, 3, 3, 9, tzinfo=BERLIN))


def test_instance_index_counts_in_the_series_zone_across_dst():
    start = datetime(2031, 3, 24, 9, tzinfo=BERLIN)  # CET; Berlin goes to CEST on 30 March
    after = datetime(2031, 3, 31, 7, tzinfo=UTC)  # 09:00 CEST
    assert pattern.instance_index("FREQ=WEEKLY;COUNT=5", start, after) == 2
    with pytest.raises(ValueError, match="no occurrence"):
        pattern.instance_index("FREQ=WEEKLY;COUNT=5", start, datetime(2031, 3, 31, 8, tzinfo=UTC))


def _as_ews_returns(event, **extra) -> CalendarItem:
    """The item EWS would hand back for ``event`` written by the wire: times in UTC, the
    Windows zone mapped back to IANA by exchangelib (lossy), and an id and changekey."""
    fields = {**wire.item_fields(event), **wire.tag_fields(event)}
    zone = EWSTimeZone.from_ms_id(fields["_start_timezone"].ms_id)
    if not event.all_day:
        fields["start"] = fields["start"].astimezone(EWSTimeZone("UTC"))
        fields["end"] = fields["end"].astimezone(EWSTimeZone("UTC"))
    fields.update(_start_timezone=zone, _end_timezone=zone, type="Single", **extra)
    if fields["recurrence"] is not None:
        fields["type"] = "RecurringMaster"
    return CalendarItem(id="AAMk1", changekey="CK1", **fields)


@pytest.mark.parametrize("tz", ["Europe/Berlin", "Europe/Amsterdam", "America/New_York", "UTC"])
def test_a_timed_event_round_trips_its_zone(tz):
    event = meeting(timezone=tz, busy=BusyStatus.TENTATIVE, private=True)
    back = wire.event_from_item(_as_ews_returns(event))
    assert back.timezone == tz and back.content_hash() == event.content_hash()
    assert (back.remote_id, back.etag, back.crm_meeting_id) == ("AAMk1", "CK1", "m-1")


def test_a_zone_changed_in_outlook_is_reported_as_outlook_holds_it():
    event = meeting(timezone="Europe/Amsterdam")
    item = _as_ews_returns(event)
    item._start_timezone = EWSTimeZone("America/Chicago")
    assert wire.event_from_item(item).timezone == "America/Chicago"


def test_all_day_series_with_a_deleted_occurrence_round_trips():
    event = meeting(
        start=datetime(2031, 5, 2, tzinfo=UTC),
        end=datetime(2031, 5, 3, tzinfo=UTC),
        all_day=True,
        timezone="UTC",
        busy=BusyStatus.FREE,
        recurrence=("EXDATE;VALUE=DATE:20310509", "RRULE:FREQ=WEEKLY;COUNT=3"),
    )
    gone = DeletedOccurrence(start=datetime(2031, 5, 9, tzinfo=UTC))
    item = _as_ews_returns(event, deleted_occurrences=[gone])
    item.start, item.end = datetime(2031, 5, 2).date(), datetime(2031, 5, 2).date()
    back = wire.event_from_item(item)
    assert back.all_day and back.content_hash() == event.content_hash()


def test_a_dst_crossing_series_with_a_modified_occurrence():
    start = datetime(2031, 3, 24, 9, tzinfo=BERLIN)
    event = meeting(
        start=start,
        end=start.replace(hour=10),
        timezone="Europe/Berlin",
        recurrence=("RRULE:FREQ=WEEKLY;COUNT=4", "EXDATE:20310407T070000Z"),
    )
    moved = _as_ews_returns(replace(event, recurrence=(), subject="moved"))
    moved.start = datetime(2031, 3, 31, 12, tzinfo=UTC)
    moved.end = datetime(2031, 3, 31, 13, tzinfo=UTC)
    original = datetime(2031, 3, 31, 7, tzinfo=UTC)
    gone = DeletedOccurrence(start=datetime(2031, 4, 7, 7, tzinfo=UTC))
    item = _as_ews_returns(event, deleted_occurrences=[gone])
    back = wire.event_from_item(item, [wire.Occurrence(original, moved)])
    (override,) = back.overrides
    assert override.recurrence_id == "2031-03-31T07:00:00+00:00" and override.subject == "moved"
    assert back.recurrence == ("EXDATE:20310407T070000Z", "RRULE:COUNT=4;FREQ=WEEKLY")
    plain = wire.Occurrence(original, _as_ews_returns(replace(event, recurrence=())))
    plain.item.start, plain.item.end = original, original.replace(hour=8)
    assert wire.event_from_item(item, [plain]).overrides == ()  # an undone edit is no override


def test_html_bodies_read_as_text_and_rdate_is_refused():
    item = _as_ews_returns(meeting())
    item.body = HTMLBody("<html><body><p>Agenda</p><p>two</p></body></html>")
    assert wire.event_from_item(item).description == "Agenda\ntwo"
    with pytest.raises(ValueError, match="RDATE"):
        wire.rule_of(meeting(recurrence=("RRULE:FREQ=DAILY", "RDATE:20310310T090000Z")))


def test_writes_never_carry_attendees():
    assert not {"required_attendees", "optional_attendees"} & set(wire.item_fields(meeting()))


# --- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://outlook.office365.com/EWS/Exchange.asmx",
        "https://eur.outlook.com/EWS/Exchange.asmx",
    ],
)
def test_an_exchange_online_url_is_refused_naming_graph(url):
    assert 'kind = "graph"' in url_problem(url)
    assert 'kind = "graph"' in EXCHANGE.problem("url", url)


def test_the_url_must_be_the_ews_endpoint():
    assert "EWS/Exchange.asmx" in url_problem("https://mail.example.com/owa")
    assert url_problem("https://mail.example.com/EWS/Exchange.asmx") is None
    assert "must be one of basic, ntlm" in EXCHANGE.problem("auth_type", "kerberos")


def test_settings_need_a_password_from_a_file_or_variable(tmp_path, monkeypatch):
    base = {"url": "https://mail.example.com/EWS/Exchange.asmx", "email": "a@example.com"}
    base["username"] = "EXAMPLE\\svc"
    spec = BindingSpec(1, "alice", "exchange", base)
    with pytest.raises(BindingConfigError, match="password_file or password_env"):
        exchange_settings(spec)
    monkeypatch.setenv("EWS_PASSWORD", "s3cret")
    made = exchange_settings(replace(spec, settings={**base, "password_env": "EWS_PASSWORD"}))
    assert made.password == "s3cret" and "s3cret" not in repr(made)
    with pytest.raises(BindingConfigError, match="backend.email"):
        exchange_settings(replace(spec, settings={**base, "email": "nobody"}))
