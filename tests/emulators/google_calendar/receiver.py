"""A tiny webhook endpoint on a free port that records the push notifications it receives."""

from __future__ import annotations

import threading

from aiohttp import web
from multidict import CIMultiDict

from tests.support.aiohttp_thread import ThreadedApp


class Receiver:
    """with Receiver() as hook: ... hook.url ... hook.wait_for(2) -> list of header dicts."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[CIMultiDict[str]] = []
        self._cond = threading.Condition()
        self._served = ThreadedApp("webhook-receiver")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._served.port}/notify"

    async def _handle(self, request: web.Request) -> web.Response:
        await request.read()
        with self._cond:
            self.received.append(CIMultiDict(request.headers))
            self._cond.notify_all()
        return web.Response(status=self.status)

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/notify", self._handle)
        return app

    def start(self) -> Receiver:
        self._served.start(self._app)
        return self

    def stop(self) -> None:
        self._served.stop()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[CIMultiDict[str]]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
