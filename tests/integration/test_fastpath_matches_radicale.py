"""The CalDAV fast path (bridge.fastpath) answers exactly as Radicale does over our plugin.

The same configuration and store run two ways in this process: Radicale's own
Application (PROPFIND and REPORT built by Radicale from the plugin's items) and
FastApplication (the same requests written from the store). For every request shape
the fast path takes - PROPFIND Depth 1, sync-collection (initial and incremental),
calendar-multiget, calendar-query with a VEVENT time range - the two answers must be
byte for byte equal: on a user's meetings calendar, on a client-made calendar whose name
needs quoting, and on a colleague's read-only view where private meetings show as busy
time only. Refusals (another user's calendar) are equal too; SERVED proves which
requests the fast path answered, and that other shapes went to Radicale.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from radicale import Application

from bench.wsgi import Client
from bridge import fastpath
from bridge.config import parse_config
from bridge.server import radicale_configuration
from bridge.wiring import open_store
from bridge.wsgi_guard import RequestGuard
from tests.support.http import vevent

C = "urn:ietf:params:xml:ns:caldav"
XML = {"Content-Type": "application/xml"}
PUT = {"Content-Type": "text/calendar; charset=utf-8"}
PROPS = (
    "<D:getetag/><D:getcontenttype/><D:resourcetype/><D:getlastmodified/>"
    "<D:getcontentlength/><D:displayname/><CS:getctag/><C:supported-calendar-component-set/>"
)


def propfind(props: str = PROPS) -> str:
    return (
        '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"'
        f' xmlns:CS="http://calendarserver.org/ns/"><D:prop>{props}</D:prop></D:propfind>'
    )


def sync(token: str, props: str = "<D:getetag/>") -> str:
    return (
        f'<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:" xmlns:C="{C}">'
        f"<D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>"
        f"<D:prop>{props}</D:prop></D:sync-collection>"
    )


def multiget(hrefs: list[str]) -> str:
    refs = "".join(f"<D:href>{h}</D:href>" for h in hrefs)
    return (
        f'<?xml version="1.0"?><C:calendar-multiget xmlns:D="DAV:" xmlns:C="{C}">'
        f"<D:prop><D:getetag/><C:calendar-data/><D:getcontenttype/><D:displayname/></D:prop>"
        f"{refs}</C:calendar-multiget>"
    )


def query(start: str, end: str, data: str = "<C:calendar-data/>") -> str:
    return (
        f'<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="{C}">'
        f"<D:prop><D:getetag/>{data}</D:prop>"
        '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        f'<C:time-range start="{start}" end="{end}"/></C:comp-filter></C:comp-filter>'
        "</C:filter></C:calendar-query>"
    )


def meeting(uid: str, start: str, *, private: bool, attendees: list[str]) -> str:
    lines = [f"ATTENDEE:mailto:{a}" for a in attendees]
    lines += ["CLASS:PRIVATE", "LOCATION:Secret room"] if private else ["LOCATION:Room 1"]
    return vevent(
        uid, f"Meeting {uid}", start=start, end=start[:9] + "235900Z", extra="\n".join(lines)
    )


SERIES = vevent(
    "series",
    "Weekly & <more>",
    start="20261102T090000Z",
    end="20261102T093000Z",
    extra="RRULE:FREQ=WEEKLY\nEXDATE:20261109T090000Z",
)


def make_apps(db_url, tmp_path, radicale: dict | None = None):
    """Radicale's Application, and FastApplication behind the guard as `bridge serve`
    runs it (so the fast path reads the guard's parse of the body)."""
    settings = parse_config(
        {
            # no delay on refusals (Radicale's default sleeps a second on each 403)
            "server": {"auth": "none", "radicale": {"auth": {"delay": "0"}, **(radicale or {})}},
            "store": {"url": db_url},
            "users": [
                {"login": "alice", "email": "alice@example.com", "can_see": ["bob"]},
                {"login": "bob", "email": "bob@example.com"},
                {"login": "carol", "email": "carol@example.com"},
            ],
        },
        file="test",
        base_dir=tmp_path,
    )
    store = open_store(settings)
    configuration = radicale_configuration(settings)
    guarded = RequestGuard(
        fastpath.FastApplication(configuration),
        configuration=configuration,
        max_occurrences=settings.store.max_occurrences,
        horizon_days=settings.store.index_horizon_days,
    )
    return store, Application(configuration), guarded


@pytest.fixture
def apps(db_url, tmp_path):
    store, plain, fast = make_apps(db_url, tmp_path)
    yield plain, fast
    store.dispose()


def test_too_many_events_is_radicales_answer(db_url, tmp_path):
    """Past [reporting] max_expand_occurrence Radicale refuses a report (400); the fast
    path, counting as Radicale counts, leaves such a report to it."""
    store, plain_app, fast_app = make_apps(
        db_url, tmp_path, {"reporting": {"max_expand_occurrence": "2"}}
    )
    try:
        plain = Client(plain_app, "radicale", "alice", "alice")
        fast = Client(fast_app, "fast", "alice", "alice")
        plain.request("PROPFIND", "/alice/", propfind(), headers={"Depth": "0"})
        cal = "/alice/work/"
        plain.request("MKCALENDAR", cal, "", expect=(201,))
        window = query("20261101T000000Z", "20261201T000000Z")
        stored = 0
        for count, status, by_fast in ((2, 207, 1), (3, 400, 0)):
            while stored < count:  # one VEVENT each
                uid = f"e{stored}"
                body = vevent(uid, uid, start="20261105T090000Z", end="20261105T100000Z")
                plain.request("PUT", f"{cal}{uid}.ics", body, headers=PUT, expect=(201,))
                stored += 1
            before = sum(fastpath.SERVED.values())
            a = plain.request("REPORT", cal, window, headers=XML, expect=(status,))
            b = fast.request("REPORT", cal, window, headers=XML, expect=(status,))
            assert (b.status, b.body) == (a.status, a.body)
            assert sum(fastpath.SERVED.values()) - before == by_fast
    finally:
        store.dispose()


def test_fast_answers_equal_radicales(apps):
    plain_app, fast_app = apps
    served_before = sum(fastpath.SERVED.values())

    def pair(login: str) -> tuple[Client, Client]:
        return Client(plain_app, "radicale", login, login), Client(fast_app, "fast", login, login)

    alice, bob = pair("alice"), pair("bob")
    carol = pair("carol")
    tokens: dict[str, str] = {}
    fast_requests = 0

    def both(who, method, path, body="", headers=None, *, fast=True, expect=(207,)):
        nonlocal fast_requests
        before = sum(fastpath.SERVED.values())
        plain = who[0].request(method, path, body, headers=headers or {}, expect=expect)
        quick = who[1].request(method, path, body, headers=headers or {}, expect=expect)
        assert (quick.status, quick.body) == (plain.status, plain.body), (method, path, body)
        assert quick.headers.get("Content-Type") == plain.headers.get("Content-Type")
        served = sum(fastpath.SERVED.values()) - before
        assert served == (1 if fast else 0), (method, path, body)
        fast_requests += served
        return plain

    for client in (*alice, *bob, *carol):  # homes and meetings calendars exist
        client.request("PROPFIND", f"/{client.login}/", propfind(), headers={"Depth": "0"})
    cal = "/alice/wörk ☕/"
    alice[0].request(
        "MKCALENDAR",
        cal,
        f'<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="{C}"><D:set><D:prop>'
        "<D:displayname>Wörk</D:displayname></D:prop></D:set></C:mkcalendar>",
        expect=(201,),
    )
    alice[0].request("PUT", cal + "one & two.ics", vevent("one"), headers=PUT, expect=(201,))
    alice[0].request("PUT", cal + "series.ics", SERIES, headers=PUT, expect=(201,))
    b = "/bob/meetings/"
    bob[0].request(
        "PUT",
        b + "private.ics",
        meeting("private", "20261103T100000Z", private=True, attendees=["bob@example.com"]),
        headers=PUT,
        expect=(201,),
    )
    bob[0].request(
        "PUT",
        b + "shared.ics",
        meeting(
            "shared",
            "20261104T100000Z",
            private=True,
            attendees=["bob@example.com", "alice@example.com"],
        ),
        headers=PUT,
        expect=(201,),
    )
    bob[0].request(
        "PUT",
        b + "open.ics",
        meeting("open", "20261105T100000Z", private=False, attendees=["bob@example.com"]),
        headers=PUT,
        expect=(201,),
    )

    view = "/alice/meetings-bob/"
    for path in ("/alice/meetings/", view, cal):
        both(alice, "PROPFIND", path, propfind(), {**XML, "Depth": "1"})
        both(alice, "PROPFIND", path, propfind("<D:getetag/>"), {**XML, "Depth": "1"})
        first = both(alice, "REPORT", path, sync(""), XML)
        tokens[path] = ET.fromstring(first.body).findtext("{DAV:}sync-token")
        both(alice, "REPORT", path, sync("", "<D:getetag/><C:calendar-data/>"), XML)
        both(alice, "REPORT", path, sync(tokens[path]), XML)  # nothing changed
        both(alice, "REPORT", path, query("20261101T000000Z", "20261201T000000Z"), XML)
        both(alice, "REPORT", path, query("20261110T000000Z", "20261111T000000Z"), XML)
        both(alice, "REPORT", path, query("20300101T000000Z", "20300201T000000Z"), XML)
        names = ["private.ics", "shared.ics", "open.ics", "one%20%26%20two.ics", "series.ics"]
        both(alice, "REPORT", path, multiget([path + n for n in [*names, "missing.ics"]]), XML)

    # The colleague's view shows the private meeting as busy time only, the shared one in full.
    shown = both(alice, "REPORT", view, query("20261101T000000Z", "20261201T000000Z"), XML).text
    assert "Secret room" in shown  # the private meeting alice takes part in
    assert shown.count("BEGIN:VEVENT") == 3 and "Meeting private" not in shown

    # An incremental sync after changes: one changed, one deleted.
    alice[0].request("PUT", cal + "series.ics", SERIES.replace("Weekly", "Daily"), headers=PUT)
    alice[0].request("DELETE", cal + "one & two.ics", expect=(200, 204))
    both(alice, "REPORT", cal, sync(tokens[cal], "<D:getetag/><D:getcontenttype/>"), XML)

    # Rights: carol may not read alice's calendars; alice may not read bob's own calendar.
    refused = tuple(range(400, 500))
    both(carol, "PROPFIND", cal, propfind(), {**XML, "Depth": "1"}, fast=False, expect=refused)
    both(carol, "REPORT", view, sync(""), XML, fast=False, expect=refused)
    both(
        alice,
        "REPORT",
        b,
        query("20261101T000000Z", "20261201T000000Z"),
        XML,
        fast=False,
        expect=refused,
    )
    # No user (an empty login): Radicale asks for credentials; the fast path never answers.
    nobody = pair("")
    both(nobody, "PROPFIND", cal, propfind(), {**XML, "Depth": "1"}, fast=False, expect=refused)
    both(nobody, "REPORT", cal, sync(""), XML, fast=False, expect=refused)
    # A bad sync token: Radicale's own refusal.
    both(alice, "REPORT", cal, sync("http://elsewhere/token"), XML, fast=False, expect=(403,))

    # Shapes the fast path leaves to Radicale: allprop, privileges, expand, Depth 0, items.
    both(alice, "PROPFIND", cal, "", {"Depth": "1"}, fast=False)
    both(
        alice,
        "PROPFIND",
        cal,
        propfind("<D:current-user-privilege-set/>"),
        {**XML, "Depth": "1"},
        fast=False,
    )
    both(alice, "PROPFIND", cal, propfind(), {**XML, "Depth": "0"}, fast=False)
    expand = '<C:calendar-data><C:expand start="20261101T000000Z" end="20261201T000000Z"/>'
    both(
        alice,
        "REPORT",
        cal,
        query("20261101T000000Z", "20261201T000000Z", expand + "</C:calendar-data>"),
        XML,
        fast=False,
    )
    both(alice, "REPORT", cal + "series.ics", sync(""), XML, fast=False)
    assert fast_requests == 3 * 9 + 2
    assert sum(fastpath.SERVED.values()) - served_before == fast_requests
