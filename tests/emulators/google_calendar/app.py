"""The aiohttp application: routing of Calendar v3 paths, auth, faults, counters, batch, token."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from urllib.parse import unquote

from aiohttp import web
from multidict import CIMultiDict, MultiDict

from . import batch, events, listing
from .call import Call, Reply, error_reply
from .errors import ApiError, not_found
from .faults import Faults
from .oauth import OAuth
from .store import Calendar, State
from .watch import Watches

Handler = Callable[[Call, Calendar, list[str]], Reply]


class Api:
    """Everything behind the HTTP surface; shared by plain requests and batch parts."""

    def __init__(self, state: State, oauth: OAuth, faults: Faults, watches: Watches) -> None:
        self.state = state
        self.oauth = oauth
        self.faults = faults
        self.watches = watches
        self.requests: Counter[tuple[str, str]] = Counter()  # HTTP requests: (method, path)
        self.calls: Counter[str] = Counter()  # API calls incl. batch parts: "events.insert"
        self.consent_user: str | None = None

    def route(self, call: Call) -> tuple[str, list[str]]:
        """(api method name, path arguments) or 404."""
        prefix = "/calendar/v3/"
        if not call.path.startswith(prefix):
            raise not_found()
        seg = [unquote(s) for s in call.path[len(prefix) :].split("/")]
        m, n = call.method, len(seg)
        if seg == ["channels", "stop"] and m == "POST":
            return "channels.stop", []
        if seg[:3] == ["users", "me", "calendarList"] and m == "GET" and n in (3, 4):
            return "calendarList." + ("list" if n == 3 else "get"), seg[3:]
        if n < 2 or seg[0] != "calendars":
            raise not_found()
        if n == 2 and m == "GET":
            return "calendars.get", [seg[1]]
        if n == 3 and seg[2] == "events":
            if m in ("GET", "POST"):
                return "events." + ("list" if m == "GET" else "insert"), [seg[1]]
        if n == 4 and seg[2] == "events":
            if m == "POST" and seg[3] in ("import", "watch"):
                return f"events.{seg[3]}", [seg[1]]
            names = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
            if m in names:
                return f"events.{names[m]}", [seg[1], seg[3]]
        if n == 5 and seg[2] == "events" and seg[4] == "instances" and m == "GET":
            return "events.instances", [seg[1], seg[3]]
        raise not_found()

    async def dispatch(self, call: Call) -> Reply:
        try:
            call.api, args = self.route(call)
            call.principal = self.oauth.principal(call.headers.get("Authorization"))
            self.calls[call.api] += 1
            await self.apply_faults(call)
            with self.state.lock:
                return self.handle(call, args)
        except ApiError as exc:
            return error_reply(exc)

    async def apply_faults(self, call: Call) -> None:
        for fault in self.faults.take(call):
            if fault.delay:
                await asyncio.sleep(fault.delay)
            error = fault.error()
            if error is not None:
                raise error

    def calendar(self, call: Call, calendar_id: str) -> Calendar:
        if calendar_id == "primary":
            calendar_id = call.principal or ""
        return self.state.calendar(calendar_id)

    def calendar_json(self, calendar: Calendar) -> dict[str, object]:
        return {
            "kind": "calendar#calendar",
            "etag": f'"c{calendar.seq}"',
            "id": calendar.id,
            "summary": calendar.summary,
            "timeZone": calendar.time_zone,
        }

    def handle(self, call: Call, args: list[str]) -> Reply:
        api, state = call.api, self.state
        if api == "channels.stop":
            return self.watches.stop(call)
        if api == "calendarList.list":
            own = state.calendars.get(call.principal or "")
            items = [] if own is None else [{**self.calendar_json(own), "primary": True}]
            return Reply(200, {"kind": "calendar#calendarList", "items": items})
        calendar = self.calendar(call, args[0])
        if api in ("calendars.get", "calendarList.get"):
            return Reply(200, self.calendar_json(calendar))
        if api == "events.list":
            return listing.list_events(state, call, calendar)
        if api == "events.insert":
            return events.insert(state, call, calendar)
        if api == "events.import":
            return events.import_(state, call, calendar)
        if api == "events.watch":
            return self.watches.watch(call, calendar)
        if api == "events.instances":
            return listing.list_instances(state, call, calendar, args[1])
        if api == "events.get":
            return events.get(state, call, calendar, args[1])
        if api == "events.delete":
            return events.delete(state, call, calendar, args[1])
        return events.rewrite(state, call, calendar, args[1], api.split(".")[1])

    # --- aiohttp handlers ------------------------------------------------------------------
    async def http_api(self, request: web.Request) -> web.Response:
        call = Call(
            method=request.method,
            path=request.raw_path.split("?", 1)[0],
            query=MultiDict(request.query),
            headers=CIMultiDict(request.headers),
            body=await request.read(),
        )
        return to_response(await self.dispatch(call))

    async def http_batch(self, request: web.Request) -> web.Response:
        body = await request.read()
        envelope = Call(
            "POST", request.path, MultiDict(request.query), CIMultiDict(request.headers)
        )
        envelope.api = "batch"
        self.calls["batch"] += 1
        try:
            await self.apply_faults(envelope)
            content_type, payload = await batch.run(
                request.headers.get("Content-Type", ""),
                body,
                request.headers.get("Authorization"),
                self.dispatch,
            )
        except ApiError as exc:
            return to_response(error_reply(exc))
        return web.Response(status=200, body=payload, headers={"Content-Type": content_type})

    async def http_token(self, request: web.Request) -> web.Response:
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        self.calls["oauth.token"] += 1
        status, body = self.oauth.token_endpoint(form)
        return web.json_response(body, status=status)

    async def http_consent(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        principal = query.get("login_hint") or self.consent_user
        if not principal or "redirect_uri" not in query:
            return web.Response(
                status=400, text="login_hint (or consent_user) and redirect_uri required"
            )
        raise web.HTTPFound(self.oauth.consent_redirect(query, principal))


def to_response(reply: Reply) -> web.Response:
    headers = dict(reply.headers)
    if reply.body is None:
        return web.Response(status=reply.status, headers=headers)
    headers["Content-Type"] = "application/json; charset=UTF-8"
    return web.Response(status=reply.status, body=json.dumps(reply.body).encode(), headers=headers)


def make_app(api: Api) -> web.Application:
    @web.middleware
    async def count(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        api.requests[(request.method, request.path)] += 1
        return await handler(request)

    app = web.Application(middlewares=[count], client_max_size=64 * 1024 * 1024)
    app.router.add_post("/token", api.http_token)
    app.router.add_get("/o/oauth2/auth", api.http_consent)
    app.router.add_post("/batch/calendar/v3", api.http_batch)
    app.router.add_post("/batch", api.http_batch)
    app.router.add_route("*", "/calendar/v3/{tail:.*}", api.http_api)
    return app
