"""The CRM side of the scale benchmark: CRM changes at a stated rate, and how long each
takes to appear in the binding user's remote calendar (bench/scale_remotes.py).

The CRM writes a new meeting for a random binding user ``s00000`` ... at ``rate`` per
second, as the CRM import writes (bridge.meeting_service.save_from_sync, origin "crm")
into the same store the servers use; a watcher finds each one in that user's remote
calendar (by its unique summary) and takes the time from the commit to its appearance.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta

from bench.scale_caldav import percentile
from bench.scale_world import sync_login
from bridge.meeting_service import save_from_sync
from bridge.model import Meeting
from bridge.store import Store


class CrmChanges:
    """New CRM meetings at ``rate``/s for random binding users; latency to their remote."""

    def __init__(self, store: Store, remote, bindings: int, rate: float) -> None:  # noqa: ANN001
        self.store, self.remote, self.bindings, self.rate = store, remote, bindings, rate
        self.pending: dict[str, tuple[str, float]] = {}  # summary -> (user, committed)
        self.latencies: list[float] = []
        self.lock = threading.Lock()
        self.rng = random.Random(7)
        self.made = 0

    def _write(self) -> None:
        self.made += 1
        who = sync_login(self.rng.randrange(self.bindings))
        subject = f"crm-change-{self.made}"
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1, hours=self.made % 48)
        meeting = Meeting(
            uid=f"crm-change-{self.made}-{int(time.time())}",
            start=start,
            end=start + timedelta(minutes=30),
            organiser=who,
            subject=subject,
            activity_type="appointment",
        )
        self.store.write(
            lambda tx: save_from_sync(
                tx, meeting, href=f"{meeting.uid}.ics", horizon_days=400, max_occurrences=200
            ),
            origin="crm",
        )
        with self.lock:
            self.pending[subject] = (who, time.perf_counter())

    def _watch_once(self) -> None:
        with self.lock:
            waiting = dict(self.pending)
        users = {who for who, _ in waiting.values()}
        seen = {summary for who in users for summary in self.remote.summaries(who)}
        now = time.perf_counter()
        with self.lock:
            for subject in seen & set(waiting):
                self.latencies.append(now - self.pending.pop(subject)[1])

    def run(self, stop: threading.Event) -> None:
        watcher = threading.Thread(target=self._watch, args=(stop,), daemon=True)
        watcher.start()
        interval = 1 / self.rate
        due = time.perf_counter()
        while not stop.is_set():
            self._write()
            due += interval
            stop.wait(max(0.0, due - time.perf_counter()))
        watcher.join()

    def _watch(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self._watch_once()
            time.sleep(0.05)

    def drain(self, timeout: float) -> None:
        """After the load: wait for the changes still on their way (up to ``timeout``)."""
        end = time.perf_counter() + timeout
        while self.pending and time.perf_counter() < end:
            self._watch_once()
            time.sleep(0.05)

    def figures(self) -> dict:
        return {
            "rate_per_second": self.rate,
            "changes": self.made,
            "arrived": len(self.latencies),
            "lost": len(self.pending),
            "p50": percentile(self.latencies, 50),
            "p95": percentile(self.latencies, 95),
            "p99": percentile(self.latencies, 99),
        }
