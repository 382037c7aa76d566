"""A tiny webhook endpoint on a free port that records the push notifications it receives."""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web
from multidict import CIMultiDict


class Receiver:
    """with Receiver() as hook: ... hook.url ... hook.wait_for(2) -> list of header dicts."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[CIMultiDict[str]] = []
        self.port = 0
        self._cond = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/notify"

    async def _handle(self, request: web.Request) -> web.Response:
        await request.read()
        with self._cond:
            self.received.append(CIMultiDict(request.headers))
            self._cond.notify_all()
        return web.Response(status=self.status)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/notify", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]

    def start(self) -> Receiver:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            loop.run_until_complete(self._start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup() if self._runner else asyncio.sleep(0))
            loop.close()

        self._thread = threading.Thread(target=serve, name="webhook-receiver", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = self._thread = None

    def wait_for(self, count: int, timeout: float = 5.0) -> list[CIMultiDict[str]]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
