"""Fault injection and throttling: fail_next, reject, the per-mailbox concurrency limit."""

from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass

from .call import Call
from .errors import GraphError, throttled

MESSAGES = {
    400: ("BadRequest", "Injected bad request."),
    401: ("InvalidAuthenticationToken", "Access token validation failure."),
    403: ("ErrorAccessDenied", "Access is denied. Check credentials and try again."),
    404: ("ErrorItemNotFound", "The specified object was not found in the store."),
    409: ("ErrorIrresolvableConflict", "A conflict occurred."),
    412: ("ErrorIrresolvableConflict", "The change key passed in the request does not match."),
    429: ("ApplicationThrottled", "Application is over its MailboxConcurrency limit."),
    500: ("ErrorInternalServerError", "An internal server error occurred."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable."),
    504: ("GatewayTimeout", "The gateway timed out."),
}


@dataclass
class Fault:
    pattern: re.Pattern[str]
    status: int
    remaining: int
    code: str | None = None
    retry_after: int | None = None

    def error(self) -> GraphError:
        code, message = MESSAGES.get(self.status, ("InjectedFault", "Injected fault."))
        headers = {}
        if self.retry_after is not None or self.status in (429, 503):
            headers["Retry-After"] = str(self.retry_after if self.retry_after is not None else 1)
        return GraphError(self.status, self.code or code, message, headers)


class Faults:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self.lock:
            self.pending.append(fault)

    def take(self, call: Call) -> GraphError | None:
        line = f"{call.method} {call.path}"
        with self.lock:
            for fault in self.pending:
                if fault.remaining > 0 and fault.pattern.search(line):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self.pending.remove(fault)
                    return fault.error()
        return None

    def clear(self) -> None:
        with self.lock:
            self.pending.clear()


class Throttle:
    """Outlook's limits per app and mailbox: at most `limit` requests in flight (the next gets
    429 MailboxConcurrency) and at most `rate` requests per `per` seconds."""

    def __init__(self, limit: int = 4, retry_after: int = 1) -> None:
        self.limit = limit
        self.retry_after = retry_after
        self.rate, self.per = 10_000, 600.0
        self.lock = threading.Lock()
        self.in_flight: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.history: dict[tuple[str, str], deque[float]] = {}
        self.rejected = 0

    def acquire(self, upn: str, client_id: str = "") -> None:
        with self.lock:
            seen = self.history.setdefault((client_id, upn), deque())
            moment = time.monotonic()
            while seen and seen[0] <= moment - self.per:
                seen.popleft()
            if len(seen) >= self.rate:
                self.rejected += 1
                wait = max(1, math.ceil(seen[0] + self.per - moment))
                raise throttled(wait, "Application is over its request rate for this mailbox.")
            now = self.in_flight.get(upn, 0)
            if now >= self.limit:
                self.rejected += 1
                raise throttled(
                    self.retry_after, "Application is over its MailboxConcurrency limit."
                )
            seen.append(moment)
            self.in_flight[upn] = now + 1
            self.peak[upn] = max(self.peak.get(upn, 0), now + 1)

    def release(self, upn: str) -> None:
        with self.lock:
            self.in_flight[upn] = max(0, self.in_flight.get(upn, 0) - 1)
