"""Fault injection: the next N matching calls answer an error, or are answered late."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .call import Call
from .errors import ApiError


@dataclass
class Fault:
    status: int | None  # None: only a delay
    reason: str | None
    times: int
    delay: float = 0.0
    retry_after: int | None = None
    message: str | None = None
    api: str | None = None  # "events.list", "events.insert", ..., "batch"
    method: str | None = None
    path: str | None = None  # regular expression searched in the (unquoted) path
    when: Callable[[Call], bool] | None = None
    hits: int = 0

    def matches(self, call: Call) -> bool:
        if self.api is not None and call.api != self.api:
            return False
        if self.method is not None and call.method.upper() != self.method.upper():
            return False
        if self.path is not None and not re.search(self.path, call.path):
            return False
        return self.when is None or self.when(call)

    def error(self) -> ApiError | None:
        if self.status is None or self.reason is None:
            return None
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        return ApiError(self.status, self.reason, self.message, headers=headers)


class Faults:
    """`emulator.faults`: queue faults; each applies to the next `times` calls it matches.

    Matching keywords (all optional, all must hold): api="events.list", method="POST",
    path=r"/events$" (regex), when=lambda call: ... . Batch parts are matched one by one as
    their own calls; the batch envelope itself is api="batch".
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.queue: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        with self.lock:
            self.queue.append(fault)
        return fault

    def rate_limit(self, times: int = 1, *, user: bool = False, **match: Any) -> Fault:
        """403 rateLimitExceeded (or userRateLimitExceeded with user=True)."""
        reason = "userRateLimitExceeded" if user else "rateLimitExceeded"
        return self.add(Fault(403, reason, times, **match))

    def too_many_requests(self, times: int = 1, *, retry_after: int = 1, **match: Any) -> Fault:
        """429 rateLimitExceeded with a Retry-After header."""
        return self.add(Fault(429, "rateLimitExceeded", times, retry_after=retry_after, **match))

    def server_error(self, times: int = 1, *, status: int = 500, **match: Any) -> Fault:
        """500 (or 503) backendError."""
        return self.add(Fault(status, "backendError", times, **match))

    def sync_token_gone(self, times: int = 1, **match: Any) -> Fault:
        """410 fullSyncRequired on the next events.list calls that carry a syncToken."""
        match.setdefault("when", lambda call: call.param("syncToken") is not None)
        match.setdefault("api", "events.list")
        return self.add(Fault(410, "fullSyncRequired", times, **match))

    def error(self, status: int, reason: str, times: int = 1, **match: Any) -> Fault:
        """Any status/reason in Google's error shape (e.g. 403 quotaExceeded)."""
        return self.add(Fault(status, reason, times, **match))

    def slow(self, seconds: float, times: int = 1, **match: Any) -> Fault:
        """Answer normally, but only after `seconds` (longer than a client timeout = a timeout)."""
        return self.add(Fault(None, None, times, delay=seconds, **match))

    def clear(self) -> None:
        with self.lock:
            self.queue.clear()

    @property
    def pending(self) -> list[Fault]:
        with self.lock:
            return [f for f in self.queue if f.times > 0]

    def take(self, call: Call) -> list[Fault]:
        """Consume and return the faults that apply to this call (delays first, then one error)."""
        out: list[Fault] = []
        with self.lock:
            for fault in self.queue:
                if fault.times <= 0 or not fault.matches(call):
                    continue
                if fault.status is not None and any(f.status is not None for f in out):
                    continue
                fault.times -= 1
                fault.hits += 1
                out.append(fault)
            self.queue = [f for f in self.queue if f.times > 0]
        return out
