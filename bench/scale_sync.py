"""The sync side of the scale benchmark: bindings on the Google emulator, CRM changes at a
stated rate, and how long each takes to appear in Google.

Each binding user ``s00000`` ... has one Google binding (the emulator, in this process)
with its refresh token stored as `bridge google authorize` stores it. The CRM side writes
a new meeting for a random binding user at ``rate`` per second, as the CRM import writes
(bridge.meeting_service.save_from_sync, origin "crm") into the same store the servers
use; a watcher finds each one in that user's Google calendar (by its unique summary) and
takes the time from the commit to its appearance. Rounds are counted at the emulator: an
incremental round lists events once (``events.list``).
"""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta

from bench.scale_caldav import percentile
from bench.scale_world import email, sync_login
from bridge.meeting_service import save_from_sync
from bridge.model import Meeting
from bridge.secret_box import Keyring
from bridge.store import Store, binding_secrets
from bridge.store import bindings as binding_store


def give_tokens(store: Store, google, keyring: Keyring, bindings: int) -> None:  # noqa: ANN001
    """A Google user per binding user; each binding's refresh token stored (encrypted)."""
    tokens = {}
    for n in range(bindings):
        who = sync_login(n)
        tokens[who] = google.add_user(email(who)).refresh_token

    def store_them(tx) -> None:  # noqa: ANN001
        for who, token in tokens.items():
            row = binding_store.by_login(tx.conn, who)[0]
            binding_secrets.set_secret(tx, row.id, {"refresh_token": token}, keyring)

    store.write(store_them)


def google_event_count(google, bindings: int) -> int:  # noqa: ANN001
    return sum(len(google.events(email(sync_login(n)))) for n in range(bindings))


def rounds(google) -> int:  # noqa: ANN001
    return google.calls.get("events.list", 0)


class CrmChanges:
    """New CRM meetings at ``rate``/s for random binding users; latency to Google."""

    def __init__(self, store: Store, google, bindings: int, rate: float) -> None:  # noqa: ANN001
        self.store, self.google, self.bindings, self.rate = store, google, bindings, rate
        self.pending: dict[str, tuple[str, float]] = {}  # summary -> (calendar, committed)
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
            self.pending[subject] = (email(who), time.perf_counter())

    def _watch_once(self) -> None:
        with self.lock:
            waiting = dict(self.pending)
        calendars = {calendar for calendar, _ in waiting.values()}
        seen = {e.get("summary") for calendar in calendars for e in self.google.events(calendar)}
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
