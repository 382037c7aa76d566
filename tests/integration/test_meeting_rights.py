"""Who may change a meeting (bridge.meeting_rights), over HTTP against `bridge serve`.

alice organises; bob and carol are internal attendees; carol may book for bob
(can_book_for in tests/support/server.py); dave may see nobody and book for nobody.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from bench.reports import sync_collection
from bridge.store import Store
from bridge.store.schema import meetings
from tests.support import server as support
from tests.support.http import request, vevent
from tests.support.module_server import (  # noqa: F401 - fixtures: one server a module
    BACKENDS,
    fresh_bridge_server,
    module_server,
    running_server,
    shared_db_url,
)

TEAM = """
ORGANIZER;CN=Alice:mailto:alice@example.com
ATTENDEE;CN=Alice;PARTSTAT=ACCEPTED:mailto:alice@example.com
ATTENDEE;CN=Bob:mailto:bob@example.com
ATTENDEE;CN=Carol;PARTSTAT=TENTATIVE:mailto:carol@example.com
ATTENDEE;CN=Eve:mailto:eve@outside.example
CLASS:PRIVATE
LOCATION:Room 1
"""

SERIES = vevent(
    "series-r",
    "Weekly",
    start="20261102T090000Z",
    end="20261102T093000Z",
    extra=TEAM + "RRULE:FREQ=WEEKLY;COUNT=5",
).replace(
    "END:VCALENDAR",
    """BEGIN:VEVENT
UID:series-r
DTSTAMP:20261101T000000Z
RECURRENCE-ID:20261109T090000Z
DTSTART:20261109T100000Z
DTEND:20261109T103000Z
SUMMARY:Weekly (later)
ORGANIZER;CN=Alice:mailto:alice@example.com
ATTENDEE;CN=Bob:mailto:bob@example.com
ATTENDEE;CN=Carol;PARTSTAT=TENTATIVE:mailto:carol@example.com
END:VEVENT
END:VCALENDAR""",
)

BOB = "ATTENDEE;CN=Bob:mailto:bob@example.com"


def get(server, login: str, path: str):
    return request(server.url, "GET", path, user=login)


def put(server, login: str, path: str, text: str, **headers: str):
    return request(server.url, "PUT", path, text, user=login, headers=headers or None)


def hrefs(server, login: str, calendar: str = "meetings") -> dict[str, str]:
    """uid -> href of every object in a calendar (PROPFIND + GET)."""
    answer = request(
        server.url,
        "PROPFIND",
        f"/{login}/{calendar}/",
        '<?xml version="1.0"?><propfind xmlns="DAV:"><prop><getetag/></prop></propfind>',
        user=login,
        headers={"Depth": "1", "Content-Type": "application/xml"},
    )
    assert answer.status == 207, answer
    found = {}
    for href in re.findall(r"<href>([^<]+\.ics)</href>", answer.body):
        body = get(server, login, href).body
        found[re.search(r"^UID:(.+?)\r?$", body, re.M).group(1)] = href.rsplit("/", 1)[-1]
    return found


def alice_makes(server, uid: str = "team-1", text: str | None = None) -> str:
    text = text or vevent(uid, "Planning", extra=TEAM)
    assert put(server, "alice", f"/alice/meetings/{uid}.ics", text).status == 201
    return get(server, "alice", f"/alice/meetings/{uid}.ics").body


def test_attendee_answers_and_keeps_personal_alarms_to_themselves(bridge_server):
    organisers_copy = alice_makes(bridge_server)
    bobs = get(bridge_server, "bob", "/bob/meetings/team-1.ics").body
    answered = (
        bobs.replace(BOB, "ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED:mailto:bob@example.com")
        .replace("DTSTAMP:20261101T000000Z", "DTSTAMP:20261115T120000Z\r\nSEQUENCE:7")
        .replace(
            "END:VEVENT",
            "TRANSP:TRANSPARENT\r\nX-MOZ-LASTACK:20261115T120000Z\r\n"
            "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Bob's reminder\r\n"
            "TRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT",
        )
    )
    assert put(bridge_server, "bob", "/bob/meetings/team-1.ics", answered).status == 204

    alice = get(bridge_server, "alice", "/alice/meetings/team-1.ics").body
    assert "PARTSTAT=ACCEPTED:mailto:bob@example.com" in alice.replace("\r\n ", "")
    for personal in ("Bob's reminder", "VALARM", "TRANSPARENT", "X-MOZ-LASTACK", "SEQUENCE:7"):
        assert personal not in alice
    assert "Planning" in alice and "Room 1" in alice
    carol = get(bridge_server, "carol", "/carol/meetings/team-1.ics").body
    assert "Bob's reminder" not in carol
    assert "PARTSTAT=ACCEPTED:mailto:bob@example.com" in carol.replace("\r\n ", "")
    bob = get(bridge_server, "bob", "/bob/meetings/team-1.ics").body
    assert "Bob's reminder" in bob and "TRANSPARENT" in bob
    assert organisers_copy != alice  # the answer reached the organiser's copy

    # Alice's own alarm stays in her calendar; Bob keeps his after her edit.
    edited = alice.replace("Planning", "Planning v2").replace(
        "END:VEVENT",
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Alice's own\r\n"
        "TRIGGER:-PT5M\r\nEND:VALARM\r\nEND:VEVENT",
    )
    assert put(bridge_server, "alice", "/alice/meetings/team-1.ics", edited).status == 204
    bob = get(bridge_server, "bob", "/bob/meetings/team-1.ics").body
    assert "Planning v2" in bob and "Bob's reminder" in bob and "Alice's own" not in bob
    assert "Alice's own" not in get(bridge_server, "carol", "/carol/meetings/team-1.ics").body
    assert "Alice's own" in get(bridge_server, "alice", "/alice/meetings/team-1.ics").body


ATTENDEE_EDITS = {
    "SUMMARY": lambda t: t.replace("SUMMARY:Planning", "SUMMARY:Mine now"),
    "DTSTART": lambda t: t.replace("DTSTART:20261201T100000Z", "DTSTART:20261201T090000Z"),
    "LOCATION": lambda t: t.replace("LOCATION:Room 1", "LOCATION:Room 2"),
    "DESCRIPTION": lambda t: t.replace("END:VEVENT", "DESCRIPTION:added\r\nEND:VEVENT"),
    "ORGANIZER": lambda t: t.replace(
        "ORGANIZER;CN=Alice:mailto:alice@example.com", "ORGANIZER:mailto:bob@example.com"
    ),
    "CLASS": lambda t: t.replace("CLASS:PRIVATE", "CLASS:PUBLIC"),
    "RRULE": lambda t: t.replace("END:VEVENT", "RRULE:FREQ=DAILY;COUNT=2\r\nEND:VEVENT"),
    "X-CRM-BOOKED-BY": lambda t: t.replace("END:VEVENT", "X-CRM-BOOKED-BY:bob\r\nEND:VEVENT"),
    "attendee list": lambda t: t.replace(
        "END:VEVENT", "ATTENDEE:mailto:dave@example.com\r\nEND:VEVENT"
    ),
    "another attendee's participation": lambda t: t.replace(
        "PARTSTAT=TENTATIVE:mailto:carol", "PARTSTAT=DECLINED:mailto:carol"
    ),
}


def test_attendee_may_not_change_the_organisers_meeting(bridge_server):
    before = alice_makes(bridge_server)
    etag = get(bridge_server, "alice", "/alice/meetings/team-1.ics").headers["etag"]
    bobs = get(bridge_server, "bob", "/bob/meetings/team-1.ics").body
    for name, edit in ATTENDEE_EDITS.items():
        changed = edit(bobs)
        assert changed != bobs, name
        answer = put(bridge_server, "bob", "/bob/meetings/team-1.ics", changed)
        assert answer.status == 403, (name, answer)
        assert name in answer.body, (name, answer.body)
        assert "belongs to the organiser (alice)" in answer.body
        assert "participation status, alarms and transparency" in answer.body
        after = get(bridge_server, "alice", "/alice/meetings/team-1.ics")
        assert after.body == before and after.headers["etag"] == etag, name
    assert get(bridge_server, "bob", "/bob/meetings/team-1.ics").body == bobs


def test_attendee_rights_are_checked_per_occurrence(bridge_server):
    before = alice_makes(bridge_server, "series-r", SERIES)
    bobs = get(bridge_server, "bob", "/bob/meetings/series-r.ics").body
    later = bobs.index("RECURRENCE-ID")
    edits = {
        # the occurrence's SUMMARY, not the master's
        "SUMMARY in the occurrence": bobs[:later]
        + bobs[later:].replace("Weekly (later)", "Weekly (mine)"),
        # an overridden occurrence removed
        "RECURRENCE-ID": bobs[: bobs.rindex("BEGIN:VEVENT")] + "END:VCALENDAR\r\n",
        "EXDATE": bobs.replace("RRULE:", "EXDATE:20261116T090000Z\r\nRRULE:", 1),
    }
    for name, changed in edits.items():
        answer = put(bridge_server, "bob", "/bob/meetings/series-r.ics", changed)
        assert answer.status == 403 and name in answer.body, (name, answer)
        assert get(bridge_server, "alice", "/alice/meetings/series-r.ics").body == before
    # Declining one occurrence only is his to do.
    one = bobs[:later] + bobs[later:].replace(
        BOB, "ATTENDEE;CN=Bob;PARTSTAT=DECLINED:mailto:bob@example.com"
    )
    assert put(bridge_server, "bob", "/bob/meetings/series-r.ics", one).status == 204
    alice = get(bridge_server, "alice", "/alice/meetings/series-r.ics").body.replace("\r\n ", "")
    split = alice.index("RECURRENCE-ID")
    master, occurrence = alice[:split], alice[split:]
    assert "DECLINED:mailto:bob@example.com" in occurrence
    assert "DECLINED:mailto:bob@example.com" not in master
    assert "series-r" in hrefs(bridge_server, "bob")  # still attending the series


def test_attendee_delete_declines_and_organiser_delete_deletes(bridge_server):
    alice_makes(bridge_server)
    sync = request(
        bridge_server.url,
        "REPORT",
        "/bob/meetings/",
        sync_collection(""),
        user="bob",
        headers={"Content-Type": "application/xml", "Depth": "0"},
    )
    token = re.search(r"<sync-token>([^<]+)</sync-token>", sync.body).group(1)

    answer = request(bridge_server.url, "DELETE", "/bob/meetings/team-1.ics", user="bob")
    assert answer.status in (200, 204), answer
    assert get(bridge_server, "bob", "/bob/meetings/team-1.ics").status == 404
    assert "team-1" not in hrefs(bridge_server, "bob")
    alice = get(bridge_server, "alice", "/alice/meetings/team-1.ics")
    assert alice.status == 200
    assert "PARTSTAT=DECLINED:mailto:bob@example.com" in alice.body.replace("\r\n ", "")
    assert "team-1" in hrefs(bridge_server, "carol")
    delta = request(
        bridge_server.url,
        "REPORT",
        "/bob/meetings/",
        sync_collection(token),
        user="bob",
        headers={"Content-Type": "application/xml", "Depth": "0"},
    )
    assert "team-1.ics" in delta.body and "404" in delta.body  # reported as gone

    # He changes his mind: his answer (PUT with ACCEPTED) brings it back.
    back = alice.body.replace("PARTSTAT=DECLINED:mailto:bob", "PARTSTAT=ACCEPTED:mailto:bob")
    assert put(bridge_server, "bob", "/bob/meetings/team-1.ics", back).status == 201
    assert "team-1" in hrefs(bridge_server, "bob")

    answer = request(bridge_server.url, "DELETE", "/alice/meetings/team-1.ics", user="alice")
    assert answer.status in (200, 204)
    for login in ("alice", "bob", "carol"):
        assert "team-1" not in hrefs(bridge_server, login)


def test_booking_on_behalf_needs_the_right_and_records_the_real_booker(bridge_server):
    for_bob = vevent(
        "behalf-1",
        "For Bob",
        extra="ORGANIZER:mailto:bob@example.com\nATTENDEE:mailto:alice@example.com\n"
        "X-CRM-BOOKED-BY:alice",
    )
    refused = put(bridge_server, "dave", "/dave/meetings/behalf-1.ics", for_bob)
    assert refused.status == 403, refused
    assert "bob" in refused.body and "can_book_for" in refused.body
    assert "behalf-1" not in hrefs(bridge_server, "bob")
    assert "behalf-1" not in hrefs(bridge_server, "alice")

    # carol holds the right: the booking is stored with carol as booker, whatever it claims.
    assert put(bridge_server, "carol", "/carol/meetings/behalf-1.ics", for_bob).status == 201
    bobs = get(bridge_server, "bob", "/bob/meetings/behalf-1.ics").body
    assert "X-CRM-BOOKED-BY:carol" in bobs and "X-CRM-BOOKED-BY:alice" not in bobs
    assert "behalf-1" not in hrefs(bridge_server, "carol")
    # As the booker she may change the meeting later.
    changed = bobs.replace("For Bob", "For Bob (moved)")
    assert put(bridge_server, "carol", "/carol/meetings/behalf-1.ics", changed).status in (201, 204)
    assert "For Bob (moved)" in get(bridge_server, "bob", "/bob/meetings/behalf-1.ics").body
    # dave may not change it, and learns nothing about it.
    answer = put(bridge_server, "dave", "/dave/meetings/x.ics", changed)
    assert 400 <= answer.status < 500
    for secret in ("For Bob", "bob", "behalf-1.ics", "carol"):
        assert secret not in answer.body

    # A claim of being booked by someone else on one's own meeting is dropped.
    own = vevent("own-1", "Mine", extra="X-CRM-BOOKED-BY:bob")
    assert put(bridge_server, "dave", "/dave/meetings/own-1.ics", own).status == 201
    assert "X-CRM-BOOKED-BY" not in get(bridge_server, "dave", "/dave/meetings/own-1.ics").body
    # An invitation from outside (external organiser) is accepted as before.
    invite = vevent("ext-1", "From outside", extra="ORGANIZER:mailto:eve@outside.example")
    assert put(bridge_server, "dave", "/dave/meetings/ext-1.ics", invite).status == 201
    assert "ext-1" in hrefs(bridge_server, "dave")


def _meeting_row(db_url: str, uid: str):
    store = Store(db_url)
    try:
        return store.read(
            lambda c: c.execute(select(meetings).where(meetings.c.uid == uid)).first()
        )
    finally:
        store.dispose()


def test_move_inside_the_meetings_calendar_renames(bridge_server, db_url):
    alice_makes(bridge_server)
    store = Store(db_url)
    try:
        store.write(
            lambda tx: tx.conn.execute(
                update(meetings)
                .where(meetings.c.uid == "team-1")
                .values(internal_notes="kept", custom_fields='{"deal": "42"}')
            )
        )
    finally:
        store.dispose()
    before = _meeting_row(db_url, "team-1")
    sync = request(
        bridge_server.url,
        "REPORT",
        "/alice/meetings/",
        sync_collection(""),
        headers={"Content-Type": "application/xml", "Depth": "0"},
    )
    token = re.search(r"<sync-token>([^<]+)</sync-token>", sync.body).group(1)

    moved = request(
        bridge_server.url,
        "MOVE",
        "/alice/meetings/team-1.ics",
        headers={"Destination": bridge_server.url + "/alice/meetings/renamed.ics"},
    )
    assert moved.status == 201, moved
    assert get(bridge_server, "alice", "/alice/meetings/team-1.ics").status == 404
    assert "Planning" in get(bridge_server, "alice", "/alice/meetings/renamed.ics").body
    after = _meeting_row(db_url, "team-1")
    assert (after.id, after.created_at, after.internal_notes, after.custom_fields) == (
        before.id,
        before.created_at,
        "kept",
        '{"deal": "42"}',
    )
    assert hrefs(bridge_server, "bob")["team-1"] == "team-1.ics"  # his entry keeps its name
    delta = request(
        bridge_server.url,
        "REPORT",
        "/alice/meetings/",
        sync_collection(token),
        headers={"Content-Type": "application/xml", "Depth": "0"},
    )
    assert "team-1.ics" in delta.body and "renamed.ics" in delta.body
    assert "404" in delta.body  # the old name is reported gone


def test_move_between_meetings_and_another_calendar_is_refused(bridge_server):
    alice_makes(bridge_server)
    assert request(bridge_server.url, "MKCALENDAR", "/alice/other/").status == 201
    assert put(bridge_server, "alice", "/alice/other/note.ics", vevent("note-1")).status == 201
    out = request(
        bridge_server.url,
        "MOVE",
        "/alice/meetings/team-1.ics",
        headers={"Destination": bridge_server.url + "/alice/other/team-1.ics"},
    )
    assert out.status == 403 and "cannot be moved" in out.body, out
    into = request(
        bridge_server.url,
        "MOVE",
        "/alice/other/note.ics",
        headers={"Destination": bridge_server.url + "/alice/meetings/note.ics"},
    )
    assert into.status == 403 and "cannot be moved" in into.body, into
    assert get(bridge_server, "alice", "/alice/meetings/team-1.ics").status == 200
    assert get(bridge_server, "alice", "/alice/other/note.ics").status == 200
    assert "team-1" in hrefs(bridge_server, "bob")


def test_hrefs_belong_to_each_calendar(bridge_server):
    secret = vevent("bob-secret", "Bob's secret", extra="LOCATION:Hideout")
    assert put(bridge_server, "bob", "/bob/meetings/same.ics", secret).status == 201
    # Alice may use the same name in her calendar: nothing blocks or reveals Bob's meeting.
    answer = put(bridge_server, "alice", "/alice/meetings/same.ics", vevent("alice-1", "Mine"))
    assert answer.status == 201, answer
    # She invites Bob: his same.ics stays his, the invitation gets its own name there.
    invite = vevent("alice-1", "Mine", extra="ORGANIZER:mailto:alice@example.com\n" + BOB)
    assert put(bridge_server, "alice", "/alice/meetings/same.ics", invite).status == 204
    bobs = hrefs(bridge_server, "bob")
    assert bobs["bob-secret"] == "same.ics" and bobs["alice-1"] != "same.ics"
    assert "Bob's secret" in get(bridge_server, "bob", "/bob/meetings/same.ics").body
    # Bob's UID in Alice's calendar is refused without naming anything of his meeting.
    clash = put(bridge_server, "alice", "/alice/meetings/other.ics", vevent("bob-secret", "X"))
    assert 400 <= clash.status < 500, clash
    for leak in ("same.ics", "Bob's secret", "Hideout", "bob@", "organiser"):
        assert leak not in clash.body
    assert "Bob's secret" in get(bridge_server, "bob", "/bob/meetings/same.ics").body


@pytest.mark.parametrize("login", ["bob", "carol"])
def test_attendee_cannot_take_over_by_putting_without_organizer(bridge_server, login):
    alice_makes(bridge_server)
    copy = get(bridge_server, login, f"/{login}/meetings/team-1.ics").body
    stripped = "\r\n".join(line for line in copy.split("\r\n") if not line.startswith("ORGANIZER"))
    answer = put(bridge_server, login, f"/{login}/meetings/team-1.ics", stripped)
    assert answer.status == 403 and "ORGANIZER" in answer.body
    assert "team-1" in hrefs(bridge_server, "alice")


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_booker_who_loses_the_right_loses_the_meeting(backend, tmp_path):
    # A server of its own: it is restarted with another configuration.
    booked = vevent("behalf-2", "For Bob", extra="ORGANIZER:mailto:bob@example.com")
    with running_server(backend, tmp_path) as first:
        assert put(first.server, "carol", "/carol/meetings/behalf-2.ics", booked).status == 201
        first.server.stop()
        db_url = first.db_url
        port = support.free_port()
        config = support.write_config(tmp_path, db_url, port)
        config.write_text(config.read_text().replace('can_book_for = ["bob"]', ""))
        again = support.start(config, port, cwd=tmp_path)
        try:
            changed = booked.replace("For Bob", "Carol's now")
            answer = put(again, "carol", "/carol/meetings/behalf-2.ics", changed)
            assert 400 <= answer.status < 500, answer
            assert "For Bob" in get(again, "bob", "/bob/meetings/behalf-2.ics").body
            # and she may not book new ones for him either
            other = vevent("behalf-3", "Another", extra="ORGANIZER:mailto:bob@example.com")
            assert put(again, "carol", "/carol/meetings/behalf-3.ics", other).status == 403
        finally:
            again.stop()


def _answer_of(server, login: str, who: str) -> str:
    body = get(server, login, "/alice/meetings/team-1.ics").body.replace("\r\n ", "")
    match = re.search(rf"ATTENDEE;[^\r\n]*?PARTSTAT=([A-Z-]+)[^\r\n]*:mailto:{who}@", body)
    return match.group(1) if match else "NEEDS-ACTION"


def test_an_organisers_stale_copy_keeps_attendees_answers(bridge_server):
    stale = alice_makes(bridge_server)  # bob has not answered in this copy
    bobs = get(bridge_server, "bob", "/bob/meetings/team-1.ics").body
    accepted = bobs.replace(BOB, "ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED:mailto:bob@example.com")
    assert put(bridge_server, "bob", "/bob/meetings/team-1.ics", accepted).status == 204
    assert request(
        bridge_server.url, "DELETE", "/carol/meetings/team-1.ics", user="carol"
    ).status in (
        200,
        204,
    )

    # Alice's phone still holds the copy from before both answers and edits the title.
    assert (
        put(
            bridge_server,
            "alice",
            "/alice/meetings/team-1.ics",
            stale.replace("Planning", "Planning v2"),
        ).status
        == 204
    )
    assert "Planning v2" in get(bridge_server, "alice", "/alice/meetings/team-1.ics").body
    assert _answer_of(bridge_server, "alice", "bob") == "ACCEPTED"
    assert _answer_of(bridge_server, "alice", "carol") == "DECLINED"
    assert "team-1" not in hrefs(bridge_server, "carol")  # her decline still stands

    # Rescheduling asks again: the answers the organiser's client sends then stand.
    moved = stale.replace("DTSTART:20261201T100000Z", "DTSTART:20261201T080000Z").replace(
        "PARTSTAT=TENTATIVE:mailto:carol", "PARTSTAT=NEEDS-ACTION:mailto:carol"
    )
    assert put(bridge_server, "alice", "/alice/meetings/team-1.ics", moved).status == 204
    assert _answer_of(bridge_server, "alice", "bob") == "NEEDS-ACTION"
    assert _answer_of(bridge_server, "alice", "carol") == "NEEDS-ACTION"
    assert "team-1" in hrefs(bridge_server, "carol")
