"""The measurements of bench.sync: request counts per round and change-to-visible latencies.

Everything runs against a remote calendar over real HTTP (the Google Calendar emulator, or a
stock Radicale: bench/sync_remotes.py), with the bridge's own Engine, Scheduler and backend;
see bench/sync.py.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bench.sync_remotes import Remote
from bridge.store import bindings as binding_store
from bridge.store import links as link_store
from bridge.store import meetings as meeting_store
from bridge.sync.engine import Engine, RoundReport
from bridge.sync.scheduler import Scheduler, Timing
from tests.support.sync_world import World

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
    """One World (store + binding), its remote calendar, and one backend instance for all
    rounds, as production keeps one per binding (Google: the OAuth token is refreshed once,
    not per round; CalDAV: one session)."""

    def __init__(self, world: World, remote: Remote) -> None:
        self.world = world
        self.remote = remote
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

    def measured_round(self) -> dict:
        self.remote.reset()
        report, seconds = self.round()
        return {
            **self.remote.counts(),
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
        result[f"events_in_{self.remote.kind}"] = self.remote.event_count()
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
        self.remote.reset()
        stop = threading.Event()
        thread = threading.Thread(
            target=scheduler.run_forever,
            args=(stop,),
            kwargs={"tick_seconds": tick},
            name="bench-scheduler",
            daemon=True,
        )
        seen = self.remote.phase_marker()
        thread.start()
        begin = time.perf_counter()
        try:
            seconds = measure()
        finally:
            stop.set()
            thread.join(TIMEOUT)
        phase = time.perf_counter() - begin
        row = w.store.read(lambda c: binding_store.get(c, w.binding_id))
        return {
            **summary(seconds),
            "poll_seconds": poll_seconds,
            "tick_seconds": tick,
            "phase_seconds": round(phase, 1),
            "rounds": self.remote.rounds(),  # one listing per round
            **self.remote.push_figures(seen),
            "binding_failures": row.failures,
            "binding_last_error": row.last_error,
        }

    def crm_to_remote(self, indexes: list[int], tick: float) -> dict:
        """A CRM write until the remote calendar holds it; the scheduler is woken by the change log
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
                        lambda rid=remote_id, want=subject: self.remote.subject(rid) == want,
                    )
                )
                self.pause()
            return seconds

        return self._with_scheduler(3600.0, tick, measure)

    def remote_to_crm(self, indexes: list[int], tick: float, poll_seconds: float) -> dict:
        """An edit in the user's calendar (the emulator's UI helper; for CalDAV a PUT to
        Radicale, as a phone makes it) until the meeting's subject in the store (what CalDAV
        serves) shows it. Google: with a push channel open (bench/sync.py opens one) and a
        long ``poll_seconds``, only the push notification makes the binding due. CalDAV has
        no push: the binding is polled every ``poll_seconds``."""

        def measure() -> list[float | None]:
            seconds: list[float | None] = []
            for r, i in enumerate(indexes):
                uid, remote_id = uid_of(i), self.remote_id(i)
                subject = f"{self.remote.kind.capitalize()} edit {r}"
                begin = time.perf_counter()
                self.remote.user_edit(remote_id, subject)
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
