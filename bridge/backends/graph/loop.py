"""The process's event loop for Graph: one daemon thread running asyncio, one aiohttp
session (its connection pool) shared by every binding, and per mailbox the 4 request
slots Graph allows in flight (a $batch takes all 4)."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

import aiohttp

MAILBOX_CONCURRENCY = 4

T = TypeVar("T")


class _Loop:
    """The process's event loop for Graph, on a daemon thread (started on first use)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self.semaphores: dict[str, asyncio.Semaphore] = {}
        self.batch_locks: dict[str, asyncio.Lock] = {}
        self._session: aiohttp.ClientSession | None = None

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(
                    target=self._loop.run_forever, name="graph-http", daemon=True
                ).start()
            return self._loop

    def run(self, coro: Awaitable[T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop()).result()  # type: ignore[arg-type]

    def session(self) -> aiohttp.ClientSession:
        """The process's HTTP session (its connection pool), shared by every binding;
        only called on the loop's thread."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    def shutdown(self) -> None:
        """Close the session at interpreter exit (its pool's sockets)."""
        loop, session = self._loop, self._session
        if loop is not None and session is not None and not session.closed:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(session.close(), loop).result(5)

    def semaphore(self, mailbox: str) -> asyncio.Semaphore:
        """Only called on the loop's thread."""
        key = mailbox.lower()
        if key not in self.semaphores:
            self.semaphores[key] = asyncio.Semaphore(MAILBOX_CONCURRENCY)
            self.batch_locks[key] = asyncio.Lock()
        return self.semaphores[key]

    @contextlib.asynccontextmanager
    async def slots(self, mailbox: str, count: int) -> AsyncIterator[None]:
        """``count`` of the mailbox's request slots (a $batch runs up to 4 parts side by
        side, so it takes them all); batches gather theirs one at a time, so two can
        never each hold some and wait for the rest."""
        semaphore = self.semaphore(mailbox)
        if count == 1:
            async with semaphore:
                yield
            return
        taken = 0
        try:
            async with self.batch_locks[mailbox.lower()]:
                for _ in range(count):
                    await semaphore.acquire()
                    taken += 1
            yield
        finally:
            for _ in range(taken):
                semaphore.release()


LOOP = _Loop()
atexit.register(LOOP.shutdown)
