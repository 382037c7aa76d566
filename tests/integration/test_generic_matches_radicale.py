"""Client-made collections answer exactly as Radicale's own storage does.

One script of WebDAV/CalDAV/CardDAV requests runs against stock Radicale
(multifilesystem) and against Radicale with our plugin, both in this process. Statuses
and bodies must be equal, except values that are the storage's own choice (collection
ctag, sync-token, last-modified), which must be present on both sides.
"""

from __future__ import annotations

import difflib
import pprint
import xml.etree.ElementTree as ET
from collections import Counter

import pytest

from bench import servers
from bench.reports import sync_collection
from bridge import fastpath
from tests.support.http import vevent

C = "urn:ietf:params:xml:ns:caldav"
OWN_CHOICE = {"{http://calendarserver.org/ns/}getctag", "{DAV:}sync-token", "{DAV:}getlastmodified"}
XML = {"Content-Type": "application/xml"}

SERIES = vevent(
    "series",
    "Weekly",
    start="20261102T090000Z",
    end="20261102T093000Z",
    extra="RRULE:FREQ=WEEKLY;COUNT=6\nEXDATE:20261109T090000Z",
).replace(
    "END:VCALENDAR",
    "BEGIN:VEVENT\r\nUID:series\r\nDTSTAMP:20261101T000000Z\r\nRECURRENCE-ID:20261116T090000Z\r\n"
    "DTSTART:20261117T150000Z\r\nDTEND:20261117T160000Z\r\nSUMMARY:Moved\r\nEND:VEVENT\r\n"
    "END:VCALENDAR",
)
TODO = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VTODO\r\nUID:todo\r\n"
    "DTSTAMP:20261101T000000Z\r\nDUE:20261120T120000Z\r\nSUMMARY:Report\r\nEND:VTODO\r\n"
    "END:VCALENDAR\r\n"
)
CARD = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:card\r\nFN:Zoë Ünal\r\nN:Ünal;Zoë;;;\r\nEND:VCARD\r\n"


def normalise(status: int, body: bytes) -> object:
    """Multistatus as {href: {prop: value}}; anything else as is."""
    text = body.decode("utf-8", "replace")
    if status != 207:
        return status, text
    tree = ET.fromstring(body)
    result: dict[str, dict[str, object]] = {}
    for response in tree.iter("{DAV:}response"):
        href = response.findtext("{DAV:}href")
        if href.startswith("/bench/meetings"):
            continue  # the bridge's own CRM calendars, which stock Radicale lacks
        props: dict[str, object] = {"status": response.findtext("{DAV:}status")}
        for propstat in response.iter("{DAV:}propstat"):
            code = propstat.findtext("{DAV:}status")
            for prop in propstat.find("{DAV:}prop"):
                collection_etag = prop.tag == "{DAV:}getetag" and href.endswith("/")
                if prop.tag in OWN_CHOICE or collection_etag:
                    value: object = bool(prop.text)
                else:
                    value = (prop.text or "").strip() or sorted(child.tag for child in prop)
                props[prop.tag] = (code, value)
        result[href] = props
    tokens = [t.text for t in tree.findall("{DAV:}sync-token")]  # a sync REPORT's own
    return status, result, [bool(t) for t in tokens]


def mkcalendar(name: str) -> str:
    return (
        f'<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="{C}"><D:set><D:prop>'
        f"<D:displayname>{name}</D:displayname>"
        '<C:supported-calendar-component-set><C:comp name="VEVENT"/><C:comp name="VTODO"/>'
        "</C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>"
    )


PROPFIND = (
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" '
    'xmlns:CS="http://calendarserver.org/ns/" xmlns:I="http://apple.com/ns/ical/"><D:prop>'
    "<D:resourcetype/><D:displayname/><D:getetag/><D:getcontenttype/><CS:getctag/>"
    "<D:sync-token/><C:supported-calendar-component-set/><I:calendar-color/>"
    "</D:prop></D:propfind>"
)
PROPPATCH = (
    '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:I="http://apple.com/ns/ical/">'
    "<D:set><D:prop><D:displayname>Renamed ✓</D:displayname>"
    "<I:calendar-color>#FF0000FF</I:calendar-color></D:prop></D:set></D:propertyupdate>"
)


def query(comp: str, start: str, end: str, *, expand: bool = False) -> str:
    data = (
        f'<C:calendar-data><C:expand start="{start}" end="{end}"/></C:calendar-data>'
        if expand
        else "<C:calendar-data/>"
    )
    return (
        f'<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="{C}">'
        f"<D:prop><D:getetag/>{data}</D:prop>"
        f'<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="{comp}">'
        f'<C:time-range start="{start}" end="{end}"/></C:comp-filter></C:comp-filter>'
        "</C:filter></C:calendar-query>"
    )


def multiget(base: str, names: list[str]) -> str:
    refs = "".join(f"<D:href>{base}{n}</D:href>" for n in names)
    return (
        f'<?xml version="1.0"?><C:calendar-multiget xmlns:D="DAV:" xmlns:C="{C}">'
        f"<D:prop><D:getetag/><C:calendar-data/></D:prop>{refs}</C:calendar-multiget>"
    )


def test_same_answers_as_radicales_own_storage(tmp_path):
    served_before = Counter(fastpath.SERVED)
    stock = servers.stock_radicale(tmp_path / "stock")
    ours = servers.bridge(tmp_path / "ours")
    for client in (stock, ours):  # the first request creates the principal's home
        client.request("PROPFIND", "/bench/", PROPFIND, headers={**XML, "Depth": "0"})
    cal = "/bench/wörk ☕/"
    other = "/bench/other/"
    book = "/bench/book/"
    tokens: dict[str, str] = {}

    def both(method: str, path: str, body: str = "", headers: dict | None = None, *, sync_of=None):
        answers = []
        for client in (stock, ours):
            if sync_of is not None:
                body = sync_collection(tokens.get(client.name, ""))
            r = client.request(
                method, path, body, headers=headers or {}, expect=tuple(range(100, 600))
            )
            if sync_of is not None and r.status == 207:
                tokens[client.name] = ET.fromstring(r.body).findtext("{DAV:}sync-token")
            etag = r.headers.get("ETag")
            if path.endswith("/") and etag:
                etag = "collection etag: the storage's own choice"
            answers.append((normalise(r.status, r.body), etag))
        if answers[0] != answers[1]:
            left, right = (pprint.pformat(a, width=120).splitlines() for a in answers)
            diff = "\n".join(difflib.unified_diff(left, right, "stock", "bridge", lineterm=""))
            pytest.fail(f"{method} {path} differs:\n{diff}")
        return answers[0]

    both("MKCALENDAR", cal, mkcalendar("Wörk ☕"), XML)
    both("MKCALENDAR", other, mkcalendar("Other"), XML)
    both("REPORT", cal, headers={**XML, "Depth": "1"}, sync_of=cal)
    for name, body in [
        ("one.ics", vevent("one", "One")),
        ("series.ics", SERIES),
        ("todo.ics", TODO),
    ]:
        both("PUT", cal + name, body, {"Content-Type": "text/calendar"})
    both("PUT", cal + "dup.ics", vevent("one", "Same UID"), {"Content-Type": "text/calendar"})
    both("PROPFIND", cal, PROPFIND, {**XML, "Depth": "1"})
    both("PROPPATCH", cal, PROPPATCH, XML)
    both("PROPFIND", cal, PROPFIND, {**XML, "Depth": "0"})
    both("GET", cal + "series.ics")
    both(
        "REPORT",
        cal,
        multiget(cal, ["one.ics", "series.ics", "missing.ics"]),
        {**XML, "Depth": "1"},
    )
    for start, end in [
        ("20261101T000000Z", "20261201T000000Z"),
        ("20261109T000000Z", "20261110T000000Z"),
        ("20261117T000000Z", "20261118T000000Z"),
        ("20270101T000000Z", "20280101T000000Z"),
    ]:
        both("REPORT", cal, query("VEVENT", start, end), {**XML, "Depth": "1"})
        both("REPORT", cal, query("VEVENT", start, end, expand=True), {**XML, "Depth": "1"})
        both("REPORT", cal, query("VTODO", start, end), {**XML, "Depth": "1"})
    both("REPORT", cal, headers={**XML, "Depth": "1"}, sync_of=cal)  # incremental
    both("PUT", cal + "one.ics", vevent("one", "One changed"), {"Content-Type": "text/calendar"})
    both("DELETE", cal + "todo.ics")
    both("REPORT", cal, headers={**XML, "Depth": "1"}, sync_of=cal)  # the two changes
    both("MOVE", cal + "one.ics", headers={"Destination": other + "moved.ics"})
    both("PROPFIND", other, PROPFIND, {**XML, "Depth": "1"})
    both("GET", cal + "one.ics")
    both("PROPFIND", "/bench/", PROPFIND, {**XML, "Depth": "1"})
    both("DELETE", other)
    both("PROPFIND", other, PROPFIND, {**XML, "Depth": "0"})
    mkcol = (
        '<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav">'
        "<D:set><D:prop><D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype>"
        "<D:displayname>Book</D:displayname></D:prop></D:set></D:mkcol>"
    )
    both("MKCOL", book, mkcol, XML)
    both("PUT", book + "card.vcf", CARD, {"Content-Type": "text/vcard"})
    both("GET", book + "card.vcf")
    both("PROPFIND", book, PROPFIND, {**XML, "Depth": "1"})
    both("GET", cal)  # the whole calendar as one iCalendar file
    # The bridge answered the hot shapes on its calendars through its fast path
    # (bridge.fastpath); VTODO and expand queries, Depth 0, the home and the address book
    # went through Radicale: the same answers either way.
    served = Counter(fastpath.SERVED) - served_before
    assert served == {
        "propfind": 2,
        "sync-collection": 3,
        "calendar-multiget": 1,
        "calendar-query": 4,
    }, served
