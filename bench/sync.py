"""Sync benchmark: the sync engine against the Google Calendar emulator.

    python -m bench.sync [--meetings N] [--repeat R] [--changed K] [--json FILE]

One store (SQLite in a temporary directory) with alice's Google binding pointed at the
emulator over real HTTP (tests/support/sync_world.py), one GoogleBackend for every round.
Prints request counts per round and change-to-visible latencies with their targets
(reported, never asserted). Google -> CalDAV is measured with push: the webhook app
(bridge/api/webhooks.py) serves on a free 127.0.0.1 port, the binding gets a push channel
to it, and the scheduler polls only every --poll-seconds (60). See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.caldav import machine
from bench.sync_measure import Bench
from bridge.api.runner import start_in_thread
from bridge.api.webhooks import GOOGLE_PATH, webhook_app
from bridge.sync.channels import renew_channels, stop_all
from tests.emulators.google_calendar import GoogleEmulator
from tests.support.sync_world import World, make_world

TARGET_MEETINGS = 2000
TARGETS = {  # name: (comparison, bound, what)
    "write_calls_per_changed_meeting": ("==", 1.0, "remote write calls per changed meeting"),
    "idle_round_requests": ("==", 1, "requests for an idle incremental round"),
    "initial_push_requests": ("<=", 50, "HTTP requests for the initial push"),
    "crm_to_google_p95": ("<", 2.0, "p95 seconds CRM change -> Google"),
    "google_to_caldav_p95": ("<", 3.0, "p95 seconds Google change -> CalDAV view"),
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.sync", description=__doc__.split("\n")[1])
    p.add_argument("--meetings", type=int, default=TARGET_MEETINGS, help="initial push size N")
    p.add_argument("--repeat", type=int, default=20, help="latency samples per direction R")
    p.add_argument("--changed", type=int, default=100, help="meetings changed per kind K")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    p.add_argument(
        "--poll-seconds",
        type=float,
        default=60.0,
        help="the scheduler's polling interval for Google -> CalDAV (push is measured: "
        "keep it long, so only a push notification explains a fast update)",
    )
    p.add_argument("--tick", type=float, default=0.05, help="the scheduler's tick, seconds")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = p.parse_args(argv)
    if args.repeat < 2:
        p.error("--repeat must be at least 2")
    if not 1 <= args.changed <= args.meetings // 2:
        p.error("--changed must be between 1 and half of --meetings")
    return args


def google_to_caldav_with_push(
    world: World, bench: Bench, indexes: list[int], args: argparse.Namespace
) -> dict:
    """Serve the webhook app on a free local port, give the binding a push channel to it,
    measure Google -> CalDAV, then stop the channel and the server."""
    _, url, stop_server = start_in_thread(webhook_app(world.store), "127.0.0.1", 0)
    address = f"{url}{GOOGLE_PATH}"
    try:
        seen = len(world.google.notifications)
        opened = renew_channels(world.store, world.backend_for, url)
        if opened:  # the channel's first message ("sync") before the clock runs
            world.google.wait_for_notifications(seen + 1)
        print(f"  {opened} push channel opened to {address}", flush=True)
        result = bench.google_to_crm(indexes, args.tick, args.poll_seconds)
    finally:
        stopped = stop_all(world.store, world.backend_for)
        stop_server()
    return {**result, "webhook": address, "channels_opened": opened, "channels_stopped": stopped}


def verdict(name: str, value: float | None) -> bool:
    op, bound, _ = TARGETS[name]
    if value is None:
        return False
    return {"==": value == bound, "<=": value <= bound, "<": value < bound}[op]


def run(args: argparse.Namespace) -> dict:
    n, k = args.meetings, args.changed
    tmp = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    print(f"temporary directory: {tmp}", flush=True)
    google = GoogleEmulator().start()
    world = make_world(f"sqlite:///{tmp / 'bridge.sqlite3'}", google)
    try:
        bench = Bench(world)
        print(f"initial push of {n} meetings ...", flush=True)
        initial = bench.initial_push(n)
        print(
            f"  {initial['http_requests']} HTTP requests in {initial['seconds']:.1f} s "
            f"({initial['http_by_kind']}); {initial['events_in_google']} events in Google",
            flush=True,
        )
        echo = bench.idle()
        print(
            f"first round after the push (lists its own writes back): "
            f"{echo['http_requests']} requests ({echo['calls_by_api']})",
            flush=True,
        )
        idle = bench.idle()
        print(f"idle round: {idle['http_requests']} requests ({idle['calls_by_api']})", flush=True)
        print(f"changing {k} meetings per kind (update, create, delete) ...", flush=True)
        changes = bench.changes(n, k)
        for kind, c in changes.items():
            print(
                f"  {kind}: {c['write_calls']} write calls, {c['http_writes']} HTTP writes, "
                f"{c['http_requests']} requests in all ({c['calls_by_api']})",
                flush=True,
            )
        idle_after = bench.idle()
        live = [k + (r * 7) % (n - 2 * k) for r in range(args.repeat)]  # not deleted ones
        print(f"CRM -> Google latency, {args.repeat} changes ...", flush=True)
        to_google = bench.crm_to_google(live, args.tick)
        print(f"Google -> CalDAV latency with push, {args.repeat} changes ...", flush=True)
        to_crm = google_to_caldav_with_push(world, bench, live, args)
    finally:
        world.store.dispose()
        google.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    write_calls = sum(c["write_calls"] for c in changes.values())
    figures = {
        "write_calls_per_changed_meeting": round(write_calls / (3 * k), 3),
        "idle_round_requests": idle["http_requests"],
        "initial_push_requests": initial["http_requests"],
        "crm_to_google_p95": to_google["p95"] if not to_google["lost"] else None,
        "google_to_caldav_p95": to_crm["p95"] if not to_crm["lost"] else None,
    }
    push = to_crm["channels_opened"] > 0 and to_crm["push_notifications"] > 0
    return {
        "meetings": n,
        "changed": k,
        "repeat": args.repeat,
        "initial_push": initial,
        "round_after_push": echo,
        "idle_round": idle,
        "idle_round_after_changes": idle_after,
        "changes": changes,
        "crm_to_google": to_google,
        "google_to_caldav": to_crm,
        "google_to_caldav_mode": "push" if push else f"polling every {args.poll_seconds} s",
        "targets": {
            name: {
                "want": f"{TARGETS[name][0]} {TARGETS[name][1]}",
                "value": value,
                "met": verdict(name, value),
                "applies": name != "initial_push_requests" or n == TARGET_MEETINGS,
            }
            for name, value in figures.items()
        },
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "python": platform.python_version(),
    }


def print_report(report: dict) -> None:
    print(f"\n{'figure':<44}{'value':>10}  target")
    for name, t in report["targets"].items():
        what = TARGETS[name][2]
        note = "" if t["applies"] else f" (target is for N={TARGET_MEETINGS})"
        value = "lost" if t["value"] is None else t["value"]
        state = "met" if t["met"] else "NOT met"
        print(f"{what:<44}{value!s:>10}  {t['want']}: {state}{note}")
    for key in ("crm_to_google", "google_to_caldav"):
        r = report[key]
        print(
            f"  {key}: p50 {r['p50']} s, p95 {r['p95']} s, max {r['max']} s, "
            f"{r['lost']} of {r['repeat']} not seen within 30 s; "
            f"{r['rounds']} rounds in {r['phase_seconds']} s"
        )
    r = report["google_to_caldav"]
    print(f"  Google -> CalDAV measured with {report['google_to_caldav_mode']}", end="")
    if report["google_to_caldav_mode"] == "push":
        print(
            f" ({r['push_notifications']} change notifications answered 200 at "
            f"{r['webhook']}; polling every {r['poll_seconds']} s)"
        )
    else:
        print(
            f" ({r['channels_opened']} push channels opened, {r['push_notifications']} "
            f"change notifications answered 200: {r['notifications']})"
        )
    rounds = ("initial_push", "round_after_push", "idle_round", "idle_round_after_changes")
    for name in (*rounds, *report["changes"]):
        r = report[name] if name in report else report["changes"][name]
        if r["error_count"]:
            print(f"WARNING: {name} round reported {r['error_count']} errors: {r['errors']}")
    initial = report["initial_push"]
    if initial["events_in_google"] != report["meetings"]:
        print(
            f"WARNING: after the initial push Google holds {initial['events_in_google']} "
            f"events for {report['meetings']} meetings"
        )
    for key in ("crm_to_google", "google_to_caldav"):
        if report[key]["binding_failures"]:
            print(f"WARNING: {key}: the binding failed: {report[key]['binding_last_error']}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    begin = time.perf_counter()
    report = run(args)
    print_report(report)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    print(f"{time.perf_counter() - begin:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
