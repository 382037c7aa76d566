"""RFC 6578 tokens that expire, ETags and ctags as clients rely on them."""

from __future__ import annotations

import time
from xml.etree import ElementTree

from bench.reports import sync_collection
from bridge.store import Store
from tests.support.http import request, vevent
from tests.support.module_server import (  # noqa: F401 - fixtures: one server a module
    fresh_bridge_server,
    module_server,
    shared_db_url,
)

PROPS = """<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/">
<D:prop><D:getetag/><CS:getctag/><D:sync-token/></D:prop></D:propfind>"""


def report(server, token: str):
    return request(
        server.url,
        "REPORT",
        "/alice/meetings/",
        sync_collection(token),
        headers={"Depth": "0", "Content-Type": "application/xml"},
    )


def collection_props(server) -> dict[str, str]:
    answer = request(
        server.url,
        "PROPFIND",
        "/alice/meetings/",
        PROPS,
        headers={"Depth": "0", "Content-Type": "application/xml"},
    )
    tree = ElementTree.fromstring(answer.body)
    return {
        "ctag": tree.findtext(".//{http://calendarserver.org/ns/}getctag"),
        "token": tree.findtext(".//{DAV:}sync-token"),
    }


def test_token_older_than_retention_gets_the_invalid_token_answer(bridge_server, db_url):
    request(bridge_server.url, "PUT", "/alice/meetings/a.ics", vevent("a"))
    first = report(bridge_server, "")
    token = ElementTree.fromstring(first.body).findtext("{DAV:}sync-token")
    assert report(bridge_server, token).status == 207
    request(bridge_server.url, "PUT", "/alice/meetings/b.ics", vevent("b"))

    store = Store(db_url, change_retention_days=1)
    try:
        store.prune_changes(now=time.time() + 2 * 86400)
    finally:
        store.dispose()
    stale = report(bridge_server, token)
    assert stale.status == 403
    assert "valid-sync-token" in stale.body
    # A client that starts over gets everything, and a fresh token that works.
    fresh = report(bridge_server, "")
    assert fresh.status == 207 and fresh.body.count("a.ics") == 1 and "b.ics" in fresh.body
    new_token = ElementTree.fromstring(fresh.body).findtext("{DAV:}sync-token")
    assert report(bridge_server, new_token).status == 207


def test_etags_and_ctag_follow_changes(bridge_server):
    before = collection_props(bridge_server)
    put = request(bridge_server.url, "PUT", "/alice/meetings/e.ics", vevent("e", "One"))
    etag = put.headers["etag"]
    got = request(bridge_server.url, "GET", "/alice/meetings/e.ics")
    assert got.headers["etag"] == etag
    after = collection_props(bridge_server)
    assert after["ctag"] != before["ctag"] and after["token"] != before["token"]
    # An unchanged collection keeps its ctag and token.
    assert collection_props(bridge_server) == after
    # If-Match with a stale etag is refused, the current one accepted.
    stale = request(
        bridge_server.url,
        "PUT",
        "/alice/meetings/e.ics",
        vevent("e", "Two"),
        headers={"If-Match": '"stale"'},
    )
    assert stale.status == 412
    ok = request(
        bridge_server.url,
        "PUT",
        "/alice/meetings/e.ics",
        vevent("e", "Two"),
        headers={"If-Match": etag},
    )
    assert ok.status == 204 and ok.headers["etag"] != etag
    # The meeting's entry in an attendee's calendar carries the same etag.
    request(
        bridge_server.url,
        "PUT",
        "/alice/meetings/f.ics",
        vevent("f", extra="ATTENDEE:mailto:bob@example.com"),
    )
    mine = request(bridge_server.url, "GET", "/alice/meetings/f.ics").headers["etag"]
    theirs = request(bridge_server.url, "GET", "/bob/meetings/f.ics", user="bob").headers["etag"]
    assert mine == theirs
