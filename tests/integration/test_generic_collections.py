"""Client-made collections behave like Radicale's own storage."""

from __future__ import annotations

import caldav

from tests.support.http import request, vevent
from tests.support.module_server import (  # noqa: F401 - fixtures: one server a module
    fresh_bridge_server,
    module_server,
)

TODO = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VTODO\r\nUID:{uid}\r\n"
    "DTSTAMP:20261101T000000Z\r\nSUMMARY:{summary}\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
)


def test_client_made_calendar_round_trip(bridge_server):
    principal = caldav.DAVClient(
        url=bridge_server.url + "/", username="alice", password="alice"
    ).principal()
    cal = principal.make_calendar(name="Privé ☕", cal_id="privé")
    cal.add_event(vevent("g-1", "Gym"))
    cal.add_todo(TODO.format(uid="t-1", summary="Buy milk"))
    assert len(cal.events()) == 1
    assert len(cal.todos()) == 1
    again = {c.get_display_name() for c in principal.calendars()}
    assert "Privé ☕" in again

    token = cal.objects_by_sync_token(load_objects=False).sync_token
    cal.event_by_uid("g-1").delete()
    delta = cal.objects_by_sync_token(sync_token=token, load_objects=False)
    assert len(list(delta)) == 1

    cal.set_properties([caldav.elements.dav.DisplayName("Renamed")])
    assert principal.calendar(cal_id="privé").get_display_name() == "Renamed"
    cal.delete()
    assert "Renamed" not in {c.get_display_name() for c in principal.calendars()}


def test_move_between_client_calendars(bridge_server):
    for name in ("one", "two"):
        assert request(bridge_server.url, "MKCALENDAR", f"/alice/{name}/").status == 201
    assert request(bridge_server.url, "PUT", "/alice/one/e.ics", vevent("mv-1")).status == 201
    answer = request(
        bridge_server.url,
        "MOVE",
        "/alice/one/e.ics",
        headers={"Destination": f"{bridge_server.url}/alice/two/e.ics"},
    )
    assert answer.status == 201, answer
    assert request(bridge_server.url, "GET", "/alice/one/e.ics").status == 404
    assert "mv-1" in request(bridge_server.url, "GET", "/alice/two/e.ics").body


def test_address_book(bridge_server):
    assert (
        request(
            bridge_server.url,
            "MKCOL",
            "/alice/contacts/",
            """<?xml version="1.0"?>
<D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav">
<D:set><D:prop><D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype>
</D:prop></D:set></D:mkcol>""",
            headers={"Content-Type": "application/xml"},
        ).status
        == 201
    )
    card = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c-1\r\nFN:Zoë\r\nN:;Zoë;;;\r\nEND:VCARD\r\n"
    put = request(
        bridge_server.url,
        "PUT",
        "/alice/contacts/c-1.vcf",
        card,
        headers={"Content-Type": "text/vcard"},
    )
    assert put.status == 201
    got = request(bridge_server.url, "GET", "/alice/contacts/c-1.vcf")
    assert "Zoë" in got.body
    assert got.headers["etag"] == put.headers["etag"]
