"""Builders for iCalendar test data."""

BERLIN_VTZ = """BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE
"""


def cal(*events: str, extra: str = "", uid: str = "u1") -> str:
    """A VCALENDAR with one VEVENT per argument (property lines, UID added)."""
    body = "".join(
        f"BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:20260101T000000Z\n{e.strip()}\nEND:VEVENT\n"
        for e in events
    )
    text = f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\n{extra}{body}END:VCALENDAR\n"
    return text.replace("\n", "\r\n")
