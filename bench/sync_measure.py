"""The measurements of bench.sync: request counts per round and change-to-visible latencies.

Everything runs against the Google Calendar emulator (tests/emulators/google_calendar) over
real HTTP, with the bridge's own Engine, Scheduler and GoogleBackend; see bench/sync.py.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bridge.store import bindings as binding_store
from bridge.store import links as link_store
from bridge.store import meetings as meeting_store
from bridge.sync.engine import Engine, RoundReport
from bridge.sync.scheduler import Scheduler, Timing
from tests.support.sync_world import CALENDAR, World

# Emulator API calls (batch parts count one each) that change an event.
WRITE_CALLS = ("events.insert", "events.import", "events.patch", "events.update", "events.delete")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
TOKEN_PATH = "/token"
POLL_SLEEP = 0.002  # how often the benchmark looks for a change to become visible
TIMEOUT = 30.0  # seconds before a change that never shows up counts as lost
GAP = (0.2, 1.0)  # random pause between two changes: spreads them over the scheduler's cycle

BASE = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)


def start_of(i: int) -> datetime:
    """Meeting i's start: one a day-ish within the forward window (up to ~300 days ahead)."""
    return BASE + timedelta(days=1 + i % 300, hours=i % 8)


def uid_of(i: int) -> str:
    return f"bench-{i:06d}"


class Bench:
    """One World (store + binding + emulator) and one backend instance for all rounds, so
    the OAuth token is refreshed once, not per round."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.google = world.google
        self.backend = world.backend()
        self.random = random.Random(20240601)

    def pause(self) -> None:
        time.sleep(self.random.uniform(*GAP))

    # --- plumbing ------------------------------------------------------------------------
    def round(self) -> tuple[RoundReport, float]:
        w = self.world
        begin = time.perf_counter()
        report = Engine(w.store, w.binding_id, self.backend, w.rules).run()
        return report, time.perf_counter() - begin

    def crm_write(self, i: int, subject: str) -> None:
        self.world.crm_meeting(uid_of(i), subject, start=start_of(i))

    def crm_delete(self, i: int) -> None:
        row = self.world.meeting(uid_of(i))
        self.world.store.write(lambda tx: meeting_store.delete_meeting(tx, row.id), origin="crm")

    def remote_id(self, i: int) -> str:
        w = self.world
        row = w.store.read(lambda c: link_store.by_meeting(c, w.binding_id, uid_of(i)))
        if row is None:
            raise RuntimeError(f"{uid_of(i)} has no link: the initial push did not sync it")
        return row.remote_id

    def counts(self) -> dict:
        """What the emulator saw since the last reset, the OAuth token endpoint left out."""
        http = Counter()
        for (method, path), n in self.google.requests.items():
            if path == TOKEN_PATH:
                continue
            http[f"{method} {'/batch' if path.startswith('/batch') else '/calendar/v3'}"] += n
        calls = {k: v for k, v in self.google.calls.items() if k != "oauth.token"}
        return {
            "http_requests": sum(http.values()),
            "http_writes": sum(n for k, n in http.items() if k.split()[0] in WRITE_METHODS),
            "write_calls": sum(calls.get(k, 0) for k in WRITE_CALLS),
            "token_requests": self.google.http_requests(path_contains=TOKEN_PATH),
            "http_by_kind": dict(sorted(http.items())),
            "calls_by_api": dict(sorted(calls.items())),
        }

    def measured_round(self) -> dict:
        self.google.reset_counters()
        report, seconds = self.round()
        return {
            **self.counts(),
            "seconds": round(seconds, 3),
            "pushed": report.pushed,
            "pulled": report.pulled,
            "errors": report.errors[:5],
            "error_count": len(report.errors),
        }

    # --- counts --------------------------------------------------------------------------
    def initial_push(self, n: int) -> dict:
        begin = time.perf_counter()
        for i in range(n):
            self.crm_write(i, f"Meeting {i}")
        written = time.perf_counter() - begin
        result = self.measured_round()
        result["crm_write_seconds"] = round(written, 2)
        result["meetings"] = n
        result["events_in_google"] = len(self.google.events(CALENDAR))
        return result

    def idle(self) -> dict:
        return self.measured_round()

    def changes(self, n: int, k: int) -> dict[str, dict]:
        """K updated, K created, K deleted meetings, one round each; per-meeting figures."""
        out: dict[str, dict] = {}
        steps: list[tuple[str, Callable[[int], None], range]] = [
            ("update", lambda i: self.crm_write(i, f"Meeting {i} (changed)"), range(k)),
            ("create", lambda i: self.crm_write(i, f"Meeting {i}"), range(n, n + k)),
            ("delete", self.crm_delete, range(n - k, n)),
        ]
        for kind, change, indexes in steps:
            for i in indexes:
                change(i)
            result = self.measured_round()
            result["changed"] = k
            result["write_calls_per_meeting"] = round(result["write_calls"] / k, 3)
            result["http_writes_per_meeting"] = round(result["http_writes"] / k, 3)
            out[kind] = result
        return out

    # --- latencies -----------------------------------------------------------------------
    def _scheduler(self, poll_seconds: float) -> Scheduler:
        w = self.world
        return Scheduler(
            w.store,
            lambda row: self.backend,
            lambda row: w.rules,
            timing=Timing(poll_seconds=poll_seconds),
            owner="bench",
        )

    def _with_scheduler(
        self, poll_seconds: float, tick: float, measure: Callable[[], list[float | None]]
    ) -> dict:
        w = self.world
        scheduler = self._scheduler(poll_seconds)
        # An earlier scheduler left the next poll up to an hour away: due now.
        w.store.write(lambda tx: binding_store.request_run(tx, [w.binding_id]))
        scheduler.run_due()  # settle: anything left over is synced before the clock runs
        self.google.reset_counters()
        stop = threading.Event()
        thread = threading.Thread(
            target=scheduler.run_forever,
            args=(stop,),
            kwargs={"tick_seconds": tick},
            name="bench-scheduler",
            daemon=True,
        )
        seen = len(self.google.notifications)
        thread.start()
        begin = time.perf_counter()
        try:
            seconds = measure()
        finally:
            stop.set()
            thread.join(TIMEOUT)
        phase = time.perf_counter() - begin
        row = w.store.read(lambda c: binding_store.get(c, w.binding_id))
        deliveries = Counter(
            f"{d.state} {d.status if d.status is not None else 'unreachable'}"
            for d in list(self.google.notifications)[seen:]
        )
        return {
            **summary(seconds),
            "poll_seconds": poll_seconds,
            "tick_seconds": tick,
            "phase_seconds": round(phase, 1),
            "rounds": self.google.calls.get("events.list", 0),  # one list per round
            "watch_channels_opened": self.google.calls.get("events.watch", 0),
            # Push notifications the emulator delivered during the phase, "state status".
            "notifications": dict(sorted(deliveries.items())),
            "push_notifications": deliveries.get("exists 200", 0),
            "binding_failures": row.failures,
            "binding_last_error": row.last_error,
        }

    def crm_to_google(self, indexes: list[int], tick: float) -> dict:
        """A CRM write until the emulator holds it; the scheduler is woken by the change log
        (its polling interval is an hour, so only the local-change trigger counts)."""

        def measure() -> list[float | None]:
            seconds: list[float | None] = []
            for r, i in enumerate(indexes):
                remote_id, subject = self.remote_id(i), f"CRM edit {r}"
                begin = time.perf_counter()
                self.crm_write(i, subject)
                seconds.append(
                    wait_until(
                        begin,
                        lambda rid=remote_id, want=subject: (
                            (self.google.event(CALENDAR, rid) or {}).get("summary") == want
                        ),
                    )
                )
                self.pause()
            return seconds

        return self._with_scheduler(3600.0, tick, measure)

    def google_to_crm(self, indexes: list[int], tick: float, poll_seconds: float) -> dict:
        """An edit in Google (the emulator's UI helper) until the meeting's subject in the
        store (what CalDAV serves) shows it. With a push channel open (bench/sync.py opens
        one) and a long ``poll_seconds``, only the push notification makes the binding due."""

        def measure() -> list[float | None]:
            seconds: list[float | None] = []
            for r, i in enumerate(indexes):
                uid, remote_id, subject = uid_of(i), self.remote_id(i), f"Google edit {r}"
                begin = time.perf_counter()
                self.google.edit(CALENDAR, remote_id, summary=subject)
                seconds.append(
                    wait_until(
                        begin,
                        lambda uid=uid, want=subject: (
                            getattr(self.world.meeting(uid), "subject", None) == want
                        ),
                    )
                )
                self.pause()
            return seconds

        return self._with_scheduler(poll_seconds, tick, measure)


def wait_until(begin: float, visible: Callable[[], bool]) -> float | None:
    """Seconds from ``begin`` until ``visible()``; None after TIMEOUT."""
    while not visible():
        if time.perf_counter() - begin > TIMEOUT:
            return None
        time.sleep(POLL_SLEEP)
    return time.perf_counter() - begin


def summary(seconds: list[float | None]) -> dict:
    done = sorted(s for s in seconds if s is not None)
    out: dict = {"repeat": len(seconds), "lost": len(seconds) - len(done)}
    if len(done) >= 2:
        cuts = statistics.quantiles(done, n=100, method="inclusive")
        out.update(p50=round(cuts[49], 3), p95=round(cuts[94], 3))
    elif done:
        out.update(p50=round(done[0], 3), p95=round(done[0], 3))
    else:
        out.update(p50=None, p95=None)
    out["max"] = round(done[-1], 3) if done else None
    out["samples"] = [None if s is None else round(s, 4) for s in seconds]
    return out
