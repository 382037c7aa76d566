"""A thin Graph client of our own: aiohttp on one event loop per process (a daemon thread),
behind blocking methods, because the sync engine is synchronous.

- Every request carries the binding's bearer token (bridge.backends.graph.auth) and our
  Prefer headers: immutable ids, text bodies.
- At most 4 requests are in flight per mailbox across every binding and round of the
  process (Graph's per-mailbox concurrency limit): bridge.backends.graph.loop.
- 429 and 503/504 are retried after Retry-After (at most ``retry_after_max`` seconds,
  ``max_retries`` times); a 401 once with a fresh token.
- JSON $batch of up to 20 requests; every part answered 429 (or 424, failed because a part
  it depended on did) is sent again in a later batch after its Retry-After.

Errors are mapped here to the seam's exceptions; no aiohttp exception leaves this module.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bridge import metrics
from bridge.backends.base import (
    AuthError,
    BackendError,
    NotFound,
    PreconditionFailed,
    Rejected,
    ResyncRequired,
)
from bridge.backends.graph.auth import TokenSource
from bridge.backends.graph.loop import LOOP, MAILBOX_CONCURRENCY
from bridge.backends.graph.settings import GraphSettings

PREFER = 'IdType="ImmutableId", outlook.body-content-type="text"'
RETRIED = frozenset({429, 503, 504})
KIND = "graph"  # the label of this backend's metrics (bridge.metrics)


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


def _part_reply(answer: dict[str, Any] | None) -> Reply:
    if answer is None:
        return Reply(500, {}, {"error": {"code": "missingPart", "message": "no answer"}})
    status = int(answer.get("status", 500))
    return Reply(status, dict(answer.get("headers") or {}), answer.get("body"))


def chained(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The batch's parts in 4 chains (dependsOn the part 4 before): Graph runs at most 4
    side by side, the mailbox's limit, instead of all 20 and throttling 16. A part whose
    chain failed before it is answered 424 and sent again."""
    out = []
    for index, request in enumerate(requests):
        if index >= MAILBOX_CONCURRENCY:
            request = {**request, "dependsOn": [requests[index - MAILBOX_CONCURRENCY]["id"]]}
        out.append(request)
    return out


class GraphClient:
    """Blocking Graph calls for one mailbox; thread-safe (the loop serialises nothing but
    the semaphore, so callers may overlap)."""

    def __init__(self, settings: GraphSettings, tokens: TokenSource) -> None:
        self.settings, self.tokens = settings, tokens
        self.requests = 0  # HTTP requests to Graph (a $batch counts once)
        self.timeout = aiohttp.ClientTimeout(total=settings.timeout)

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
        """Nothing of its own to release: the session and its pool are the process's."""

    # --- on the loop ------------------------------------------------------------------------
    def _headers(self, token: str, extra: dict[str, str]) -> dict[str, str]:
        prefer = ", ".join(p for p in (PREFER, extra.get("Prefer", "")) if p)
        return {**extra, "Authorization": f"Bearer {token}", "Prefer": prefer}

    async def _send(
        self, method: str, url: str, params: Any, body: Any, headers: dict[str, str]
    ) -> Reply:
        token = await asyncio.get_running_loop().run_in_executor(None, self.tokens.token)
        data = None if body is None else json.dumps(body)
        send_headers = self._headers(token, headers)
        if data is not None:
            send_headers["Content-Type"] = "application/json"
        width = MAILBOX_CONCURRENCY if url.endswith("/$batch") else 1
        async with LOOP.slots(self.settings.mailbox, width):
            self.requests += 1
            try:
                async with LOOP.session().request(
                    method,
                    url,
                    params=params,
                    data=data,
                    headers=send_headers,
                    timeout=self.timeout,
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
            metrics.remote_call(KIND, retry=attempt > 0)
            reply = await self._send(method, url, params, body, headers)
            if reply.status == 401 and not refreshed:
                refreshed = True
                self.tokens.forget()
                continue
            if reply.status in RETRIED and attempt < self.settings.max_retries:
                wait = self._wait(reply)
                if reply.status == 429:
                    metrics.throttled(KIND, wait)
                await asyncio.sleep(wait)
                continue
            return reply
        return reply

    def _wait(self, reply: Reply) -> float:
        return min(reply.retry_after(), self.settings.retry_after_max)

    @staticmethod
    def _part(index: int, part: dict[str, Any]) -> dict[str, Any]:
        """One $batch part with our Prefer headers (a part does not inherit the batch's)."""
        headers = dict(part.get("headers") or {})
        headers["Prefer"] = ", ".join(p for p in (PREFER, headers.get("Prefer", "")) if p)
        if part.get("body") is not None:
            headers.setdefault("Content-Type", "application/json")
        return {"id": str(index), **part, "headers": headers}

    async def _batch(self, parts: list[dict[str, Any]]) -> list[Reply]:
        """Every part answered; throttled parts (429/503/504) are sent again after their
        Retry-After at most ``max_retries`` times, parts failed for their chain (424) until
        they ran (each batch runs every chain's head, so this ends)."""
        results: dict[int, Reply] = {}
        pending = list(range(len(parts)))
        throttled_rounds = 0
        while pending:
            retry: list[int] = []
            wait = 0.0
            throttled = False
            size = self.settings.batch_size
            for start in range(0, len(pending), size):
                chunk = pending[start : start + size]
                requests = chained([self._part(i, parts[i]) for i in chunk])
                reply = await self._call("POST", "/$batch", None, {"requests": requests}, {})
                raise_for(reply, "$batch", mailbox=True)
                answers = {str(r.get("id")): r for r in (reply.body or {}).get("responses", [])}
                for index in chunk:
                    part = _part_reply(answers.get(str(index)))
                    results[index] = part
                    if part.status == 424:
                        retry.append(index)
                    elif part.status in RETRIED and throttled_rounds < self.settings.max_retries:
                        retry.append(index)
                        throttled = True
                        wait = max(wait, self._wait(part))
            throttled_rounds += throttled
            if retry:
                if throttled:
                    metrics.throttled(KIND, wait)
                await asyncio.sleep(wait)
            pending = retry
        return [results[i] for i in range(len(parts))]
