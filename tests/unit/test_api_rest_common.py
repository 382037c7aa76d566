"""bridge.api.rest_common's middleware on a real aiohttp server: /api/ answers are JSON
errors within the time limit; on other paths a raised refusal becomes the same JSON error
(its challenge kept) and a returned answer passes untouched."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bridge.api import rest_common
from bridge.api.rest_common import Refused, api_errors


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(5)
    return web.Response(text="late")


async def _refuse(request: web.Request) -> web.Response:
    raise Refused(422, "bad", [("start", "is required")])


async def _boom(request: web.Request) -> web.Response:
    raise RuntimeError("secret detail")


async def _plain(request: web.Request) -> web.Response:
    raise web.HTTPNotFound(text="plain\n")


async def _challenge(request: web.Request) -> web.Response:
    raise web.HTTPUnauthorized(text="log in\n", headers={"WWW-Authenticate": "Basic x"})


async def _returned(request: web.Request) -> web.Response:
    return web.Response(status=409, text="returned as is\n")


async def _run(monkeypatch) -> dict[str, tuple[int, object]]:
    monkeypatch.setattr(rest_common, "REQUEST_SECONDS", 0.2)
    app = web.Application(middlewares=[api_errors])
    app.router.add_get("/api/slow", _slow)
    app.router.add_get("/api/refuse", _refuse)
    app.router.add_get("/api/boom", _boom)
    app.router.add_get("/other", _plain)
    app.router.add_get("/challenge", _challenge)
    app.router.add_get("/returned", _returned)
    found = {}
    async with TestClient(TestServer(app)) as client:
        for path in ("/api/slow", "/api/refuse", "/api/boom", "/api/nowhere"):
            answer = await client.get(path)
            found[path] = (answer.status, await answer.json())
        for path in ("/other", "/challenge", "/unrouted"):
            answer = await client.get(path)
            found[path] = (answer.status, await answer.json())
        found["challenge"] = (await client.get("/challenge")).headers["WWW-Authenticate"]
        returned = await client.get("/returned")
        found["/returned"] = (returned.status, await returned.text())
    return found


def test_middleware(monkeypatch):
    found = asyncio.run(_run(monkeypatch))
    assert found["/api/slow"][0] == 503
    assert "longer than 0.2 s" in found["/api/slow"][1]["error"]["message"]
    assert found["/api/refuse"] == (
        422,
        {
            "error": {
                "status": 422,
                "message": "bad",
                "fields": [{"field": "start", "problem": "is required"}],
            }
        },
    )
    assert found["/api/boom"][0] == 500 and "secret" not in str(found["/api/boom"][1])
    assert found["/api/nowhere"] == (404, {"error": {"status": 404, "message": "Not Found"}})
    assert found["/other"] == (404, {"error": {"status": 404, "message": "plain"}})
    assert found["/challenge"] == (401, {"error": {"status": 401, "message": "log in"}})
    assert found["challenge"] == "Basic x"
    assert found["/unrouted"] == (404, {"error": {"status": 404, "message": "Not Found"}})
    assert found["/returned"] == (409, "returned as is\n")
