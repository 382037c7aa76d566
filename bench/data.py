"""Deterministic calendar of N events for the CalDAV benchmark.

The mix, drawn from ``random.Random(seed)`` around an anchor date (default: today):

- ~70% one-off timed events spread over about two years (one year back, one ahead), in
  UTC or in a local time zone, some with an organizer, attendees, location, description;
- ~10% all-day events, a third of them multi-day (2-5 days);
- ~20% weekly or daily series: a third ending by COUNT, a third by UNTIL, a third
  unbounded; some with EXDATEs, some with moved or retitled instances (RECURRENCE-ID
  overrides in the same object), some in Europe/Berlin or America/New_York (with the
  VTIMEZONE in the object).

Each event is one iCalendar object (one UID) stored at ``<uid>.ics``.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dateutil import rrule

PRODID = "-//crm-calendar-bridge//bench//EN"
UTC = dt.UTC

VTIMEZONES = {
    "Europe/Berlin": (
        "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n"
        "BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\n"
        "DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n"
        "BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\n"
        "DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n"
        "END:VTIMEZONE\r\n"
    ),
    "America/New_York": (
        "BEGIN:VTIMEZONE\r\nTZID:America/New_York\r\n"
        "BEGIN:DAYLIGHT\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nTZNAME:EDT\r\n"
        "DTSTART:19700308T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\nEND:DAYLIGHT\r\n"
        "BEGIN:STANDARD\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nTZNAME:EST\r\n"
        "DTSTART:19701101T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\nEND:STANDARD\r\n"
        "END:VTIMEZONE\r\n"
    ),
}

WORDS = (
    "Quarterly review Pipeline sync Onboarding Demo Budget Roadmap Kick-off Retro "
    "Planning Contract Renewal Workshop Customer Partner Strategy Support Escalation "
    "Training Interview Lunch Standup Board Forecast Hiring Marketing Launch"
).split()
PLACES = ("Room Berlin", "Room Lisbon", "Video call", "Customer site", "Cafe Central", "")
EXTERNAL = (
    "ana@client.example",
    "li@partner.example",
    "omar@vendor.example",
    "sara@client.example",
    "tom@agency.example",
    "ines@partner.example",
)
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR")


@dataclass(frozen=True)
class Event:
    uid: str
    ics: str
    kind: str

    @property
    def href(self) -> str:
        return f"{self.uid}.ics"


def _fold(line: str) -> str:
    """RFC 5545 line folding at 75 octets (our content is ASCII)."""
    out = []
    while len(line) > 75:
        out.append(line[:75])
        line = " " + line[75:]
    out.append(line)
    return "\r\n".join(out)


def _utc(t: dt.datetime) -> str:
    return t.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _local(t: dt.datetime) -> str:
    return t.strftime("%Y%m%dT%H%M%S")


def _date(d: dt.date) -> str:
    return d.strftime("%Y%m%d")


def wrap(body_lines: list[str], tzids: set[str] = frozenset()) -> str:
    """A VCALENDAR around already formatted VEVENT lines."""
    head = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN"]
    text = "\r\n".join(head) + "\r\n"
    text += "".join(VTIMEZONES[t] for t in sorted(tzids))
    text += "\r\n".join(_fold(line) for line in body_lines) + "\r\nEND:VCALENDAR\r\n"
    return text


class Generator:
    def __init__(self, seed: int, anchor: dt.date, stamp: dt.datetime) -> None:
        self.rng = random.Random(seed)
        self.anchor = anchor
        self.stamp = _utc(stamp)
        self.seed = seed

    # ------------------------------------------------------------------ pieces
    def _title(self) -> str:
        return " ".join(self.rng.sample(WORDS, self.rng.randint(2, 4)))

    def _when(self, spread_days: int = 365) -> dt.datetime:
        """A naive local wall-clock start on a quarter hour, within +-spread_days."""
        day = self.anchor + dt.timedelta(days=self.rng.randint(-spread_days, spread_days))
        hour = self.rng.choice((7, 8, 9, 9, 10, 10, 11, 13, 14, 14, 15, 16, 17, 18))
        return dt.datetime.combine(day, dt.time(hour, self.rng.choice((0, 15, 30, 45))))

    def _people(self, uid: str) -> list[str]:
        if self.rng.random() >= 0.4:
            return []
        lines = ["ORGANIZER;CN=Bench User:mailto:bench@example.com"]
        for email in self.rng.sample(EXTERNAL, self.rng.randint(1, 3)):
            lines.append(
                f"ATTENDEE;PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:{email}"
            )
        return lines

    def _extras(self) -> list[str]:
        lines = []
        place = self.rng.choice(PLACES)
        if place:
            lines.append(f"LOCATION:{place}")
        if self.rng.random() < 0.3:
            text = " ".join(self.rng.choice(WORDS).lower() for _ in range(self.rng.randint(8, 40)))
            lines.append(f"DESCRIPTION:{text}")
        return lines

    def _start_lines(self, start: dt.datetime, end: dt.datetime, tzid: str | None) -> list[str]:
        if tzid is None:  # UTC: the naive wall clock is read as UTC
            return [
                f"DTSTART:{_utc(start.replace(tzinfo=UTC))}",
                f"DTEND:{_utc(end.replace(tzinfo=UTC))}",
            ]
        return [f"DTSTART;TZID={tzid}:{_local(start)}", f"DTEND;TZID={tzid}:{_local(end)}"]

    def _vevent(self, uid: str, lines: list[str]) -> list[str]:
        return ["BEGIN:VEVENT", f"UID:{uid}", f"DTSTAMP:{self.stamp}", *lines, "END:VEVENT"]

    # ------------------------------------------------------------------ kinds
    def one_off(self, uid: str) -> Event:
        start = self._when()
        end = start + dt.timedelta(minutes=self.rng.choice((15, 30, 30, 45, 60, 60, 90, 120)))
        tzid = self.rng.choice((None, None, None, "Europe/Berlin", "America/New_York"))
        lines = [f"SUMMARY:{self._title()}", *self._start_lines(start, end, tzid)]
        lines += self._extras() + self._people(uid)
        if self.rng.random() < 0.1:
            lines.append("CLASS:PRIVATE")
        if self.rng.random() < 0.05:
            lines.append("STATUS:CANCELLED")
        return Event(uid, wrap(self._vevent(uid, lines), {tzid} if tzid else set()), "one-off")

    def all_day(self, uid: str) -> Event:
        day = self._when().date()
        days = self.rng.randint(2, 5) if self.rng.random() < 0.35 else 1
        lines = [
            f"SUMMARY:{self._title()}",
            f"DTSTART;VALUE=DATE:{_date(day)}",
            f"DTEND;VALUE=DATE:{_date(day + dt.timedelta(days=days))}",
            "TRANSP:TRANSPARENT",
        ]
        lines += self._extras()
        return Event(uid, wrap(self._vevent(uid, lines)), "multi-day" if days > 1 else "all-day")

    def series(self, uid: str) -> Event:
        rng = self.rng
        tzid = rng.choice((None, "Europe/Berlin", "America/New_York"))
        start = self._when(spread_days=300)
        if rng.random() < 0.75:
            days = rng.sample(WEEKDAYS, rng.choice((1, 1, 1, 2, 3)))
            days.sort(key=WEEKDAYS.index)
            # DTSTART must be an occurrence: move it to the first listed weekday on/after it.
            while start.weekday() >= 5 or WEEKDAYS[start.weekday()] not in days:
                start += dt.timedelta(days=1)
            rule, step = f"FREQ=WEEKLY;BYDAY={','.join(days)}", dt.timedelta(weeks=1)
            if rng.random() < 0.2:
                rule += ";INTERVAL=2"
                step *= 2
        else:
            rule, step = "FREQ=DAILY", dt.timedelta(days=1)
        end = start + dt.timedelta(minutes=rng.choice((15, 30, 60)))
        zone = ZoneInfo(tzid) if tzid else UTC
        base_rule = rule
        ending = rng.choice(("count", "until", "open"))
        if ending == "count":
            rule += f";COUNT={rng.randint(3, 60)}"
        elif ending == "until":
            until = start + step * rng.randint(3, 60)
            rule += f";UNTIL={_utc(until.replace(tzinfo=zone))}"

        def stamp(t: dt.datetime) -> str:  # how a recurrence instance is written
            return _local(t) if tzid else _utc(t.replace(tzinfo=UTC))

        tzparam = f";TZID={tzid}" if tzid else ""
        # The first three occurrences (COUNT >= 3 and UNTIL >= 3 steps keep them in the set).
        instances = list(
            rrule.rrulestr(base_rule, dtstart=start, cache=False).xafter(start, count=3, inc=True)
        )
        lines = [f"SUMMARY:{self._title()}", *self._start_lines(start, end, tzid), f"RRULE:{rule}"]
        lines += self._extras() + self._people(uid)
        overrides: list[str] = []
        if rng.random() < 0.4:
            lines.append(f"EXDATE{tzparam}:{stamp(instances[1])}")
        if rng.random() < 0.3:
            moved = instances[2]
            new_start = moved + dt.timedelta(hours=rng.choice((-2, 1, 3, 24)))
            new_end = new_start + (end - start)
            overrides = self._vevent(
                uid,
                [
                    f"RECURRENCE-ID{tzparam}:{stamp(moved)}",
                    f"SUMMARY:{self._title()} (moved)",
                    *self._start_lines(new_start, new_end, tzid),
                    "SEQUENCE:1",
                ],
            )
        body = self._vevent(uid, lines) + overrides
        return Event(uid, wrap(body, {tzid} if tzid else set()), "series")

    def event(self, index: int) -> Event:
        uid = f"bench-{self.seed}-{index:06d}"
        draw = self.rng.random()
        if draw < 0.70:
            return self.one_off(uid)
        if draw < 0.80:
            return self.all_day(uid)
        return self.series(uid)


def generate(n: int, *, seed: int = 20240601, anchor: dt.date | None = None) -> list[Event]:
    """N events around ``anchor`` (default today, UTC); the same for the same seed and anchor."""
    anchor = anchor or dt.datetime.now(UTC).date()
    stamp = dt.datetime.combine(anchor, dt.time(0, 0), tzinfo=UTC)
    gen = Generator(seed, anchor, stamp)
    return [gen.event(i) for i in range(n)]


def extra_event(uid: str, anchor: dt.date, minutes: int = 0) -> str:
    """A one-off event used by the put and sync operations (not part of the loaded set)."""
    start = dt.datetime.combine(anchor, dt.time(12, 0), tzinfo=UTC) + dt.timedelta(minutes=minutes)
    end = start + dt.timedelta(minutes=30)
    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{_utc(start)}",
        f"SUMMARY:Bench {uid}",
        f"DTSTART:{_utc(start)}",
        f"DTEND:{_utc(end)}",
        "END:VEVENT",
    ]
    return wrap(lines)


def whole_calendar(events: list[Event]) -> str:
    """All events as one VCALENDAR (for a whole-collection PUT): components merged."""
    tzids = {t for t in VTIMEZONES if any(f"TZID:{t}\r\n" in ev.ics for ev in events)}
    body = []
    for ev in events:
        start = ev.ics.index("BEGIN:VEVENT")
        body.append(ev.ics[start : ev.ics.rindex("END:VCALENDAR")])
    head = wrap([], tzids).removesuffix("\r\nEND:VCALENDAR\r\n")
    return head + "".join(body) + "END:VCALENDAR\r\n"
