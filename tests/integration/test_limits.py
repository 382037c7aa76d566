"""The store's size limits: a value that cannot fit is a 4xx naming the field and the limit,
the same on SQLite and MariaDB; a value the bridge accepts always fits."""

from __future__ import annotations

from pathlib import Path

import bcrypt
import pytest

from tests.support import server as support
from tests.support.http import request, vevent
from tests.support.module_server import (  # noqa: F401 - fixtures: one server a module
    fresh_bridge_server,
    module_server,
)

MEETINGS = "/alice/meetings/"
GENERIC = "/alice/private/"


@pytest.fixture
def calendars(bridge_server) -> dict[str, str]:
    assert request(bridge_server.url, "MKCALENDAR", GENERIC).status == 201
    return {"meetings": MEETINGS, "generic": GENERIC}


def hrefs(server, path: str) -> list[str]:
    answer = request(
        server.url,
        "PROPFIND",
        path,
        '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop>'
        "</D:propfind>",
        headers={"Depth": "1", "Content-Type": "application/xml"},
    )
    assert answer.status == 207, answer
    return sorted(part.split("</")[0] for part in answer.body.split("href>")[1::2])


@pytest.mark.parametrize("where", ["meetings", "generic"])
def test_href_longer_than_its_column_is_a_4xx(bridge_server, calendars, where):
    path = calendars[where]
    before = hrefs(bridge_server, path)
    answer = request(bridge_server.url, "PUT", f"{path}{'h' * 252}.ics", vevent("long-href"))
    assert 400 <= answer.status < 500, answer
    assert "href" in answer.body and "255" in answer.body, answer.body
    assert hrefs(bridge_server, path) == before


@pytest.mark.parametrize("where", ["meetings", "generic"])
def test_uid_longer_than_its_column_is_a_4xx(bridge_server, calendars, where):
    path = calendars[where]
    before = hrefs(bridge_server, path)
    answer = request(bridge_server.url, "PUT", f"{path}uid.ics", vevent("u" * 256))
    assert 400 <= answer.status < 500, answer
    assert "UID" in answer.body and "255" in answer.body, answer.body
    assert hrefs(bridge_server, path) == before


MEETING_FIELDS = {
    "attendee_email": (
        f"ATTENDEE;CN=Long:mailto:{'e' * 320}@example.com",
        "attendee e-mail",
        "320",
    ),
    "attendee_name": (
        f"ATTENDEE;CN={'n' * 256}:mailto:guest@example.com",
        "attendee name",
        "255",
    ),
    "activity_type": (f"X-CRM-ACTIVITY-TYPE:{'t' * 65}", "activity type", "64"),
}


@pytest.mark.parametrize("case", sorted(MEETING_FIELDS))
def test_meeting_field_longer_than_its_column_is_a_4xx(bridge_server, case):
    line, field, limit = MEETING_FIELDS[case]
    before = hrefs(bridge_server, MEETINGS)
    answer = request(bridge_server.url, "PUT", f"{MEETINGS}{case}.ics", vevent(case, extra=line))
    assert 400 <= answer.status < 500, answer
    assert field in answer.body and limit in answer.body, answer.body
    assert hrefs(bridge_server, MEETINGS) == before


def test_collection_path_longer_than_its_column_is_a_4xx(bridge_server):
    before = hrefs(bridge_server, "/alice/")
    answer = request(bridge_server.url, "MKCALENDAR", f"/alice/{'c' * 520}/")
    assert 400 <= answer.status < 500, answer
    assert "collection path" in answer.body and "512" in answer.body, answer.body
    assert hrefs(bridge_server, "/alice/") == before


def _proppatch_name(name: str) -> str:
    return (
        '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>'
        f"<D:displayname>{name}</D:displayname></D:prop></D:set></D:propertyupdate>"
    )


@pytest.mark.parametrize("where", ["meetings", "generic"])
def test_property_too_long_to_send_back_is_a_4xx(bridge_server, calendars, where):
    # Found by the long fuzz run: Radicale sends D:displayname in the Content-Disposition
    # header of a collection GET; a 70,000-character name made every GET of the calendar
    # unreadable for clients (header lines over 64 KiB).
    path = calendars[where]
    xml = {"Content-Type": "application/xml"}
    ok = request(bridge_server.url, "PROPPATCH", path, _proppatch_name("Team"), headers=xml)
    assert ok.status == 207, ok
    answer = request(
        bridge_server.url, "PROPPATCH", path, _proppatch_name("n" * 70_000), headers=xml
    )
    assert 400 <= answer.status < 500, answer
    assert "D:displayname is too long" in answer.body and "1024" in answer.body, answer.body
    got = request(bridge_server.url, "GET", path)
    assert got.status == 200, got
    assert "Team" in got.headers.get("content-disposition", ""), got.headers

    made = request(
        bridge_server.url,
        "MKCALENDAR",
        "/alice/named/",
        '<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" '
        'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>'
        f"<D:displayname>{'n' * 2000}</D:displayname></D:prop></D:set></C:mkcalendar>",
        headers=xml,
    )
    assert 400 <= made.status < 500, made
    assert "/alice/named/" not in hrefs(bridge_server, "/alice/")


def test_texts_over_64_kib_fit(bridge_server):
    """5,000 EXDATEs and a 70 KB SUMMARY: legal, and longer than MySQL's TEXT."""
    exdates = ",".join(f"{day:%Y%m%d}T100000Z" for day in _days(5000))
    body = vevent(
        "many-exdates",
        "S" * 70_000,
        extra=f"RRULE:FREQ=DAILY;COUNT=5000\nEXDATE:{exdates}",
    )
    answer = request(bridge_server.url, "PUT", f"{MEETINGS}exdates.ics", body)
    assert answer.status == 201, answer
    stored = request(bridge_server.url, "GET", f"{MEETINGS}exdates.ics")
    assert stored.status == 200
    assert "S" * 1000 in stored.body.replace("\r\n ", "")
    assert exdates[-16:] in stored.body.replace("\r\n ", "")


def _days(n: int):
    from datetime import date, timedelta

    first = date(2026, 12, 1)
    return [first + timedelta(days=i) for i in range(n)]


LONG_LOGIN = "l" + "o" * 62 + "g"


def test_a_64_character_login_writes_over_caldav(db_url, tmp_path: Path):
    """The config accepts logins of 64 characters; "caldav:<login>" must fit the origin."""
    assert len(LONG_LOGIN) == 64
    port = support.free_port()
    config = support.write_config(tmp_path, db_url, port)
    config.write_text(
        config.read_text()
        + f'\n[[users]]\nlogin = "{LONG_LOGIN}"\nemail = "long@example.com"\n'
        + 'display_name = "Long Login"\n'
    )
    hashed = bcrypt.hashpw(LONG_LOGIN.encode(), bcrypt.gensalt(rounds=4)).decode()
    with (tmp_path / "users.htpasswd").open("a") as htpasswd:
        htpasswd.write(f"{LONG_LOGIN}:{hashed}\n")
    running = support.start(config, port, cwd=tmp_path)
    try:
        home = f"/{LONG_LOGIN}/meetings/"
        answer = request(
            running.url, "PUT", f"{home}m.ics", vevent("long-login-1"), user=LONG_LOGIN
        )
        assert answer.status == 201, answer
        assert request(running.url, "GET", f"{home}m.ics", user=LONG_LOGIN).status == 200
        made = request(running.url, "MKCALENDAR", f"/{LONG_LOGIN}/own/", user=LONG_LOGIN)
        assert made.status == 201, made
        put = request(
            running.url, "PUT", f"/{LONG_LOGIN}/own/e.ics", vevent("long-2"), user=LONG_LOGIN
        )
        assert put.status == 201, put
    finally:
        running.stop()


def test_object_over_a_lowered_resource_limit_is_served_like_stock_radicale(db_url, tmp_path: Path):
    """Radicale 3.9 checks max_resource_size on writes only: a stored object stays
    readable (and deletable) after the limit was lowered; rewriting it must fit."""
    big = vevent("big-1", "Big", extra="DESCRIPTION:" + "d" * 200_000)
    port = support.free_port()
    config = support.write_config(tmp_path, db_url, port)
    running = support.start(config, port, cwd=tmp_path)
    try:
        assert request(running.url, "PUT", f"{MEETINGS}big.ics", big).status == 201
    finally:
        running.stop()
    config = support.write_config(
        tmp_path, db_url, port, server_extra="max_resource_bytes = 100000"
    )
    running = support.start(config, port, cwd=tmp_path)
    try:
        stored = request(running.url, "GET", f"{MEETINGS}big.ics")
        assert stored.status == 200, stored
        assert "d" * 1000 in stored.body.replace("\r\n ", "")
        again = request(running.url, "PUT", f"{MEETINGS}big.ics", big)
        assert again.status == 412, again
        smaller = vevent("big-1", "Smaller")
        assert request(running.url, "PUT", f"{MEETINGS}big.ics", smaller).status == 204
        assert "Smaller" in request(running.url, "GET", f"{MEETINGS}big.ics").body
    finally:
        running.stop()
