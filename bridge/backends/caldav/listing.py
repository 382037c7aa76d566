"""What changed in a calendar collection since a cursor, page by page.

Two ways, chosen by the server:

- ``sync:<token>``: a sync-collection REPORT (RFC 6578) with the token; a 403/409 with the
  DAV:valid-sync-token precondition means the token expired (ResyncRequired).
- ``etag:<data>``: for servers without sync-collection, the collection's ctag and every
  member's etag (zlib + base64 JSON); a PROPFIND of the ctag alone answers an idle round, a
  Depth 1 PROPFIND of the etags finds the changed members, and a member gone is deleted.

Changed members are fetched with calendar-multiget in batches of ``batch_size`` hrefs, one
ChangePage per batch (deletions in the first); the last page carries the new cursor.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from bridge.backends.base import BackendError, Change, ChangePage, Deleted, ResyncRequired
from bridge.backends.caldav import dav, wire
from bridge.backends.caldav.http import strong as _strong

if TYPE_CHECKING:
    from bridge.backends.caldav.backend import CaldavBackend

SYNC, ETAG = "sync:", "etag:"
_TOKEN_GONE = ("{DAV:}valid-sync-token",)


def encode_etags(ctag: str, etags: dict[str, str]) -> str:
    data = json.dumps({"ctag": ctag, "etags": etags}, separators=(",", ":"), sort_keys=True)
    return ETAG + base64.urlsafe_b64encode(zlib.compress(data.encode("utf-8"), 9)).decode()


def decode_etags(cursor: str) -> tuple[str, dict[str, str]]:
    try:
        raw = zlib.decompress(base64.urlsafe_b64decode(cursor[len(ETAG) :].encode()))
        data = json.loads(raw)
        return str(data["ctag"]), {str(k): str(v) for k, v in data["etags"].items()}
    except (ValueError, KeyError, TypeError, zlib.error) as exc:
        raise ResyncRequired(f"CalDAV: unreadable etag cursor ({exc})") from None


def list_changes(backend: CaldavBackend, cursor: str | None) -> Iterator[ChangePage]:
    if cursor is None:
        changed = _sync_report(backend, "", initial=True)
        if changed is None:  # no sync-collection on this server
            yield from _etag_listing(backend, None)
            return
    elif cursor.startswith(SYNC):
        changed = _sync_report(backend, cursor[len(SYNC) :], initial=False)
        assert changed is not None
    elif cursor.startswith(ETAG):
        yield from _etag_listing(backend, cursor)
        return
    else:
        raise ResyncRequired(f"CalDAV: unknown cursor {cursor[:20]!r}")
    token, present, gone = changed
    yield from _pages(backend, _to_fetch(backend, present, cursor), gone, SYNC + token)


def _to_fetch(backend: CaldavBackend, listed: dict[str, str], cursor: str | None) -> list[str]:
    """The listed members (id: etag) to fetch. An incremental listing leaves out those
    still at the etag our own write got: unchanged since we wrote them, the engine would
    find them echoes. A full listing (no cursor) returns everything: it is how a lost
    link or a new pairing finds our copies by their tag."""
    if cursor is None:
        backend.own_writes.clear()
        return list(listed)
    fetch: list[str] = []
    for remote_id, etag in listed.items():
        ours = backend.own_writes.pop(remote_id, None)
        if ours is None or not etag or _strong(etag) != ours:
            fetch.append(remote_id)
    return fetch


def _sync_report(
    backend: CaldavBackend, token: str, *, initial: bool
) -> tuple[str, dict[str, str], list[str]] | None:
    """(new token, changed ids with their etags, deleted ids); None when the server has no
    sync-collection (asked only on the initial listing). Follows truncated (507) answers."""
    present: dict[str, str] = {}
    gone: dict[str, str] = {}
    while True:
        answer = backend.session.send(
            "REPORT",
            backend.paths.url,
            dav.sync_collection(token),
            {**dav.XML_HEADERS, "Depth": "0"},
            handled=(400, 403, 404, 405, 409, 415, 501),
        )
        if answer.status >= 400:
            if set(_TOKEN_GONE) & set(answer.preconditions) and token:
                raise ResyncRequired(f"CalDAV sync-collection: token expired ({answer.status})")
            if initial and answer.status != 404:
                return None
            if answer.status == 404:
                raise BackendError(f"CalDAV sync-collection: calendar not found ({answer.status})")
            raise ResyncRequired(f"CalDAV sync-collection refused the token ({answer.status})")
        try:
            result = dav.parse_multistatus(answer.body)
        except ValueError as exc:
            raise BackendError(f"CalDAV sync-collection: {exc}") from None
        for entry in result.entries:
            remote_id = backend.paths.remote_id(entry.href)
            if remote_id is None:
                continue
            target = gone if entry.status == 404 else present
            (present if target is gone else gone).pop(remote_id, None)
            target[remote_id] = entry.etag or ""
        if not result.truncated or not result.sync_token or result.sync_token == token:
            return result.sync_token, present, list(gone)
        token = result.sync_token


def members(backend: CaldavBackend) -> tuple[str, dict[str, str]]:
    """(ctag, {id: etag}) of every member, from one Depth 1 PROPFIND."""
    answer = backend.session.send(
        "PROPFIND",
        backend.paths.url,
        dav.propfind("d:getetag", "cs:getctag", "d:resourcetype"),
        {**dav.XML_HEADERS, "Depth": "1"},
    )
    result = dav.parse_multistatus(answer.body)
    ctag, etags = "", {}
    for entry in result.entries:
        remote_id = backend.paths.remote_id(entry.href)
        if remote_id is None:
            ctag = entry.ctag or ctag
        elif entry.status == 200:
            etags[remote_id] = entry.etag
    return ctag, etags


def _ctag(backend: CaldavBackend) -> str:
    answer = backend.session.send(
        "PROPFIND", backend.paths.url, dav.propfind("cs:getctag"), {**dav.XML_HEADERS, "Depth": "0"}
    )
    for entry in dav.parse_multistatus(answer.body).entries:
        if entry.ctag:
            return entry.ctag
    return ""


def _etag_listing(backend: CaldavBackend, cursor: str | None) -> Iterator[ChangePage]:
    old_ctag, old = decode_etags(cursor) if cursor else ("", {})
    if cursor and old_ctag and _ctag(backend) == old_ctag:
        yield ChangePage([], cursor)
        return
    ctag, now = members(backend)
    listed = {i: e for i, e in now.items() if old.get(i) != e or not e}
    changed = _to_fetch(backend, listed, cursor)
    gone = [i for i in old if i not in now]
    yield from _pages(backend, changed, gone, encode_etags(ctag, now))


def _pages(
    backend: CaldavBackend, present: list[str], gone: list[str], cursor: str
) -> Iterator[ChangePage]:
    size = backend.settings.batch_size
    batches = [present[i : i + size] for i in range(0, len(present), size)] or [[]]
    for number, batch in enumerate(batches):
        changes: list[Change] = [Deleted(i) for i in gone] if number == 0 else []
        changes += fetch(backend, batch)
        last = number == len(batches) - 1
        yield ChangePage(changes, cursor if last else None)


def fetch(backend: CaldavBackend, ids: list[str]) -> list[Change]:
    """The members ``ids`` by calendar-multiget: events, or Deleted for the ones gone."""
    if not ids:
        return []
    answer = backend.session.send(
        "REPORT",
        backend.paths.url,
        dav.multiget([backend.paths.href(i) for i in ids]),
        {**dav.XML_HEADERS, "Depth": "1"},
    )
    found: list[Change] = []
    seen: set[str] = set()
    for entry in dav.parse_multistatus(answer.body).entries:
        remote_id = backend.paths.remote_id(entry.href)
        if remote_id is None or remote_id in seen:
            continue
        seen.add(remote_id)
        if entry.status == 404:
            found.append(Deleted(remote_id))
        elif entry.status == 200 and entry.data:
            try:
                event = wire.event_from_ical(entry.data, remote_id=remote_id, etag=entry.etag)
            except wire.WireError:
                continue  # not an event we can read: never ours, never synced
            if event is not None:
                found.append(event)
    return found
