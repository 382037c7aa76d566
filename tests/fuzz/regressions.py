"""Hand-kept cases: the smallest known input of every failure class the campaign found.

They run after the generated cases, in CI and in the long run, so a class keeps being
checked after its fix whatever hypothesis draws. Cases that hang or kill the server come
last (a hung server ends the run). Each carries its class (outcome.KNOWN) when it has one.
"""

from __future__ import annotations

from tests.fuzz.cases import ORIGIN, Case
from tests.fuzz.ical_cases import Body
from tests.support.http import vevent

XML = {"Content-Type": "application/xml; charset=utf-8", "Depth": "0"}
EXDATES = ",".join(
    f"{year}{month:02d}{day:02d}T090000Z"
    for year in range(2027, 2037)
    for month in range(1, 13)
    for day in range(1, 29)
)
ALL_DAY_LONG = (
    "RRULE:FREQ=DAILY;UNTIL=20270101T000000Z;BYHOUR="
    + ",".join(map(str, range(24)))
    + ";BYMINUTE="
    + ",".join(map(str, range(60)))
    + ";BYSECOND="
    + ",".join(map(str, range(60)))
)


def _case(kind: str, user: str, method: str, path: str, body: str = "", headers=None, known=()):  # noqa: ANN001
    return Case(
        f"regression: {kind}", user, method, path, Body(body), dict(headers or {}), set(known)
    )


def _propfind(prop: str) -> str:
    return f'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>{prop}</D:prop></D:propfind>'


REGRESSIONS = [
    # A property without a namespace: radicale.xmlutils.make_human_tag raises -> 500.
    _case(
        "prop without namespace",
        "alice",
        "PROPFIND",
        "/alice/meetings/",
        _propfind('<D:getetag/><x xmlns=""/>'),
        XML,
    ),
    _case("dotdot", "alice", "GET", "/alice/../bob/meetings/", known={"dotdot"}),
    _case("dot segment", "bob", "HEAD", "/dave/work/.", known={"dotdot"}),
    _case("double slash", "dave", "MOVE", "/dave//meetings//x.ics", known={"dotdot"}),
    _case(
        "refused move to a destination with double slashes",
        "carol",
        "MOVE",
        "/carol/meetings-alice/dave-seed.ics",
        headers={"Destination": f"{ORIGIN}/carol//meetings//occurrence-seed.ics", "Overwrite": "T"},
        known={"dotdot"},
    ),
    _case("delete root", "alice", "DELETE", "/", known={"delete-root"}),
    _case(
        "free-busy at the end of time",
        "bob",
        "REPORT",
        "/bob/meetings/",
        '<?xml version="1.0" encoding="utf-8"?><C:free-busy-query xmlns:D="DAV:" '
        'xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="99991231T235959Z" '
        'end="99991231T235959Z"/></C:free-busy-query>',
        {"Content-Type": "application/xml; charset=utf-8", "Depth": "1"},
        {"endless-walk"},
    ),
    # A display name too long for the Content-Disposition header of a collection GET.
    _case(
        "displayname too long to send back",
        "carol",
        "PROPPATCH",
        "/carol/meetings/",
        '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>'
        f"<D:displayname>{'n' * 70_000}</D:displayname></D:prop></D:set></D:propertyupdate>",
        XML,
        {"long-property"},
    ),
    _case("GET after a long displayname", "carol", "GET", "/carol/meetings/"),
    _case(
        "move to another host",
        "alice",
        "MOVE",
        "/alice/work/series.ics",
        "",
        {"Destination": "http://elsewhere.invalid/alice/work/moved.ics"},
        {"move-other-host"},
    ),
    _case(
        "copy within the server",
        "alice",
        "COPY",
        "/alice/work/series.ics",
        "",
        {"Destination": ORIGIN + "/alice/work/copied.ics"},
    ),
    _case(
        "xml dtd",
        "alice",
        "PROPFIND",
        "/alice/meetings/",
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><D:propfind xmlns:D="DAV:">'
        "<D:prop><D:displayname>&a;</D:displayname></D:prop></D:propfind>",
        XML,
        {"xml-dtd"},
    ),
    _case(
        "proppatch resourcetype",
        "alice",
        "PROPPATCH",
        "/alice/fz-cal-0/",
        '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>'
        "<D:resourcetype>x</D:resourcetype></D:prop></D:set></D:propertyupdate>",
        XML,
        {"proppatch-resourcetype"},
    ),
    _case(
        "uid longer than 255",
        "alice",
        "PUT",
        "/alice/meetings/long-uid.ics",
        vevent("u" * 300),
        known={"long-value"},
    ),
    _case(
        "exdate flood (JSON > 64 KB)",
        "alice",
        "PUT",
        "/alice/meetings/flood.ics",
        vevent("exdate-flood", extra=f"RRULE:FREQ=DAILY;COUNT=3\nEXDATE:{EXDATES}"),
        known={"long-value"},
    ),
    _case(
        "attendee e-mail longer than 320",
        "alice",
        "PUT",
        "/alice/meetings/long-mail.ics",
        vevent("long-mail", extra=f"ATTENDEE:mailto:{'l' * 330}@example.com"),
        known={"long-value"},
    ),
    _case(
        "attendee deletes the organiser's meeting",
        "bob",
        "DELETE",
        "/bob/meetings/public-seed.ics",
        known={"attendee-edit"},
    ),
    # Last: these kill or hang the server.
    _case(
        "deep xml",
        "alice",
        "PROPFIND",
        "/alice/meetings/",
        _propfind("<D:x>" * 200_000 + "</D:x>" * 200_000),
        XML,
        {"xml-deep"},
    ),
    _case(
        "second rrule without end",
        "alice",
        "PUT",
        "/alice/meetings/two-rules.ics",
        vevent("two-rules", extra="RRULE:FREQ=DAILY;COUNT=10\nRRULE:FREQ=SECONDLY"),
        known={"two-rrules", "secondly"},
    ),
    _case(
        "86,400 instances a day",
        "alice",
        "PUT",
        "/alice/meetings/by-lists.ics",
        vevent("by-lists", extra=ALL_DAY_LONG),
        known={"huge-by-lists"},
    ),
]
