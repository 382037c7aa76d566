"""Serve an aiohttp application from a background thread (beside the CalDAV server)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from aiohttp import web


def _display_host(host: str) -> str:
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def start_in_thread(
    app: web.Application, host: str, port: int
) -> tuple[threading.Thread, str, Callable[[], None]]:
    """Start serving ``app`` on host:port (0: a free port) in a daemon thread.

    Returns (thread, base URL, stop). ``stop()`` shuts the server down and joins the
    thread; a failure to listen is raised here, in the caller's thread.
    """
    from bridge.api.bad_requests import install

    install()  # malformed requests: one short warning, not a traceback each
    ready = threading.Event()
    failure: list[BaseException] = []
    state: dict[str, object] = {}

    def serve() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, host, port)
            loop.run_until_complete(site.start())
        except BaseException as error:  # noqa: BLE001 - handed to the starting thread
            failure.append(error)
            loop.run_until_complete(runner.cleanup())
            loop.close()
            ready.set()
            return
        state["loop"] = loop
        state["port"] = runner.addresses[0][1]
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()

    thread = threading.Thread(target=serve, name=f"api-{host}:{port}", daemon=True)
    thread.start()
    if not ready.wait(30):
        raise RuntimeError(f"HTTP API on {host}:{port} did not start within 30 s")
    if failure:
        raise failure[0]
    loop = state["loop"]
    assert isinstance(loop, asyncio.AbstractEventLoop)

    def stop() -> None:
        if thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)

    return thread, f"http://{_display_host(host)}:{state['port']}", stop
