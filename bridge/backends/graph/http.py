"""A thin Graph client of our own: aiohttp on one event loop per process (a daemon thread),
behind blocking methods, because the sync engine is synchronous.

- Every request carries the binding's bearer token (bridge.backends.graph.auth) and our
  Prefer headers: immutable ids, text bodies.
- At most 4 requests are in flight per mailbox across every binding and round of the
  process (Graph's per-mailbox concurrency limit): one semaphore per mailbox on the loop.
- 429 and 503/504 are retried after Retry-After (at most ``retry_after_max`` seconds,
  ``max_retries`` times); a 401 once with a fresh token.
- JSON $batch of up to 20 requests; every part answered 429 (or 424, failed because a part
  it depended on did) is sent again in a later batch after its Retry-After.

Errors are mapped here to the seam's exceptions; no aiohttp exception leaves this module.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp

from bridge.backends.base import (
    AuthError,
    BackendError,
    NotFound,
    PreconditionFailed,
    Rejected,
    ResyncRequired,
)
from bridge.backends.graph.auth import TokenSource
from bridge.backends.graph.settings import GraphSettings

PREFER = 'IdType="ImmutableId", outlook.body-content-type="text"'
MAILBOX_CONCURRENCY = 4
RETRIED = frozenset({429, 503, 504})

T = TypeVar("T")


class _Loop:
    """The process's event loop for Graph, on a daemon thread (started on first use)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self.semaphores: dict[str, asyncio.Semaphore] = {}

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

    def semaphore(self, mailbox: str) -> asyncio.Semaphore:
        """Only called on the loop's thread."""
        key = mailbox.lower()
        if key not in self.semaphores:
            self.semaphores[key] = asyncio.Semaphore(MAILBOX_CONCURRENCY)
        return self.semaphores[key]


LOOP = _Loop()


@dataclass
class Reply:
    """One Graph answer (a whole response or one $batch part)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def error_code(self) -> str:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return str(self.body["error"].get("code", ""))
        return ""

    def error_text(self) -> str:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            error = self.body["error"]
            return f"{error.get('code', '')}: {error.get('message', '')}".strip(": ")
        return ""

    def retry_after(self, default: float = 1.0) -> float:
        raw = {k.lower(): v for k, v in self.headers.items()}.get("retry-after", "")
        try:
            return max(0.0, float(raw))
        except ValueError:
            return default


def raise_for(reply: Reply, what: str, *, mailbox: bool = False) -> None:
    """The seam's exception for a failed answer (nothing when it succeeded). A 403 on a
    call about the whole mailbox (``mailbox``: a list, a subscription) is the app's missing
    permission (AuthError); on one event, that event refused (Rejected)."""
    if reply.ok:
        return
    detail = f"Microsoft Graph {what}: HTTP {reply.status}"
    text = reply.error_text()
    if text:
        detail += f" ({text})"
    code = reply.error_code()
    if reply.status == 410 or code in ("syncStateNotFound", "resyncRequired", "SyncStateNotFound"):
        raise ResyncRequired(detail)
    if reply.status in (401,):
        raise AuthError(detail)
    if reply.status == 403:
        if mailbox:
            raise AuthError(detail + ": the app lacks Calendars.ReadWrite for this mailbox")
        raise Rejected(detail)
    if reply.status == 404:
        raise NotFound(detail)
    if reply.status in (409, 412):
        raise PreconditionFailed(detail)
    if reply.status in (400, 422):
        raise Rejected(detail)
    raise BackendError(detail)


class GraphClient:
    """Blocking Graph calls for one mailbox; thread-safe (the loop serialises nothing but
    the semaphore, so callers may overlap)."""

    def __init__(self, settings: GraphSettings, tokens: TokenSource) -> None:
        self.settings, self.tokens = settings, tokens
        self.requests = 0  # HTTP requests to Graph (a $batch counts once)
        self._session: aiohttp.ClientSession | None = None

    @property
    def base(self) -> str:
        return self.settings.graph_url

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base + path

    # --- blocking API ---------------------------------------------------------------------
    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """One request, retried on throttling; the final Reply (any status)."""
        return LOOP.run(self._call(method, path, params, body, headers or {}))

    def batch(self, parts: Sequence[dict[str, Any]]) -> list[Reply]:
        """$batch ``parts`` (each {"method", "url" relative to the version, optional
        "body", "headers"}), 20 at a time; one Reply per part, in order."""
        return LOOP.run(self._batch(list(parts)))

    def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            LOOP.run(session.close())

    # --- on the loop ------------------------------------------------------------------------
    def _headers(self, token: str, extra: dict[str, str]) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "Prefer": PREFER, **extra}

    async def _send(
        self, method: str, url: str, params: Any, body: Any, headers: dict[str, str]
    ) -> Reply:
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=self.settings.timeout)
            self._session = aiohttp.ClientSession(timeout=timeout)
        token = await asyncio.get_running_loop().run_in_executor(None, self.tokens.token)
        data = None if body is None else json.dumps(body)
        send_headers = self._headers(token, headers)
        if data is not None:
            send_headers["Content-Type"] = "application/json"
        async with LOOP.semaphore(self.settings.mailbox):
            self.requests += 1
            try:
                async with self._session.request(
                    method, url, params=params, data=data, headers=send_headers
                ) as response:
                    text = await response.text()
                    status, got = response.status, dict(response.headers)
            except (aiohttp.ClientError, TimeoutError) as error:
                raise BackendError(
                    f"Microsoft Graph {method} unreachable: {type(error).__name__}"
                ) from None
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return Reply(status, got, parsed)

    async def _call(
        self, method: str, path: str, params: Any, body: Any, headers: dict[str, str]
    ) -> Reply:
        url = self.url(path)
        refreshed = False
        for attempt in range(self.settings.max_retries + 1):
            reply = await self._send(method, url, params, body, headers)
            if reply.status == 401 and not refreshed:
                refreshed = True
                self.tokens.forget()
                continue
            if reply.status in RETRIED and attempt < self.settings.max_retries:
                await asyncio.sleep(self._wait(reply))
                continue
            return reply
        return reply

    def _wait(self, reply: Reply) -> float:
        return min(reply.retry_after(), self.settings.retry_after_max)

    async def _batch(self, parts: list[dict[str, Any]]) -> list[Reply]:
        results: dict[int, Reply] = {}
        pending = list(range(len(parts)))
        for attempt in range(self.settings.max_retries + 1):
            retry: list[int] = []
            wait = 0.0
            size = self.settings.batch_size
            for start in range(0, len(pending), size):
                chunk = pending[start : start + size]
                requests = [{"id": str(i), **parts[i]} for i in chunk]
                reply = await self._call("POST", "/$batch", None, {"requests": requests}, {})
                raise_for(reply, "$batch", mailbox=True)
                answers = {str(r.get("id")): r for r in (reply.body or {}).get("responses", [])}
                for index in chunk:
                    answer = answers.get(str(index))
                    if answer is None:
                        results[index] = Reply(500, {}, {"error": {"code": "missingPart"}})
                        continue
                    part = Reply(
                        int(answer.get("status", 500)),
                        dict(answer.get("headers") or {}),
                        answer.get("body"),
                    )
                    results[index] = part
                    if part.status in (*RETRIED, 424) and attempt < self.settings.max_retries:
                        retry.append(index)
                        wait = max(wait, self._wait(part) if part.status != 424 else 0.0)
            if not retry:
                break
            await asyncio.sleep(wait)
            pending = retry
        return [results[i] for i in range(len(parts))]
