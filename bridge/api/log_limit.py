"""Rate-limited logging: at most one line per key per period, with a count of the rest.

A refused webhook request is logged at most once per channel per minute, so a flood of
forged or stale notifications cannot flood the log; the next line says how many were
held back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable


class LogLimiter:
    def __init__(
        self,
        period: float = 60.0,
        *,
        max_keys: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.period = period
        self.max_keys = max_keys
        self.clock = clock
        self._lock = threading.Lock()
        self._last: dict[Hashable, float] = {}  # key -> when its last line was written
        self._held: dict[Hashable, int] = {}  # key -> lines held back since then

    def allow(self, key: Hashable) -> int | None:
        """None: stay quiet. Else log now; the int is how many lines were held back."""
        now = self.clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.period:
                self._held[key] = self._held.get(key, 0) + 1
                return None
            if len(self._last) >= self.max_keys:
                self._forget_before(now - self.period)
            self._last[key] = now
            return self._held.pop(key, 0)

    def _forget_before(self, cutoff: float) -> None:
        for key in [k for k, at in self._last.items() if at < cutoff]:
            del self._last[key]
            self._held.pop(key, None)
        if len(self._last) >= self.max_keys:  # all recent: drop the oldest half
            for key in sorted(self._last, key=self._last.__getitem__)[: self.max_keys // 2]:
                del self._last[key]
                self._held.pop(key, None)
