"""``GET /api/openapi.json``: the REST API's OpenAPI document (bridge/api/openapi.json,
kept true by tests/integration/test_api_openapi.py, which checks real answers against it)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from aiohttp import web


@cache
def document() -> dict[str, Any]:
    return json.loads(resources.files("bridge.api").joinpath("openapi.json").read_text("utf-8"))


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document())


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/openapi.json", openapi)
