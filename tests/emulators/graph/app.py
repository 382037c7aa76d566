"""The aiohttp application: Entra endpoints, Graph v1.0 requests, auth, faults, throttling."""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web
from multidict import CIMultiDict

from .call import Call, Reply
from .errors import GraphError

if TYPE_CHECKING:
    from .server import GraphEmulator


@dataclass(frozen=True)
class CallRecord:
    method: str
    path: str  # after /v1.0, with the query string
    status: int
    in_batch: bool = False


class Gateway:
    """Runs one Call through auth, faults, the mailbox concurrency limit and the handlers."""

    def __init__(self, emulator: GraphEmulator) -> None:
        self.g = emulator
        self.calls: list[CallRecord] = []
        self.calls_lock = threading.Lock()
        self.latency = 0.0

    def record(self, call: Call, status: int, in_batch: bool) -> None:
        query = "&".join(f"{k}={v}" for k, v in call.query.items())
        with self.calls_lock:
            self.calls.append(
                CallRecord(
                    call.method, call.path + (f"?{query}" if query else ""), status, in_batch
                )
            )

    def mailbox_key(self, call: Call) -> str | None:
        seg = [s for s in call.path.split("/") if s]
        if seg[:1] == ["me"] and call.grant is not None and call.grant.user:
            return call.grant.user
        if seg[:1] == ["users"] and len(seg) >= 2:
            box = self.g.state.mailbox(seg[1])
            return box.upn if box is not None else None
        return None

    async def execute(self, call: Call, *, in_batch: bool = False, slot: bool = True) -> Reply:
        reply = await self._execute(call, slot)
        if call.applied and reply.status < 400:
            reply.headers["Preference-Applied"] = ", ".join(dict.fromkeys(call.applied))
        self.record(call, reply.status, in_batch)
        return reply

    async def _execute(self, call: Call, slot: bool) -> Reply:
        upn: str | None = None
        try:
            call.grant = self.g.identity.grant_for(call.headers.get("Authorization"))
            fault = self.g.faults.take(call)
            if fault is not None:
                raise fault
            upn = self.mailbox_key(call) if slot else None
            if upn is not None:
                self.g.throttle.acquire(upn, call.grant.client_id)
            try:
                if self.latency:
                    await asyncio.sleep(self.latency)
                return await self.route(call)
            finally:
                if upn is not None:
                    self.g.throttle.release(upn)
        except GraphError as exc:
            return Reply(exc.status, exc.body(), exc.headers)

    async def route(self, call: Call) -> Reply:
        seg = [s for s in call.path.split("/") if s]
        if seg[:1] == ["$batch"]:
            return await self.g.batch.run(call)
        if seg[:1] == ["subscriptions"]:
            return await self.g.subscriptions.handle(call, seg[1:])
        with self.g.state.lock:
            return self.g.api.mailbox_call(call)


def to_response(reply: Reply) -> web.Response:
    headers = {"Cache-Control": "private", **reply.headers}
    if reply.body is None:
        return web.Response(status=reply.status, headers=headers)
    return web.json_response(
        reply.body,
        status=reply.status,
        headers=headers,
        content_type="application/json",
        dumps=lambda v: json.dumps(v, separators=(",", ":")),
    )


def make_app(emulator: GraphEmulator) -> web.Application:
    gateway = emulator.gateway
    oauth = emulator.oauth

    async def graph(request: web.Request) -> web.Response:
        body: Any = None
        raw = await request.read()
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                error = GraphError(400, "BadRequest", "Unable to read JSON request payload.")
                return to_response(Reply(400, error.body()))
        call = Call.from_url(
            request.method, str(request.rel_url), CIMultiDict(request.headers), body
        )
        return to_response(await gateway.execute(call))

    app = web.Application(client_max_size=8 * 1024 * 1024)
    app.router.add_get("/common/discovery/instance", oauth.instance_discovery)
    app.router.add_get(
        "/{tenant}/v2.0/.well-known/openid-configuration", oauth.openid_configuration
    )
    app.router.add_post("/{tenant}/oauth2/v2.0/token", oauth.token)
    app.router.add_post("/{tenant}/oauth2/v2.0/devicecode", oauth.devicecode)
    app.router.add_route("*", "/v1.0/{tail:.*}", graph)
    return app
