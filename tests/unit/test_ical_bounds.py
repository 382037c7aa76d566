"""Bounded recurrence cost: which rules are accepted, and capped evaluation of the rest."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import vobject
from radicale import item as radicale_item

from bridge.ical.bounds import (
    MAX_PER_DAY,
    capped,
    cost_problem,
    instances_per_day,
    parsed_cost_problem,
    rule_parts,
)
from tests.support.http import vevent

HOURS = ",".join(str(h) for h in range(24))
SIXTY = ",".join(str(m) for m in range(60))


@pytest.mark.parametrize(
    "rule,per_day",
    [
        ("FREQ=WEEKLY;BYDAY=MO,WE", 1),
        ("FREQ=DAILY;BYHOUR=9,13,17", 3),
        (f"FREQ=DAILY;BYHOUR={HOURS};BYMINUTE={SIXTY};BYSECOND={SIXTY}", 86400),
        ("FREQ=HOURLY;INTERVAL=2", 12),
        ("FREQ=HOURLY;BYHOUR=9,10;BYMINUTE=0,30", 4),
        ("FREQ=MINUTELY;INTERVAL=15", 96),
        ("FREQ=MINUTELY;BYHOUR=9", 60),
        ("FREQ=SECONDLY", 86400),
        ("FREQ=DAILY;BYHOUR=1,1,1", 1),  # repeated values count once
    ],
)
def test_instances_per_day_is_an_upper_bound(rule, per_day):
    assert instances_per_day(rule_parts(rule)) == per_day


ACCEPTED = [
    "RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
    "RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
    "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
    "RRULE:FREQ=DAILY;BYHOUR=8,12,16",
    "RRULE:FREQ=MINUTELY;INTERVAL=15;COUNT=40",
    f"RRULE:FREQ=DAILY;BYHOUR={HOURS};BYMINUTE={SIXTY};COUNT=100",
    "RRULE:FREQ=DAILY;COUNT=3\nEXDATE:20261202T100000Z\nRDATE:20261224T100000Z",
]


@pytest.mark.parametrize("extra", ACCEPTED)
def test_ordinary_recurrences_are_accepted(extra):
    assert cost_problem(vevent("ok", extra=extra), 5000) is None


REFUSED = {
    "RRULE:FREQ=DAILY;COUNT=3\nRRULE:FREQ=SECONDLY": "2 RRULE",
    "EXRULE:FREQ=DAILY;COUNT=3\nEXRULE:FREQ=WEEKLY": "2 EXRULE",
    "RRULE:FREQ=SECONDLY;COUNT=5": "FREQ=SECONDLY",
    "rrule:freq=secondly;count=5": "SECONDLY",  # names and values are case-insensitive
    f"RRULE:FREQ=DAILY;BYHOUR={HOURS};BYMINUTE={SIXTY};BYSECOND=0,30;COUNT=5": "2880",
    "RRULE:FREQ=DAILY;BYHOUR=0,2,4,6,8,10,12,14,16,18,20,22,23,1,3,5,7,9,11,13,15,17,19,21;"
    "BYMINUTE=0,30": "never ends",
    "RRULE:FREQ=HOURLY": "expand forever",
    "RRULE:FREQ=DAILY;COUNT=5001": "COUNT=5001",
    "RDATE:"
    + ",".join(f"2027{d:02d}01T0900{s:02d}Z" for d in range(1, 13) for s in range(60))
    + "\nRDATE:20280101T000000Z": "721 RDATE values",
}


@pytest.mark.parametrize("extra", sorted(REFUSED))
def test_costly_recurrences_are_named(extra):
    problem = cost_problem(vevent("bad", extra=extra), 720)
    assert problem is not None and REFUSED[extra] in problem, problem


def test_folded_lines_are_read_whole():
    text = vevent("folded", extra="RRULE:FREQ=DAILY;COUNT=3\nRRULE:FREQ=DAILY;CO\n UNT=4")
    assert "2 RRULE" in (cost_problem(text, 5000) or "")


def test_time_zone_rules_do_not_count():
    zone = (
        "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n"
        "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n"
        "END:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\n"
        "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n"
        "END:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
    )
    text = vevent("tz", extra="RRULE:FREQ=WEEKLY").replace("BEGIN:VEVENT", zone + "BEGIN:VEVENT")
    assert cost_problem(text, 5000) is None


def test_overrides_beyond_the_limit_are_refused():
    override = (
        "BEGIN:VEVENT\r\nUID:o\r\nRECURRENCE-ID:2026120{n}T100000Z\r\n"
        "DTSTART:2026120{n}T110000Z\r\nEND:VEVENT\r\n"
    )
    text = vevent("o", extra="RRULE:FREQ=DAILY").replace(
        "END:VCALENDAR", "".join(override.format(n=n) for n in range(2, 6)) + "END:VCALENDAR"
    )
    assert cost_problem(text, 4) is None
    assert "4 overridden instances" in (cost_problem(text, 3) or "")


def test_capped_evaluation_stops_after_the_limit_and_keeps_the_text():
    text = vevent("cap", extra=f"RRULE:FREQ=DAILY;BYHOUR={HOURS};BYMINUTE={SIXTY}")
    assert instances_per_day(rule_parts(f"FREQ=DAILY;BYHOUR={HOURS};BYMINUTE={SIXTY}")) == 1440
    assert 1440 <= MAX_PER_DAY
    vcal = capped(vobject.readOne(text), 50)
    event = vcal.vevent
    assert len(list(event.getrruleset(addRDate=True))) == 50
    rules = event.getrruleset()
    start, end = datetime(2026, 12, 1, 10, 20, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)
    found = rules.between(start, end, inc=True)
    assert len(found) == 30  # 10:20 .. 10:49, the 50th instance is 10:49
    assert "GETRRULESET" not in vcal.serialize()


def test_capped_shares_the_limit_between_rules():
    text = vevent("two", extra="RRULE:FREQ=DAILY;COUNT=3\nRRULE:FREQ=SECONDLY")
    vcal = capped(vobject.readOne(text), 40)
    assert len(list(vcal.vevent.getrruleset(addRDate=True))) == 40


def test_writes_are_judged_on_what_radicale_parses():
    """Radicale drops control characters before parsing: a rule hidden by one still counts."""
    text = vevent("hidden", extra="RRULE:FREQ=DAILY;COUNT=3\nRR\x01ULE:FREQ=SECONDLY")
    (vcal,) = radicale_item.read_components(text)
    assert "2 RRULE" in (parsed_cost_problem(vcal, 5000) or "")
    zone_free = vevent("fine", extra="RRULE:FREQ=WEEKLY;BYDAY=MO\nRDATE:20261224T100000Z")
    (vcal,) = radicale_item.read_components(zone_free)
    assert parsed_cost_problem(vcal, 5000) is None
    (vcal,) = radicale_item.read_components(
        vevent("r", extra="RDATE:20261224T100000Z,20261225T100000Z")
    )
    assert "2 RDATE" in (parsed_cost_problem(vcal, 1) or "")
