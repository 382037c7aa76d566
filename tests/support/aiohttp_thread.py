"""An aiohttp application served from its own event loop in a daemon thread: how the
Google and Graph emulators and the test webhook receiver start and stop.

``start`` builds the application inside the loop (``make_app`` is called there), listens
(port 0: a free one) and raises a failure to listen in the caller's thread; ``loop`` is
then the loop, for work the emulator schedules on it from other threads (push
deliveries). ``stop`` closes the site, cancels what still runs on the loop (deliveries
in flight) and ends the thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from aiohttp import web


class ThreadedApp:
    def __init__(self, name: str) -> None:
        self.name = name
        self.port = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    def start(
        self, make_app: Callable[[], web.Application], host: str = "127.0.0.1", port: int = 0
    ) -> int:
        """Serve what ``make_app`` builds on host:port; the port it listens on."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._listen(make_app, host, port))
            except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
                failure.append(exc)
                loop.close()
                ready.set()
                return
            self.loop = loop
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=serve, name=self.name, daemon=True)
        self._thread.start()
        if not ready.wait(30):
            raise RuntimeError(f"{self.name} did not listen within 30 s")
        if failure:
            self._thread = None
            raise failure[0]
        return self.port

    async def _listen(self, make_app: Callable[[], web.Application], host: str, port: int) -> None:
        self._runner = web.AppRunner(make_app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self.port = self._runner.addresses[0][1]

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def stop(self) -> None:
        loop, thread = self.loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self.loop = self._thread = None
