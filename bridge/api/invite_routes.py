"""REST routes of the Invite action (bridge.invite), scoped like the other meeting routes:

- ``GET /api/meetings/{uid}/invite/preview?template=&language=``: exactly what the external
  participants would receive, and whether this calendar can send or hold it unsent;
- ``GET /api/meetings/{uid}/invite``: the invite's state, with ``out_of_date`` and what
  differs from what was sent;
- ``POST /api/meetings/{uid}/invite`` ``{"template", "language", "send"}``: send it
  (``send`` false: create it unsent where the calendar can);
- ``POST /api/meetings/{uid}/invite/update`` ``{"template", "language", "send"}`` and
  ``POST /api/meetings/{uid}/invite/cancel`` ``{"send"}``: only when asked.

A key that cannot see the meeting gets 404 (as an unknown UID); one that sees it but does
not act for its organiser (or a booking delegate of theirs) gets 403. The invite of a
meeting deleted in the CRM since can still be cancelled, by a key for every user ("*").
A refusal of the Invite action names its field (``template``, ``language``, ``send``, a
merge field...).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from sqlalchemy import Connection

from bridge.api import access
from bridge.api.access import View
from bridge.api.rest_common import Refused, json_body, key_of, not_found
from bridge.config.api import ApiKey
from bridge.invite import InviteError, Invites
from bridge.meeting_service import load_meeting
from bridge.store import Store
from bridge.store import invites as invite_store
from bridge.store import meetings as meeting_store

INVITES = web.AppKey("invites", Invites)
INVITE_STORE = web.AppKey("invite_store", Store)
_TEXT_LIMIT = 64
_BODY_KEYS = {"create": ("template", "language", "send"), "cancel": ("send",)}


def _may_invite(conn: Connection, key: ApiKey, uid: str, *, orphan: bool = False) -> None:
    """404 unless the key sees the meeting, 403 unless it acts for its organiser. With
    ``orphan`` (cancel), a key for every user may reach the invite a meeting deleted in
    the CRM left behind."""
    row = meeting_store.by_uid(conn, uid)
    if row is None:
        if orphan and key.all_users and invite_store.live_by_meeting(conn, uid):
            return
        raise not_found()
    meeting = load_meeting(conn, row)
    view = access.view_of(conn, key, meeting)
    if view is View.HIDDEN:
        raise not_found()
    if access.writer_for(conn, key, meeting.organiser or "") is None:
        raise Refused(403, "this key may see this meeting but not invite for its organiser")


async def _checked(request: web.Request, *, orphan: bool = False) -> str:
    key = await key_of(request)
    uid = request.match_info["uid"]
    store = request.app[INVITE_STORE]
    await asyncio.to_thread(store.read, lambda conn: _may_invite(conn, key, uid, orphan=orphan))
    return uid


async def _run(work: Any) -> Any:
    try:
        return await asyncio.to_thread(work)
    except InviteError as refused:
        raise Refused(refused.status, refused.reason, [(refused.field, refused.reason)]) from None


def _text(values: dict[str, Any], name: str) -> str:
    value = values.get(name, "")
    if not isinstance(value, str) or len(value) > _TEXT_LIMIT:
        problem = f"must be a string of at most {_TEXT_LIMIT} characters"
        raise Refused(422, f"bad {name}", [(name, problem)])
    return value


async def _body(request: web.Request, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    body = await json_body(request)
    if not isinstance(body, dict):
        raise Refused(422, "the body must be a JSON object", [("(body)", "must be an object")])
    unknown = [(k, "is not a field of this request") for k in body if k not in allowed]
    if unknown:
        raise Refused(422, "unknown fields", unknown)
    if "send" in body and not isinstance(body["send"], bool):
        raise Refused(422, "bad send", [("send", "must be true or false")])
    return body


async def preview(request: web.Request) -> web.Response:
    uid = await _checked(request)
    query = dict(request.query)
    unknown = [
        (k, "is not a parameter of the preview") for k in query if k not in _BODY_KEYS["create"][:2]
    ]
    if unknown:
        raise Refused(422, "unknown parameters", unknown)
    template, language = _text(query, "template"), _text(query, "language")
    invites = request.app[INVITES]
    made = await _run(lambda: invites.preview(uid, template=template, language=language))
    return web.json_response(made.as_json())


async def state(request: web.Request) -> web.Response:
    uid = await _checked(request)
    invites = request.app[INVITES]
    return web.json_response((await _run(lambda: invites.state(uid))).as_json())


async def send(request: web.Request) -> web.Response:
    uid = await _checked(request)
    body = await _body(request, _BODY_KEYS["create"])
    template, language = _text(body, "template"), _text(body, "language")
    flag = body.get("send", True)
    invites = request.app[INVITES]
    made = await _run(lambda: invites.send(uid, template=template, language=language, send=flag))
    return web.json_response(made.as_json(), status=201)


async def update(request: web.Request) -> web.Response:
    uid = await _checked(request)
    body = await _body(request, _BODY_KEYS["create"])
    template, language = _text(body, "template"), _text(body, "language")
    flag = body.get("send", True)
    invites = request.app[INVITES]
    made = await _run(lambda: invites.update(uid, template=template, language=language, send=flag))
    return web.json_response(made.as_json())


async def cancel(request: web.Request) -> web.Response:
    uid = await _checked(request, orphan=True)
    body = await _body(request, _BODY_KEYS["cancel"])
    flag = body.get("send", True)
    invites = request.app[INVITES]
    return web.json_response((await _run(lambda: invites.cancel(uid, send=flag))).as_json())


def add_routes(app: web.Application, store: Store, invites: Invites) -> None:
    app[INVITE_STORE] = store
    app[INVITES] = invites
    app.router.add_get("/api/meetings/{uid}/invite/preview", preview)
    app.router.add_get("/api/meetings/{uid}/invite", state)
    app.router.add_post("/api/meetings/{uid}/invite", send)
    app.router.add_post("/api/meetings/{uid}/invite/update", update)
    app.router.add_post("/api/meetings/{uid}/invite/cancel", cancel)
