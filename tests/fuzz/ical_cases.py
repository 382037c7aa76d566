"""Hypothesis strategies for iCalendar bodies: valid, odd and broken, recurrence-heavy.

Every drawn body comes with the failure classes it belongs to (``known``: classes found
and fixed before, see ``outcome.KNOWN``), so a regression is reported by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

USERS = ("alice", "bob", "carol", "dave")
FREQS = ("SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY")
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "UTC")
BAD_ZONES = ("Mars/Olympus", "", "Europe/Berlin ", "GMT+25", "../../etc/passwd", "Ünï/Zone")
# A MariaDB VARCHAR(255) / (320) column overflows past these (a known failure class).
SAFE_ID = 200


@dataclass
class Body:
    """A request body and the known failure classes it may trigger."""

    text: str | bytes
    known: set[str] = field(default_factory=set)
    uid: str = ""


odd_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs",), blacklist_characters="\r\n", min_codepoint=1
    ),
    max_size=40,
)
plain_text = st.sampled_from(
    ["Team sync", "Zürich Büro", "会议", "Встреча", "🎉 party", "a;b,c\\d", "x" * 80, ""]
)


@st.composite
def uids(draw: st.DrawFn) -> tuple[str, set[str]]:
    kind = draw(st.sampled_from(["plain", "plain", "plain", "odd", "long", "seed"]))
    if kind == "plain":
        return f"fz-{draw(st.integers(0, 50))}", set()  # few: clashes are part of the test
    if kind == "odd":
        return "fz-" + draw(odd_text).replace(":", "_") + "-ü", set()
    if kind == "seed":  # a UID that the seeded objects use: clashes
        return draw(st.sampled_from(["public-seed", "series-seed", "dave-seed"])), set()
    size = draw(st.sampled_from([254, 255, 256, 300, 1000]))
    return "u" * size, {"long-value"} if size > 255 else set()


def stamp(year: int, month: int, day: int, hour: int = 9, minute: int = 0, sec: int = 0) -> str:
    return f"{year:04d}{month:02d}{day:02d}T{hour:02d}{minute:02d}{sec:02d}"


@st.composite
def when(
    draw: st.DrawFn, name: str, *, all_day: bool, zone: str | None, at: tuple | None = None
) -> str:
    """A DATE or DATE-TIME property; ``at`` = (year, month, day, hour) fixes the value."""
    if at is None:
        year = draw(st.sampled_from([2026, 2026, 2027, 1970, 1900, 2100, 9999, 1]))
        at = (year, draw(st.integers(1, 12)), draw(st.integers(1, 28)), draw(st.integers(0, 23)))
    year, month, day, hour = at
    if all_day:
        return f"{name};VALUE=DATE:{year:04d}{month:02d}{day:02d}"
    value = stamp(year, month, day, hour, 0)
    if zone is None:
        return f"{name}:{value}Z"
    if zone == "floating":
        return f"{name}:{value}"
    return f"{name};TZID={zone}:{value}"


@st.composite
def sane_rrules(draw: st.DrawFn) -> str:
    """A rule a calendar app would write: it ends, and its BY-parts fit its FREQ."""
    freq = draw(st.sampled_from(["MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"]))
    parts = [f"FREQ={freq}"]
    if freq in ("MINUTELY", "HOURLY") or draw(st.booleans()):
        parts.append(f"COUNT={draw(st.integers(1, 400))}")
    elif draw(st.booleans()):
        parts.append(f"UNTIL={draw(st.sampled_from(['20270601T000000Z', '20261231T235959Z']))}")
    if draw(st.booleans()):
        parts.append(f"INTERVAL={draw(st.integers(1, 5))}")
    if freq == "WEEKLY" and draw(st.booleans()):
        days = draw(
            st.lists(st.sampled_from(["MO", "TU", "WE", "TH", "FR"]), min_size=1, unique=True)
        )
        parts.append(f"BYDAY={','.join(days)}")
    if freq == "MONTHLY" and draw(st.booleans()):
        days = draw(st.lists(st.integers(1, 28), min_size=1, max_size=5))
        parts.append(f"BYMONTHDAY={','.join(map(str, days))}")
    return "RRULE:" + ";".join(parts)


@st.composite
def rrules(draw: st.DrawFn) -> tuple[str, set[str]]:
    known: set[str] = set()
    freq = draw(st.sampled_from(FREQS))
    parts = [f"FREQ={freq}"]
    if freq == "SECONDLY":
        known.add("secondly")
    end = draw(st.sampled_from(["count", "until", "none", "both"]))
    if end in ("count", "both"):
        parts.append(f"COUNT={draw(st.sampled_from([-1, 0, 1, 2, 10, 4999, 5000, 5001, 10**9]))}")
    if end in ("until", "both"):
        until = draw(
            st.sampled_from(
                [
                    "19000101T000000Z",
                    "20261201T100000Z",
                    "20270101",
                    "99991231T235959Z",
                    "20261231T235959Z",
                    "garbage",
                ]
            )
        )
        parts.append(f"UNTIL={until}")
    if draw(st.booleans()):
        parts.append(f"INTERVAL={draw(st.sampled_from([0, 1, 2, 7, 1000, -3]))}")
    by = {
        "BYSECOND": st.integers(0, 60),
        "BYMINUTE": st.integers(0, 59),
        "BYHOUR": st.integers(0, 23),
        "BYDAY": st.builds(
            lambda n, d: f"{n}{d}" if n else d,
            st.sampled_from([0, 0, 1, -1, 5, 53, -53]),
            st.sampled_from(["MO", "TU", "WE", "TH", "FR", "SA", "SU"]),
        ),
        "BYMONTHDAY": st.integers(-31, 31),
        "BYYEARDAY": st.integers(-366, 366),
        "BYWEEKNO": st.integers(-53, 53),
        "BYMONTH": st.integers(1, 13),
        "BYSETPOS": st.integers(-366, 366),
    }
    sizes = {}
    for name in draw(st.lists(st.sampled_from(sorted(by)), max_size=4, unique=True)):
        values = draw(st.lists(by[name], min_size=1, max_size=60))
        if draw(st.integers(0, 9)) == 0 and name in ("BYSECOND", "BYMINUTE", "BYHOUR"):
            values = list(range({"BYSECOND": 60, "BYMINUTE": 60, "BYHOUR": 24}[name]))
        sizes[name] = len(set(values))
        parts.append(f"{name}={','.join(str(v) for v in values)}")
    per_day = 1
    for name in ("BYSECOND", "BYMINUTE", "BYHOUR"):
        per_day *= sizes.get(name, 1)
    if per_day >= 3600:
        known.add("huge-by-lists")
    if draw(st.booleans()):
        parts.append(f"WKST={draw(st.sampled_from(['MO', 'SU', 'XX']))}")
    return "RRULE:" + ";".join(draw(st.permutations(parts))), known


@st.composite
def date_list(draw: st.DrawFn, name: str) -> list[str]:
    """RDATE/EXDATE: one line with many values, or a flood of lines."""
    count = draw(st.sampled_from([1, 3, 50, 500, 3000]))
    base = draw(st.sampled_from([2026, 2027]))
    values = [stamp(base + i // 300, 1 + (i // 28) % 12, 1 + i % 28) + "Z" for i in range(count)]
    if draw(st.booleans()):
        return [f"{name}:{','.join(values)}"]
    return [f"{name}:{v}" for v in values]


@st.composite
def people(draw: st.DrawFn, sane: bool) -> tuple[list[str], set[str]]:
    known: set[str] = set()
    out = []
    if draw(st.booleans()):
        out.append(f"ORGANIZER:mailto:{draw(st.sampled_from(USERS))}@example.com")
    for _ in range(draw(st.integers(0, 4))):
        kinds = ["user", "outside"] if sane else ["user", "user", "outside", "long", "odd"]
        kind = draw(st.sampled_from(kinds))
        if kind == "user":
            email = f"{draw(st.sampled_from(USERS)).upper()}@example.com"
        elif kind == "outside":
            email = f"guest{draw(st.integers(0, 99))}@outside.example"
        elif kind == "odd":
            email = draw(odd_text).replace(":", "") + "@x"
        else:
            size = draw(st.sampled_from([300, 330, 5000]))
            email = "l" * size + "@example.com"
            known.add("long-value")
        name = draw(st.sampled_from(["", "Eve", "Zoë Ñ"] + ([] if sane else ['Q "x"', "n" * 300])))
        if len(name) > 255:
            known.add("long-value")
        cn = f';CN="{name}"' if name else ""
        partstat = draw(
            st.sampled_from(["ACCEPTED", "NEEDS-ACTION"] + ([] if sane else ["X-" + "P" * 40]))
        )
        if len(partstat) > 32:
            known.add("long-value")
        out.append(f"ATTENDEE{cn};PARTSTAT={partstat}:mailto:{email}")
    return out, known


@st.composite
def big_values(draw: st.DrawFn, sane: bool) -> tuple[list[str], set[str]]:
    """Huge, odd, non-ASCII and unfolded long property values."""
    out: list[str] = []
    known: set[str] = set()
    for _ in range(draw(st.integers(0, 3))):
        names = [
            "DESCRIPTION",
            "LOCATION",
            "X-ODD",
            "COMMENT",
            "X-CRM-ACTIVITY-TYPE",
            "CATEGORIES",
        ] + ([] if sane else ["SUMMARY"])
        name = draw(st.sampled_from(names))
        size = draw(st.sampled_from([0, 10, 998, 5000] + ([] if sane else [66_000, 300_000])))
        value = draw(odd_text).replace("\\", "\\\\") + "é" * (size // 2) + "x" * (size - size // 2)
        if size > 60_000 or (name == "X-CRM-ACTIVITY-TYPE" and len(value) > 64):
            known.add("long-value")
        out.append(f"{name}:{value}")
    return out, known


@st.composite
def events(draw: st.DrawFn, uid: str, sane: bool) -> tuple[list[str], set[str]]:
    """A series (master and overridden instances); ``sane``: what a calendar app writes."""
    known: set[str] = set()
    all_day = draw(st.booleans())
    zones = ["utc", "zone"] if sane else ["utc", "utc", "zone", "bad", "floating"]
    zone_kind = draw(st.sampled_from(zones))
    zone = {"utc": None, "floating": "floating"}.get(zone_kind)
    if zone_kind == "zone":
        zone = draw(st.sampled_from(ZONES))
    elif zone_kind == "bad":
        zone = draw(st.sampled_from(BAD_ZONES))
    lines = ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20261101T000000Z"]
    at = None
    if sane:
        at = (
            draw(st.sampled_from([2026, 2027])),
            draw(st.integers(1, 12)),
            draw(st.integers(1, 27)),
            draw(st.integers(0, 22)),
        )
    if sane or draw(st.integers(0, 15)):
        lines.append(draw(when("DTSTART", all_day=all_day, zone=zone, at=at)))
    ends = ["dtend", "duration"] if sane else ["dtend", "dtend", "duration", "none", "both"]
    end = draw(st.sampled_from(ends))
    if end in ("dtend", "both"):
        later = None if at is None else (at[0], at[1], at[2] + all_day, at[3] + 1)
        lines.append(draw(when("DTEND", all_day=all_day, zone=zone, at=later)))
    if end in ("duration", "both"):
        durations = ["PT1H", "P1D"] + ([] if sane else ["-PT1H", "PT0S", "P9999W", "xx"])
        lines.append(f"DURATION:{draw(st.sampled_from(durations))}")
    lines.append(f"SUMMARY:{draw(st.one_of(plain_text, odd_text))}")
    lines.append(f"CLASS:{draw(st.sampled_from(['PUBLIC', 'PRIVATE', 'CONFIDENTIAL', 'X-ODD']))}")
    if sane and draw(st.booleans()):
        lines.append(draw(sane_rrules()))
    rules = draw(st.integers(0, 3)) if not sane and draw(st.booleans()) else 0
    if rules > 1:
        known.add("two-rrules")
    for _ in range(rules):
        rule, k = draw(rrules())
        lines.append(rule)
        known |= k
    for name in ("RDATE", "EXDATE"):
        if draw(st.integers(0, 3)) == 0:
            dates = draw(date_list(name))
            lines += dates
            if sum(line.count("Z") for line in dates) >= 2000:  # JSON > 64 KB on MariaDB
                known.add("long-value")
    found, k = draw(people(sane))
    lines += found
    known |= k
    found, k = draw(big_values(sane))
    lines += found
    known |= k
    if draw(st.integers(0, 4)) == 0:
        lines += ["BEGIN:VALARM", "ACTION:DISPLAY", "TRIGGER:-PT15M", "DESCRIPTION:x"]
        if not sane and draw(st.booleans()):  # nested deeper than iCalendar allows
            lines += ["BEGIN:VEVENT", f"UID:{uid}-inner", "DTSTART:20261201T100000Z", "END:VEVENT"]
        lines.append("END:VALARM")
    lines.append("END:VEVENT")
    for _ in range(draw(st.integers(0, 3)) if draw(st.booleans()) else 0):
        lines += draw(overridden(uid, all_day=all_day, zone=zone, at=at))
    return lines, known


@st.composite
def overridden(
    draw: st.DrawFn, uid: str, *, all_day: bool, zone: str | None, at: tuple | None
) -> list[str]:
    """An overridden instance: its RECURRENCE-ID may or may not be in the rule."""
    if at is not None and draw(st.booleans()):  # the first instance: in the rule
        rid = draw(when("RECURRENCE-ID", all_day=all_day, zone=zone, at=at))
    else:
        rid = draw(when("RECURRENCE-ID", all_day=all_day, zone=zone))
    out = ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20261101T000000Z", rid]
    out.append(draw(when("DTSTART", all_day=all_day, zone=zone, at=at)))
    out.append(f"SUMMARY:{draw(plain_text)}")
    out.append(f"CLASS:{draw(st.sampled_from(['PRIVATE', 'PUBLIC', 'CONFIDENTIAL']))}")
    if draw(st.booleans()):
        out.append(f"RANGE-OR-NOT:{draw(odd_text)}")
    out.append("END:VEVENT")
    return out


VTIMEZONE = [
    "BEGIN:VTIMEZONE",
    "TZID:Europe/Berlin",
    "BEGIN:STANDARD",
    "DTSTART:19701025T030000",
    "TZOFFSETFROM:+0200",
    "TZOFFSETTO:+0100",
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
    "END:STANDARD",
    "END:VTIMEZONE",
]


@st.composite
def others(draw: st.DrawFn, uid: str) -> list[str]:
    kind = draw(st.sampled_from(["VTODO", "VJOURNAL", "VFREEBUSY", "VCALENDAR", "X-THING"]))
    return [
        f"BEGIN:{kind}",
        f"UID:{uid}",
        "DTSTAMP:20261101T000000Z",
        f"SUMMARY:{draw(plain_text)}",
        f"END:{kind}",
    ]


def _mutate(draw: st.DrawFn, lines: list[str]) -> list[str]:
    """Break an object the way broken clients and networks do."""
    how = draw(
        st.sampled_from(
            ["drop", "duplicate", "truncate", "no-colon", "garbage", "missing-end", "swap"]
        )
    )
    at = draw(st.integers(0, max(len(lines) - 1, 0)))
    if how == "drop" and lines:
        return lines[:at] + lines[at + 1 :]
    if how == "duplicate" and lines:
        return lines[: at + 1] + lines[at:]
    if how == "truncate":
        return lines[:at]
    if how == "no-colon":
        return lines[:at] + ["THIS LINE HAS NO COLON"] + lines[at:]
    if how == "garbage":
        return lines[:at] + [draw(odd_text)] + lines[at:]
    if how == "missing-end":
        return [line for line in lines if not line.startswith("END:V")]
    return lines[::-1]


@st.composite
def calendars(draw: st.DrawFn) -> Body:
    """One calendar object body for PUT."""
    sane = draw(st.booleans())  # half of the objects are what a calendar app would write
    uid, known = draw(uids()) if not sane else (f"fz-{draw(st.uuids()).hex[:12]}", set())
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//fuzz//EN"]
    if draw(st.booleans()):
        lines += VTIMEZONE
    found, k = draw(events(uid, sane))
    lines += found
    known |= k
    if not sane and draw(st.integers(0, 5)) == 0:
        lines += draw(others(uid if draw(st.booleans()) else uid + "-2"))
    if not sane and draw(st.integers(0, 7)) == 0:
        lines += draw(events(uid + "-other", False))[0]  # a second series in one object
    lines.append("END:VCALENDAR")
    if not sane and draw(st.integers(0, 3)) == 0:
        lines = _mutate(draw, lines)
    newline = draw(st.sampled_from(["\r\n", "\r\n", "\n"] + ([] if sane else ["\r"])))
    text = newline.join(lines) + newline
    encodings = ["utf-8"] * 8 + ([] if sane else ["bom", "latin-1", "bytes"])
    encoding = draw(st.sampled_from(encodings))
    if encoding == "bom":
        return Body("\ufeff" + text, known, uid)
    if encoding == "latin-1":
        return Body(text.encode("latin-1", errors="replace"), known, uid)
    if encoding == "bytes":
        return Body(text.encode() + b"\xff\xfe\x00\xc3", known, uid)
    return Body(text, known, uid)
