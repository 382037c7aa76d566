"""REST routes for meetings: the meetings CalDAV shows, written through
bridge.meeting_service with the origin ``api:<key name>`` (so the change log carries each
write to CalDAV clients and to every binding, as a CalDAV write would be).

- ``POST /api/users/{login}/meetings``: create (``login`` organises unless the body names
  another organiser ``login`` may book for); 201 with the meeting;
- ``GET /api/users/{login}/meetings?start=&end=&limit=&offset=``: the meetings in
  ``login``'s calendar overlapping [start, end) (at most ``MAX_WINDOW_DAYS``), from the
  time index CalDAV queries use; ``next_offset`` pages on;
- ``GET``, ``PATCH`` (the fields given), ``PUT`` (every field; missing ones reset) and
  ``DELETE /api/meetings/{uid}``.

Who sees what is bridge.api.access.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import Connection

from bridge import meeting_rights
from bridge.api import access
from bridge.api.access import View
from bridge.api.meeting_json import BadFields, meeting_from_json, meeting_to_json, valid_uid
from bridge.api.rest_common import Refused, json_body, key_of, not_found
from bridge.config.api import ApiKey
from bridge.ical import parse_calendar
from bridge.ical.errors import ICalError
from bridge.ical.time import occurs_between
from bridge.meeting_service import (
    load_meeting,
    remove_from_calendar,
    save_from_sync,
    stored_overrides,
)
from bridge.model import Meeting
from bridge.store import Store
from bridge.store import meetings as meeting_store
from bridge.store import users as user_store
from bridge.store.changes import Tx
from bridge.store.errors import Conflict, Forbidden, StoreError
from bridge.store.meeting_window import in_window, meetings_collection

MEETINGS_STORE = web.AppKey("meetings_store", Store)
MAX_WINDOW_DAYS = 400
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
#: Instances of an open-ended series walked to find one in the window (beyond: listed).
SERIES_STEPS = 100_000
_SAFE_HREF = re.compile(r"[A-Za-z0-9_.@-]{1,200}")


def _href(uid: str) -> str:
    if _SAFE_HREF.fullmatch(uid):
        return f"{uid}.ics"
    return hashlib.sha256(uid.encode("utf-8")).hexdigest()[:32] + ".ics"


def _origin(key: ApiKey) -> str:
    return f"api:{key.name}"


async def _read(request: web.Request, work: Any) -> Any:
    return await asyncio.to_thread(request.app[MEETINGS_STORE].read, work)


async def _write(request: web.Request, key: ApiKey, work: Any) -> Any:
    store = request.app[MEETINGS_STORE]
    try:
        return await asyncio.to_thread(store.write, work, origin=_origin(key))
    except Forbidden as refused:
        raise Refused(403, str(refused)) from None
    except Conflict as clash:
        raise Refused(409, str(clash)) from None
    except (StoreError, ICalError) as problem:
        raise Refused(422, str(problem)) from None


def _found(conn: Connection, key: ApiKey, uid: str) -> tuple[Any, Meeting, View]:
    """The stored meeting ``uid`` and how the key sees it; 404 when it may not see it."""
    row = meeting_store.by_uid(conn, uid)
    if row is None:
        raise not_found()
    meeting = load_meeting(conn, row)
    view = access.view_of(conn, key, meeting)
    if view is View.HIDDEN:
        raise not_found()
    return row, meeting, view


def _save(tx: Tx, store: Store, meeting: Meeting, href: str, overrides: list) -> None:
    save_from_sync(
        tx,
        meeting,
        href=href,
        horizon_days=store.index_horizon_days,
        max_occurrences=store.max_occurrences,
        overrides=overrides,
    )


def _fields_or_refuse(work: Any) -> Any:
    try:
        return work()
    except BadFields as bad:
        raise Refused(422, "the meeting has bad fields", bad.problems) from None


async def create(request: web.Request) -> web.Response:
    key = await key_of(request)
    login = request.match_info["login"]
    if not key.covers(login):
        raise Refused(403, f"this key does not act for {login!r}")
    body = await json_body(request)
    store = request.app[MEETINGS_STORE]
    uid = body.get("uid") if isinstance(body, dict) and "uid" in body else str(uuid.uuid4())
    if not valid_uid(uid):
        raise Refused(422, "the meeting has bad fields", [("uid", "must be 1-255 printable ASCII")])

    def work(tx: Tx) -> Meeting:
        conn = tx.conn
        known = set(user_store.login_ids(conn))
        if login not in known:
            raise not_found("user")
        meeting = _fields_or_refuse(
            lambda: meeting_from_json(
                body,
                uid=uid,
                organiser=login,
                base=None,
                known_logins=known,
                max_occurrences=store.max_occurrences,
            )
        )
        if meeting_store.by_uid(conn, uid) is not None:
            raise Refused(409, "a meeting with this uid exists already", [("uid", "is taken")])
        organiser = meeting.organiser or login
        if access.writer_for(conn, key, organiser) is None:
            raise Refused(403, f"this key may not book meetings for {organiser!r}")
        meeting_rights.check_organiser(conn, login, organiser)
        meeting.booked_by = meeting_rights.booked_by(login, organiser, None)
        _save(tx, store, meeting, _href(uid), [])
        return load_meeting(conn, meeting_store.by_uid(conn, uid))

    saved = await _write(request, key, work)
    return web.json_response(meeting_to_json(saved), status=201)


async def read(request: web.Request) -> web.Response:
    key = await key_of(request)
    uid = request.match_info["uid"]
    _, meeting, view = await _read(request, lambda conn: _found(conn, key, uid))
    return web.json_response(meeting_to_json(meeting, busy_only=view is View.BUSY))


async def _change(request: web.Request, *, replace: bool) -> web.Response:
    key = await key_of(request)
    uid = request.match_info["uid"]
    body = await json_body(request)
    store = request.app[MEETINGS_STORE]

    def work(tx: Tx) -> Meeting:
        conn = tx.conn
        row, previous, _view = _found(conn, key, uid)
        if previous.organiser is None or access.writer_for(conn, key, previous.organiser) is None:
            raise Refused(403, "this key may see this meeting but not change it")
        known = set(user_store.login_ids(conn))
        base = previous
        if replace:  # every writable field from the body; CRM-only fields kept
            base = Meeting(
                uid=uid,
                start=previous.start,
                end=previous.end,
                organiser=previous.organiser,
                booked_by=previous.booked_by,
                crm_persons=previous.crm_persons,
                crm_organisations=previous.crm_organisations,
                custom_fields=previous.custom_fields,
                activity_type=previous.activity_type,
                sequence=previous.sequence,
            )
            for required in ("start", "end"):
                if not isinstance(body, dict) or required not in body:
                    raise Refused(422, "PUT needs every field", [(required, "is required")])
        meeting = _fields_or_refuse(
            lambda: meeting_from_json(
                body,
                uid=uid,
                organiser=previous.organiser or "",
                base=base,
                known_logins=known,
                max_occurrences=store.max_occurrences,
            )
        )
        writer = access.writer_for(conn, key, meeting.organiser or "")
        if writer is None:
            raise Refused(403, f"this key may not book meetings for {meeting.organiser!r}")
        if meeting.organiser != previous.organiser:  # handed over: who booked it now
            meeting.booked_by = meeting_rights.booked_by(writer, meeting.organiser, previous)
        meeting.sequence = previous.sequence + 1
        keep = stored_overrides(row) if meeting.recurrence is not None else []
        _save(tx, store, meeting, row.href, keep)
        return load_meeting(conn, meeting_store.by_uid(conn, uid))

    saved = await _write(request, key, work)
    return web.json_response(meeting_to_json(saved))


async def patch(request: web.Request) -> web.Response:
    return await _change(request, replace=False)


async def put(request: web.Request) -> web.Response:
    return await _change(request, replace=True)


async def delete(request: web.Request) -> web.Response:
    key = await key_of(request)
    uid = request.match_info["uid"]
    store = request.app[MEETINGS_STORE]

    def work(tx: Tx) -> None:
        row, previous, _view = _found(tx.conn, key, uid)
        organiser = previous.organiser
        if organiser is None or access.writer_for(tx.conn, key, organiser) is None:
            raise Refused(403, "this key may see this meeting but not delete it")
        remove_from_calendar(
            tx,
            writer=previous.organiser,
            meeting_id=row.id,
            horizon_days=store.index_horizon_days,
            max_occurrences=store.max_occurrences,
        )

    await _write(request, key, work)
    return web.Response(status=204)


def _moment(request: web.Request, name: str) -> datetime:
    value = request.query.get(name)
    if value is None:
        raise Refused(422, "the range needs start and end", [(name, "is required")])
    moment = None
    if value.isascii() and value.isprintable():  # fromisoformat lets a NUL through
        try:
            moment = datetime.fromisoformat(value).astimezone(UTC)
        except (ValueError, OverflowError):  # OverflowError: before year 1 in UTC
            moment = None
    if moment is None or moment.tzinfo is None:
        raise Refused(
            422, "bad range", [(name, "must be an ISO 8601 date-time with an offset or Z")]
        )
    return moment


def _count(request: web.Request, name: str, default: int, top: int) -> int:
    value = request.query.get(name, str(default))
    if not value.isdigit() or not 0 <= int(value) <= top or (name == "limit" and value == "0"):
        low = 1 if name == "limit" else 0
        raise Refused(422, "bad paging", [(name, f"must be an integer from {low} to {top}")])
    return int(value)


async def listing(request: web.Request) -> web.Response:
    key = await key_of(request)
    login = request.match_info["login"]
    start, end = _moment(request, "start"), _moment(request, "end")
    if end <= start:
        raise Refused(422, "bad range", [("end", "must be after start")])
    if end - start > timedelta(days=MAX_WINDOW_DAYS):
        too_long = f"is more than {MAX_WINDOW_DAYS} days after start"
        raise Refused(422, "bad range", [("end", too_long)])
    limit = _count(request, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    offset = _count(request, "offset", 0, 1_000_000)

    def work(conn: Connection) -> tuple[list[dict[str, Any]], int]:
        if not access.may_list(conn, key, login):
            raise Refused(403, f"this key may not see the meetings of {login!r}")
        collection_id = meetings_collection(conn, login)
        if collection_id is None:
            raise not_found("user")
        low, high = int(start.timestamp()), int(end.timestamp())
        rows = [
            row
            for row, exact in in_window(conn, collection_id, low, high)
            if exact or occurs_between(parse_calendar(row.ical), low, high, SERIES_STEPS)
        ]
        page = []
        for row in rows[offset : offset + limit]:
            meeting = load_meeting(conn, row)
            view = access.view_of(conn, key, meeting)
            if view is View.HIDDEN:  # in a calendar it may list: a colleague's view
                view = View.BUSY if meeting.private else View.FULL
            page.append(meeting_to_json(meeting, busy_only=view is View.BUSY))
        return page, len(rows)

    page, total = await _read(request, work)
    following = offset + limit if offset + limit < total else None
    return web.json_response({"meetings": page, "total": total, "next_offset": following})


def add_routes(app: web.Application, store: Store) -> None:
    app[MEETINGS_STORE] = store
    app.router.add_post("/api/users/{login}/meetings", create)
    app.router.add_get("/api/users/{login}/meetings", listing)
    app.router.add_get("/api/meetings/{uid}", read)
    app.router.add_patch("/api/meetings/{uid}", patch)
    app.router.add_put("/api/meetings/{uid}", put)
    app.router.add_delete("/api/meetings/{uid}", delete)
