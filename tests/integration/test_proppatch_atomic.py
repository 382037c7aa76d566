"""A PROPPATCH is all-or-nothing: a refused one leaves every property as it was, and the
owner keeps access to the collection. Radicale writes the properties before it fails
on DAV:resourcetype (it answers 400 after set_meta); the bridge commits a request's writes
only with a success answer, and refuses a change of resource type before writing."""

from __future__ import annotations

import pytest

from tests.support import dav
from tests.support.http import Response, request, vevent
from tests.support.module_server import ModuleServer, module_server  # noqa: F401

SNAPSHOT = dav.propfind(
    "D:resourcetype",
    "D:displayname",
    "C:calendar-description",
    "C:supported-calendar-component-set",
    "I:calendar-color",
    "CS:getctag",
    "D:getetag",
    "D:sync-token",
).replace(
    "<D:propfind ",
    '<D:propfind xmlns:I="http://apple.com/ns/ical/" xmlns:CS="http://calendarserver.org/ns/" ',
)
CALENDAR_TYPE = "<D:resourcetype><D:collection/><C:calendar/></D:resourcetype>"
BOOK_TYPE = "<D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype>"
PLAIN_TYPE = "<D:resourcetype><D:collection/></D:resourcetype>"
RENAME = "<D:displayname>Renamed by a refused request</D:displayname>"

# kind -> (path, its own resource type, an item in it)
KINDS = {
    "calendar": ("/alice/atomic-cal/", CALENDAR_TYPE, "e.ics"),
    "meetings": ("/alice/meetings/", CALENDAR_TYPE, "atomic-m.ics"),
    "address book": ("/alice/atomic-book/", BOOK_TYPE, "c.vcf"),
    "home": ("/alice/", PLAIN_TYPE, None),
}


@pytest.fixture(scope="module")
def world(module_server: ModuleServer) -> ModuleServer:  # noqa: F811 - the imported fixture
    url = module_server.url
    assert request(url, "MKCALENDAR", "/alice/atomic-cal/", dav.mkcalendar("Atomic")).status == 201
    made = request(url, "MKCOL", "/alice/atomic-book/", dav.mkcol_addressbook(), headers=dav.XML)
    assert made.status == 201, made
    assert request(url, "PUT", "/alice/atomic-cal/e.ics", vevent("atomic-e")).status == 201
    assert request(url, "PUT", "/alice/meetings/atomic-m.ics", vevent("atomic-m")).status == 201
    card = request(
        url,
        "PUT",
        "/alice/atomic-book/c.vcf",
        dav.vcard("atomic-c", "Zoë"),
        headers={"Content-Type": "text/vcard"},
    )
    assert card.status == 201, card
    return module_server


def snapshot(world: ModuleServer, path: str) -> Response:
    answer = request(world.url, "PROPFIND", path, SNAPSHOT, headers={**dav.XML, "Depth": "0"})
    assert answer.status == 207, answer
    return answer


def proppatch(world: ModuleServer, path: str, body: str) -> Response:
    return request(world.url, "PROPPATCH", path, body, headers=dav.XML)


def other_types(own: str) -> list[str]:
    return [t for t in (CALENDAR_TYPE, BOOK_TYPE, PLAIN_TYPE) if t != own]


def refused_bodies(own: str) -> list[str]:
    return [
        # A change of resource type, alone and beside a legitimate change.
        *(dav.proppatch(t) for t in other_types(own)),
        *(dav.proppatch(RENAME + t) for t in other_types(own)),
        dav.proppatch(RENAME, remove_xml="<D:resourcetype/>"),
        # The same type again: Radicale writes the properties, then fails its answer.
        dav.proppatch(RENAME + own),
    ]


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_refused_proppatch_changes_nothing(world, kind):
    path, own, item = KINDS[kind]
    before = snapshot(world, path)
    for body in refused_bodies(own):
        answer = proppatch(world, path, body)
        assert 400 <= answer.status < 500, (body, answer)
        after = snapshot(world, path)
        assert after.body == before.body, body
        assert "Renamed by a refused request" not in after.body
    # The owner still reaches the collection and its items.
    listing = request(world.url, "PROPFIND", path, SNAPSHOT, headers={**dav.XML, "Depth": "1"})
    assert listing.status == 207, listing
    if item is not None:
        assert request(world.url, "GET", path + item).status == 200
        assert item in listing.body


@pytest.mark.parametrize("kind", list(KINDS))
def test_an_accepted_proppatch_still_applies(world, kind):
    path, _, _ = KINDS[kind]
    before = snapshot(world, path)
    renamed = dav.proppatch("<D:displayname>Accepted ✓</D:displayname>")
    answer = proppatch(world, path, renamed)
    assert answer.status == 207, answer
    assert "Accepted ✓" in snapshot(world, path).body
    assert before.body != snapshot(world, path).body
