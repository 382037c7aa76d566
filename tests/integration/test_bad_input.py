"""Every refused write names the problem and leaves the store as it was."""

from __future__ import annotations

import socket
from xml.etree import ElementTree

import pytest

from tests.support.http import request, vevent
from tests.support.module_server import (  # noqa: F401 - fixtures: one server a module
    fresh_bridge_server,
    module_server,
)

PROPFIND = (
    """<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>"""
)


def listing(server, path: str = "/alice/meetings/") -> list[str]:
    answer = request(
        server.url,
        "PROPFIND",
        path,
        PROPFIND,
        headers={"Depth": "1", "Content-Type": "application/xml"},
    )
    assert answer.status == 207
    return sorted(h.text for h in ElementTree.fromstring(answer.body).iter("{DAV:}href"))


def put(server, href: str, body: str | bytes, **kw):
    return request(server.url, "PUT", f"/alice/meetings/{href}", body, **kw)


STRAY_INSTANCE = (
    "BEGIN:VEVENT\r\nUID:stray-1\r\nDTSTAMP:20261101T000000Z\r\n"
    "RECURRENCE-ID:20261110T090000Z\r\nDTSTART:20261110T150000Z\r\n"
    "DTEND:20261110T160000Z\r\nSUMMARY:Moved\r\nEND:VEVENT\r\n"
)

CASES = {
    "malformed": (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:2026-13-45\r\n",
        "never closed",
    ),
    "unknown_time_zone": (
        vevent("tz-1")
        .replace("DTSTART:20261201T100000Z", "DTSTART;TZID=Mars/Olympus:20261201T100000")
        .replace("DTEND:20261201T110000Z", "DTEND;TZID=Mars/Olympus:20261201T110000"),
        "Mars/Olympus",
    ),
    "recurrence_forever": (
        vevent("forever-1", extra="RRULE:FREQ=SECONDLY"),
        "FREQ=SECONDLY",
    ),
    "recurrence_never_happens": (
        vevent("never-1", extra="RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"),
        "RRULE",
    ),
    "override_outside_the_rule": (
        (
            vevent("stray-1", start="20261103T100000Z", end="20261103T110000Z")
            .replace("SUMMARY:Meeting", "SUMMARY:Meeting\r\nRRULE:FREQ=WEEKLY;COUNT=4")
            .replace("END:VCALENDAR", STRAY_INSTANCE + "END:VCALENDAR")
        ),
        "RECURRENCE-ID 20261110T090000Z is not an occurrence of the rule",
    ),
    "todo_in_meetings": (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VTODO\r\nUID:todo-1\r\n"
        "DTSTAMP:20261101T000000Z\r\nSUMMARY:Buy milk\r\nEND:VTODO\r\nEND:VCALENDAR\r\n",
        "VEVENT",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_refused_put_names_the_problem_and_changes_nothing(bridge_server, case):
    request(bridge_server.url, "PUT", "/alice/meetings/keep.ics", vevent("keep", "Kept"))
    before = listing(bridge_server)
    body, needle = CASES[case]
    answer = put(bridge_server, f"{case}.ics", body)
    assert 400 <= answer.status < 500, answer
    assert needle in answer.body, answer.body
    assert listing(bridge_server) == before


def test_body_over_the_configured_size_is_refused(bridge_server):
    """Refused on its Content-Length alone, before the body is read."""
    before = listing(bridge_server)
    port = int(bridge_server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            b"PUT /alice/meetings/huge.ics HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Basic YWxpY2U6YWxpY2U=\r\nContent-Type: text/calendar\r\n"
            b"Content-Length: 11000000\r\n\r\n" + vevent("huge-1").encode()
        )
        answer = sock.makefile("rb").read().decode()
    assert answer.startswith("HTTP/1.1 413 "), answer
    assert "exceeds max_body of 10000000" in answer
    assert listing(bridge_server) == before


def test_resource_over_the_resource_limit_is_refused(bridge_server):
    before = listing(bridge_server)
    big = vevent("big-1", extra="DESCRIPTION:" + "x" * 1_200_000)
    answer = put(bridge_server, "big.ics", big)
    assert answer.status in (412, 413)
    assert listing(bridge_server) == before


def test_uid_clash_with_a_meeting_elsewhere_is_refused(bridge_server):
    # Bob's private meeting; Alice is not part of it, and re-uses its UID from her phone.
    request(
        bridge_server.url,
        "PUT",
        "/bob/meetings/secret.ics",
        vevent("clash-1", "Bob only"),
        user="bob",
    )
    answer = put(bridge_server, "mine.ics", vevent("clash-1", "Hijack"))
    assert 400 <= answer.status < 500
    assert "clash-1" in answer.body
    bob = request(bridge_server.url, "GET", "/bob/meetings/secret.ics", user="bob")
    assert "Bob only" in bob.body and "Hijack" not in bob.body


def test_uid_clash_inside_a_calendar_is_a_conflict(bridge_server):
    assert put(bridge_server, "a.ics", vevent("same-uid", "First")).status == 201
    answer = put(bridge_server, "b.ics", vevent("same-uid", "Second"))
    assert answer.status == 409
    assert "no-uid-conflict" in answer.body


def test_meetings_calendar_cannot_be_deleted(bridge_server):
    answer = request(bridge_server.url, "DELETE", "/alice/meetings/")
    assert 400 <= answer.status < 500
    assert "meetings" in answer.body
    assert (
        request(
            bridge_server.url,
            "PROPFIND",
            "/alice/meetings/",
            PROPFIND,
            headers={"Depth": "0", "Content-Type": "application/xml"},
        ).status
        == 207
    )


def test_reserved_names_cannot_be_created(bridge_server):
    answer = request(bridge_server.url, "MKCALENDAR", "/alice/meetings-dave/")
    assert 400 <= answer.status < 500


def test_a_stray_instance_added_to_a_stored_series_changes_nothing(bridge_server):
    """Adding an instance the rule does not have to an existing meeting: 400 naming it,
    and the meeting reads back as it was."""
    series = vevent(
        "stray-1", start="20261103T100000Z", end="20261103T110000Z", extra="RRULE:FREQ=WEEKLY"
    )
    assert put(bridge_server, "stray-1.ics", series).status in (201, 204)
    before = request(bridge_server.url, "GET", "/alice/meetings/stray-1.ics")
    changed = series.replace("END:VCALENDAR", STRAY_INSTANCE + "END:VCALENDAR")
    answer = put(bridge_server, "stray-1.ics", changed)
    assert answer.status == 400
    assert "RECURRENCE-ID 20261110T090000Z is not an occurrence of the rule" in answer.body
    after = request(bridge_server.url, "GET", "/alice/meetings/stray-1.ics")
    assert (after.body, after.headers.get("ETag")) == (before.body, before.headers.get("ETag"))
    moved = changed.replace("RECURRENCE-ID:20261110T090000Z", "RECURRENCE-ID:20261110T100000Z")
    assert put(bridge_server, "stray-1.ics", moved).status == 204  # an occurrence: accepted
