"""Scheduler benchmark: what 1,000 idle bindings cost the scheduler, per pass and per hour.

    python -m bench.scheduler [--bindings N] [--passes P] [--db URL] [--json FILE]

One store (SQLite in a temporary directory, or ``--db`` a MariaDB URL of an empty
database) with N Google bindings (ten per CRM user, each signed in as its own user of the
Google Calendar emulator over real HTTP), one ``Scheduler`` as `bridge serve` makes it.
After every binding's first round (its token and full listing), the benchmark makes all of
them due and runs idle passes, nothing to pull or push, measuring per pass:

- SQL statements sent to the store (counted on the engine, BEGIN/COMMIT included),
- CPU seconds of the scheduler: with ``rounds_at_once = 1`` the rounds run in the calling
  thread, whose CPU time (``time.thread_time``) leaves out the emulator (a thread of this
  process) and the lease heartbeat threads (idle for rounds this short),
- remote HTTP requests (the emulator's count), and wall time, with 1 and with 4 rounds at
  once,

and the cost of a pass that finds nothing due (the scheduler's tick, once a second); then
``run_forever`` with 4 threads as `bridge serve` runs it, until every binding ran once
(statements and requests per round, wall time, CPU of the whole process). From
these: the idle cost of one binding per hour at the default poll interval (60 s). The
emulator runs in this process and shares its CPU: timings are of a loaded machine.
Reported, never asserted. See docs/benchmarks.md ("Scheduler with 1,000 bindings").
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bench.caldav import machine
from bridge.secret_box import Keyring
from bridge.store import Store, binding_secrets
from bridge.store import bindings as binding_store
from bridge.store import users as user_store
from bridge.sync.rules import SyncRules
from bridge.sync.scheduler import Scheduler, Timing
from bridge.wiring import BackendMaker
from tests.emulators.google_calendar import GoogleEmulator
from tests.support.google_toml import google_settings

POLL_SECONDS = 60  # the default [sync] poll_seconds
TICK_SECONDS = 1.0  # run_forever's default tick: an empty pass this often
PER_USER = 10


class Statements:
    """SQL statements sent on an engine while counting, by their first word."""

    def __init__(self, store: Store) -> None:
        self.kinds: Counter[str] = Counter()
        event.listen(store.engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        self.kinds[statement.split(None, 1)[0].upper()] += 1

    def take(self) -> Counter[str]:
        seen, self.kinds = self.kinds, Counter()
        return seen


def fleet(store: Store, google: GoogleEmulator, count: int) -> list[int]:
    """``count`` Google bindings, PER_USER per CRM user, each its own emulator user."""
    keyring = Keyring.generate()
    logins = [f"user{u:04d}" for u in range((count + PER_USER - 1) // PER_USER)]
    tokens = [google.add_user(f"g{i:05d}@example.com").refresh_token for i in range(count)]
    settings = google_settings(google)
    records = [
        binding_store.BindingRecord(logins[i // PER_USER], f"g{i % PER_USER}", "google", settings)
        for i in range(count)
    ]

    def setup(tx) -> list[int]:  # noqa: ANN001
        user_store.sync(tx, [user_store.UserRecord(u, f"{u}@example.com") for u in logins])
        binding_store.sync(tx, records, keyring)
        rows = binding_store.all_bindings(tx.conn)
        for row, token in zip(rows, tokens, strict=True):
            binding_secrets.set_secret(tx, row.id, {"refresh_token": token}, keyring)
        return [row.id for row in rows]

    ids = store.write(setup)
    fleet.keyring = keyring  # type: ignore[attr-defined]
    return ids


def scheduler(store: Store, keyring: Keyring, rounds_at_once: int, count: int) -> Scheduler:
    timing = Timing(poll_seconds=POLL_SECONDS, rounds_at_once=rounds_at_once, pass_size=count)
    return Scheduler(
        store, BackendMaker(keyring, store), lambda row: SyncRules(), timing=timing, owner="bench"
    )


def measured_pass(
    work: Callable[[], dict], statements: Statements, google: GoogleEmulator
) -> dict[str, Any]:
    statements.take()
    google.reset_counters()
    wall, cpu = time.perf_counter(), time.thread_time()
    results = work()
    cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
    sql = statements.take()
    failed = sum(1 for r in results.values() if r is None or isinstance(r, Exception))
    return {
        "rounds": len(results),
        "failed": failed,
        "wall_s": wall,
        "cpu_s": cpu,
        "sql": sum(sql.values()),
        "sql_by_kind": dict(sql),
        "requests": google.http_requests(),
    }


class RoundsEnded(logging.Handler):
    """Counts the scheduler's "round ended" lines (no SQL of its own)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.ended = 0

    def emit(self, record: logging.LogRecord) -> None:
        if ": round ended by " in record.getMessage():
            self.ended += 1


def forever(
    worker: Scheduler, statements: Statements, google: GoogleEmulator, count: int
) -> dict[str, Any]:
    """``run_forever`` (as `bridge serve` runs it) until every binding, all due, ran once:
    statements, requests and wall time per round; CPU of the whole process (the emulator
    included: rounds run in threads)."""
    ended = RoundsEnded()
    sync_log = logging.getLogger("bridge.sync")
    level = sync_log.level
    sync_log.addHandler(ended)
    sync_log.setLevel(logging.INFO)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,), daemon=True)
    statements.take()
    google.reset_counters()
    wall, cpu = time.perf_counter(), time.process_time()
    thread.start()
    try:
        while ended.ended < count and time.perf_counter() - wall < 600:
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join(60)
        sync_log.removeHandler(ended)
        sync_log.setLevel(level)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    sql = statements.take()
    return {
        "rounds": ended.ended,
        "wall_s": wall,
        "process_cpu_s": cpu,
        "sql": sum(sql.values()),
        "sql_by_kind": dict(sql),
        "requests": google.http_requests(),
    }


def run(count: int, passes: int, url: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, GoogleEmulator() as google:
        store = Store(url or f"sqlite:///{Path(tmp) / 'bench.db'}")
        ids = fleet(store, google, count)
        keyring = fleet.keyring  # type: ignore[attr-defined]
        statements = Statements(store)
        # One scheduler throughout, as one process keeps it: its backends (tokens,
        # connections) carry over from the first rounds to the idle ones.
        worker = scheduler(store, keyring, 4, count)
        begin = time.perf_counter()
        initial = worker.run_due()
        first_s = time.perf_counter() - begin

        def all_due() -> None:
            store.write(lambda tx: binding_store.request_run(tx, ids))

        out: dict[str, Any] = {
            "bindings": count,
            "first_rounds": {"rounds": len(initial), "wall_s": first_s},
        }
        for threads in (1, 4):
            worker.timing = dataclasses.replace(worker.timing, rounds_at_once=threads)
            figures = []
            for _ in range(passes):
                all_due()
                figures.append(measured_pass(worker.run_due, statements, google))
            empty = [measured_pass(worker.run_due, statements, google) for _ in range(20)]
            out[f"rounds_at_once_{threads}"] = {"idle_passes": figures, "empty_passes": empty}
        worker.timing = dataclasses.replace(worker.timing, rounds_at_once=4)
        all_due()
        out["run_forever_4"] = forever(worker, statements, google, count)
        worker.close()
        store.dispose()
    return out


def summary(result: dict[str, Any]) -> dict[str, float]:
    count = result["bindings"]
    idle = result["rounds_at_once_1"]["idle_passes"]
    empty = result["rounds_at_once_1"]["empty_passes"]
    per_round = {
        "sql": statistics.median(p["sql"] / p["rounds"] for p in idle),
        "cpu_ms": statistics.median(1000 * p["cpu_s"] / p["rounds"] for p in idle),
        "requests": statistics.median(p["requests"] / p["rounds"] for p in idle),
    }
    tick = {
        "sql": statistics.median(p["sql"] for p in empty),
        "cpu_ms": statistics.median(1000 * p["cpu_s"] for p in empty),
    }
    forever = result["run_forever_4"]
    rounds_per_hour = 3600 / POLL_SECONDS
    ticks_per_hour = 3600 / TICK_SECONDS
    return {
        "sql_per_idle_round": per_round["sql"],
        "cpu_ms_per_idle_round": per_round["cpu_ms"],
        "requests_per_idle_round": per_round["requests"],
        "sql_per_empty_pass": tick["sql"],
        "cpu_ms_per_empty_pass": tick["cpu_ms"],
        "idle_pass_wall_s_1": statistics.median(p["wall_s"] for p in idle),
        "idle_pass_wall_s_4": statistics.median(
            p["wall_s"] for p in result["rounds_at_once_4"]["idle_passes"]
        ),
        # per binding per hour at poll 60 s: its 60 idle rounds, and its share of the ticks
        "sql_per_binding_hour": rounds_per_hour * per_round["sql"]
        + ticks_per_hour * tick["sql"] / count,
        "cpu_s_per_binding_hour": (
            rounds_per_hour * per_round["cpu_ms"] + ticks_per_hour * tick["cpu_ms"] / count
        )
        / 1000,
        "requests_per_binding_hour": rounds_per_hour * per_round["requests"],
        # as `bridge serve` runs it: run_forever, 4 threads, a pick as each round ends
        "forever_sql_per_round": forever["sql"] / max(forever["rounds"], 1),
        "forever_requests_per_round": forever["requests"] / max(forever["rounds"], 1),
        "forever_wall_s": forever["wall_s"],
        "forever_process_cpu_ms_per_round": 1000
        * forever["process_cpu_s"]
        / max(forever["rounds"], 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.scheduler", description=__doc__.split("\n")[0])
    parser.add_argument("--bindings", type=int, default=1000)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--db", default=None, help="a MariaDB URL (empty database)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    result = run(args.bindings, args.passes, args.db)
    figures = summary(result)
    report = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "python": platform.python_version(),
        "database": "mariadb" if args.db else "sqlite",
        "summary": figures,
        **result,
    }
    print(f"{args.bindings} idle Google bindings ({report['database']}), {machine()}")
    first = result["first_rounds"]["wall_s"]
    print(f"first rounds (token + full listing, 4 at once): {first:.1f} s")
    for name, value in figures.items():
        print(f"  {name:28s} {value:10.3f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
