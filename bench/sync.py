"""Sync benchmark: the sync engine against a remote calendar, Google, CalDAV, Exchange or Graph.

    python -m bench.sync [--backend google|caldav|exchange|graph] [--meetings N] [--repeat R]
                         [--changed K] [--poll-seconds S] [--json FILE]

One store (SQLite in a temporary directory) with alice's binding of the chosen kind over real
HTTP (tests/support/sync_world.py), one backend object for every round, as production keeps
one per binding. google (the default): the Google Calendar emulator; Google -> CalDAV is
measured with push (the webhook app serves on a free 127.0.0.1 port, the binding gets a push
channel to it, the scheduler polls only every --poll-seconds, default 60). caldav: a stock
Radicale started here, requests counted by the contract driver's proxy; CalDAV has no push,
so calendar -> CRM is measured with polling every --poll-seconds (default 1). exchange: the
EWS emulator through the contract driver, calendar -> CRM measured with EWS push
subscriptions to the webhook app as for Google (--poll-seconds default 60). graph: the
Microsoft Graph emulator through the contract driver, calendar -> CRM with push like Google
(a Graph subscription to the webhook app; polling every 60 s by default). Prints request
counts per round and change-to-visible latencies with their targets (reported, never
asserted). See docs/benchmarks.md.
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.caldav import machine
from bench.sync_measure import Bench
from bench.sync_remotes import CaldavRemote, ExchangeRemote, GoogleRemote, GraphRemote, Remote
from bridge.api.runner import start_in_thread
from bridge.api.webhooks import webhook_app
from bridge.config.api import ApiSettings
from bridge.sync.channels import renew_channels, stop_all, webhook_path
from tests.contract.drivers.caldav import CaldavDriver
from tests.emulators.google_calendar import GoogleEmulator
from tests.support.radicale_server import start_radicale
from tests.support.sync_world import World, make_driver_world, make_world

TARGET_MEETINGS = 2000
# Per backend: the report's names of the two latency directions and of the remote side.
DIRECTIONS = {
    "google": ("crm_to_google", "google_to_caldav", "Google", "CalDAV view"),
    "caldav": ("crm_to_calendar", "calendar_to_crm", "CalDAV calendar", "CRM"),
    "exchange": ("crm_to_calendar", "calendar_to_crm", "Exchange calendar", "CRM"),
    "graph": ("crm_to_calendar", "calendar_to_crm", "Microsoft 365", "CRM"),
}
POLL_DEFAULT = {"google": 60.0, "caldav": 1.0, "exchange": 60.0, "graph": 60.0}


def targets(kind: str) -> dict[str, tuple[str, float, str]]:
    """name: (comparison, bound, what); the same targets for every backend."""
    to_remote, to_crm, remote, view = DIRECTIONS[kind]
    return {
        "write_calls_per_changed_meeting": ("==", 1.0, "remote write calls per changed meeting"),
        "idle_round_requests": ("==", 1, "requests for an idle incremental round"),
        "initial_push_requests": (
            "<=",
            TARGET_MEETINGS // 20 if kind == "graph" else 50,  # Graph: 20 per $batch at most
            "HTTP requests for the initial push" + (" (the writes)" if kind == "graph" else ""),
        ),
        f"{to_remote}_p95": ("<", 2.0, f"p95 seconds CRM change -> {remote}"),
        f"{to_crm}_p95": ("<", 3.0, f"p95 seconds {remote} change -> {view}"),
    } | (
        {"create_item_calls_per_100": ("<=", 1.0, "CreateItem calls per 100 meetings pushed")}
        if kind == "exchange"
        else {}
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.sync", description=__doc__.split("\n")[0])
    p.add_argument("--backend", choices=sorted(DIRECTIONS), default="google")
    p.add_argument("--meetings", type=int, default=TARGET_MEETINGS, help="initial push size N")
    p.add_argument("--repeat", type=int, default=20, help="latency samples per direction R")
    p.add_argument("--changed", type=int, default=100, help="meetings changed per kind K")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    p.add_argument(
        "--poll-seconds",
        type=float,
        default=None,
        help="the scheduler's polling interval for calendar -> CRM. google and graph "
        "(default 60): push is measured, keep it long so only a push notification explains a fast "
        "update; caldav (default 1): no push, the p95 is bounded by it",
    )
    p.add_argument("--tick", type=float, default=0.05, help="the scheduler's tick, seconds")
    p.add_argument(
        "--coalesce-seconds",
        type=float,
        default=ApiSettings.push_coalesce_seconds,
        help="the webhook's push coalescing ([api] push_coalesce_seconds; production default "
        "%(default)s s): a notification makes the binding due this much later at the latest",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = p.parse_args(argv)
    if args.poll_seconds is None:
        args.poll_seconds = POLL_DEFAULT[args.backend]
    if args.repeat < 2:
        p.error("--repeat must be at least 2")
    if not 1 <= args.changed <= args.meetings // 2:
        p.error("--changed must be between 1 and half of --meetings")
    return args


def remote_to_crm_with_push(
    world: World, bench: Bench, indexes: list[int], args: argparse.Namespace
) -> dict:
    """Serve the webhook app on a free local port, give the binding a push channel to it
    (a Google events.watch channel, a Graph subscription), measure calendar -> CRM, then
    stop the channel and the server."""
    _, url, stop_server = start_in_thread(
        webhook_app(world.store, coalesce_seconds=args.coalesce_seconds), "127.0.0.1", 0
    )
    address = f"{url}{webhook_path(bench.remote.kind)}"
    try:
        seen = bench.remote.phase_marker()
        opened = renew_channels(world.store, world.backend_for, url)
        if opened:
            bench.remote.channel_ready(seen)
        print(f"  {opened} push channel opened to {address}", flush=True)
        result = bench.remote_to_crm(indexes, args.tick, args.poll_seconds)
    finally:
        stopped = stop_all(world.store, world.backend_for)
        stop_server()
    return {**result, "webhook": address, "channels_opened": opened, "channels_stopped": stopped}


def verdict(kind: str, name: str, value: float | None) -> bool:
    op, bound, _ = targets(kind)[name]
    if value is None:
        return False
    return {"==": value == bound, "<=": value <= bound, "<": value < bound}[op]


@contextmanager
def opened_world(kind: str, tmp: Path) -> Iterator[tuple[World, Remote]]:
    """alice's binding of ``kind`` in a SQLite store under ``tmp``, and its remote: the
    Google emulator, or a stock Radicale (started here) behind the driver's proxy."""
    db_url = f"sqlite:///{tmp / 'bridge.sqlite3'}"
    if kind == "google":
        google = GoogleEmulator().start()
        world = make_world(db_url, google)
        try:
            yield world, GoogleRemote(google)
        finally:
            world.store.dispose()
            google.stop()
        return
    if kind == "graph":
        from tests.contract.drivers.graph import open_driver

        with open_driver(tmp) as graph_driver:
            world = make_driver_world(db_url, graph_driver)
            try:
                yield world, GraphRemote(graph_driver)
            finally:
                world.store.dispose()
        return
    if kind == "exchange":
        from tests.contract.drivers.exchange import open_driver

        with open_driver(tmp) as driver:
            world = make_driver_world(db_url, driver)
            try:
                yield world, ExchangeRemote(driver)
            finally:
                world.store.dispose()
        return
    radicale = start_radicale(tmp / "radicale")
    driver = CaldavDriver(radicale, tmp)
    world = make_driver_world(db_url, driver)
    try:
        yield world, CaldavRemote(driver)
    finally:
        world.store.dispose()
        driver.close()
        radicale.stop()


def remote_to_crm(world: World, bench: Bench, indexes: list[int], args: argparse.Namespace) -> dict:
    """calendar -> CRM: with push where the backend offers it (Google, Exchange, Graph),
    else polled."""
    if bench.remote.push:
        return remote_to_crm_with_push(world, bench, indexes, args)
    result = bench.remote_to_crm(indexes, args.tick, args.poll_seconds)
    return {**result, "webhook": None, "channels_opened": 0, "channels_stopped": 0}


def run(args: argparse.Namespace) -> dict:
    n, k, kind = args.meetings, args.changed, args.backend
    to_remote, to_crm, remote_name, view = DIRECTIONS[kind]
    tmp = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    print(f"backend {kind}; temporary directory: {tmp}", flush=True)
    try:
        with opened_world(kind, tmp) as (world, remote):
            bench = Bench(world, remote)
            try:
                print(f"initial push of {n} meetings ...", flush=True)
                initial = bench.initial_push(n)
                print(
                    f"  {initial['http_requests']} HTTP requests in {initial['seconds']:.1f} s "
                    f"({initial['http_by_kind']}); {initial[f'events_in_{kind}']} events in "
                    f"{remote_name}; of them {initial['http_writes']} write requests (the push "
                    f"alone: the rest is the round's first listing and its token)",
                    flush=True,
                )
                echo = bench.idle()
                print(
                    f"first round after the push (lists its own writes back): "
                    f"{echo['http_requests']} requests ({echo['calls_by_api']})",
                    flush=True,
                )
                idle = bench.idle()
                print(
                    f"idle round: {idle['http_requests']} requests ({idle['calls_by_api']})",
                    flush=True,
                )
                print(f"changing {k} meetings per kind (update, create, delete) ...", flush=True)
                changes = bench.changes(n, k)
                for what, c in changes.items():
                    print(
                        f"  {what}: {c['write_calls']} write calls, {c['http_writes']} HTTP "
                        f"writes, {c['http_requests']} requests in all ({c['calls_by_api']})",
                        flush=True,
                    )
                idle_after = bench.idle()
                live = [k + (r * 7) % (n - 2 * k) for r in range(args.repeat)]  # not deleted
                print(f"CRM -> {remote_name} latency, {args.repeat} changes ...", flush=True)
                to_remote_result = bench.crm_to_remote(live, args.tick)
                how = "with push" if remote.push else f"polled every {args.poll_seconds} s"
                print(
                    f"{remote_name} -> {view} latency {how}, {args.repeat} changes ...",
                    flush=True,
                )
                to_crm_result = remote_to_crm(world, bench, live, args)
            finally:
                bench.backend.close()
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    write_calls = sum(c["write_calls"] for c in changes.values())
    figures = {
        "write_calls_per_changed_meeting": round(write_calls / (3 * k), 3),
        "idle_round_requests": idle["http_requests"],
        # Graph: the requests that write the N events (the floor: 20 per $batch);
        # the round's delta baseline and token are printed beside it (docs/benchmarks.md)
        "initial_push_requests": initial["http_writes" if kind == "graph" else "http_requests"],
        **(
            {
                "create_item_calls_per_100": round(
                    initial["calls_by_api"].get("CreateItem", 0) * 100 / max(n, 1), 3
                )
            }  # fmt: skip
            if kind == "exchange"
            else {}
        ),
        f"{to_remote}_p95": to_remote_result["p95"] if not to_remote_result["lost"] else None,
        f"{to_crm}_p95": to_crm_result["p95"] if not to_crm_result["lost"] else None,
    }
    push = to_crm_result["channels_opened"] > 0 and to_crm_result["push_notifications"] > 0
    mode = "push" if push else f"polling every {args.poll_seconds} s"
    if not remote.push:
        mode += " (CalDAV has no push)" if kind == "caldav" else " (push not measured here)"
    return {
        "backend": kind,
        "meetings": n,
        "changed": k,
        "repeat": args.repeat,
        "initial_push": initial,
        "round_after_push": echo,
        "idle_round": idle,
        "idle_round_after_changes": idle_after,
        "changes": changes,
        to_remote: to_remote_result,
        to_crm: to_crm_result,
        f"{to_crm}_mode": mode,
        "push_coalesce_seconds": args.coalesce_seconds,
        "targets": {
            name: {
                "want": f"{targets(kind)[name][0]} {targets(kind)[name][1]}",
                "value": value,
                "met": verdict(kind, name, value),
                "applies": applies(kind, name, n),
            }
            for name, value in figures.items()
        },
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "python": platform.python_version(),
    }


def applies(kind: str, name: str, n: int) -> bool:
    """The initial push target is for N = 2000, and for Google only: CalDAV has no batch
    (one PUT per meeting); Exchange's is CreateItem calls per 100 meetings."""
    return name != "initial_push_requests" or (kind in ("google", "graph") and n == TARGET_MEETINGS)


def print_report(report: dict) -> None:
    kind = report["backend"]
    to_remote, to_crm, remote_name, view = DIRECTIONS[kind]
    print(f"\n{'figure':<46}{'value':>10}  target")
    for name, t in report["targets"].items():
        what = targets(kind)[name][2]
        note = ""
        state = "met" if t["met"] else "NOT met"
        if not t["applies"] and kind == "exchange":
            state, note = "n/a", " (Exchange: see CreateItem calls per 100 meetings)"
        elif not t["applies"] and kind == "caldav":
            n = report["meetings"]
            state, note = "n/a", f" (CalDAV has no batch: {n} PUTs for {n} meetings)"
        elif not t["applies"]:
            note = f" (target is for N={TARGET_MEETINGS})"
        value = "lost" if t["value"] is None else t["value"]
        print(f"{what:<46}{value!s:>10}  {t['want']}: {state}{note}")
    for key in (to_remote, to_crm):
        r = report[key]
        print(
            f"  {key}: p50 {r['p50']} s, p95 {r['p95']} s, max {r['max']} s, "
            f"{r['lost']} of {r['repeat']} not seen within 30 s; "
            f"{r['rounds']} rounds in {r['phase_seconds']} s"
        )
    r = report[to_crm]
    mode = report[f"{to_crm}_mode"]
    print(f"  {remote_name} -> {view} measured with {mode}", end="")
    if mode == "push":
        print(
            f" ({r['push_notifications']} change notifications answered 200 at "
            f"{r['webhook']}; polling every {r['poll_seconds']} s; notifications coalesced "
            f"for up to {report['push_coalesce_seconds']} s, which the latency includes)"
        )
    elif kind == "caldav":
        print(": the p95 is bounded by the polling interval")
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
    print(
        f"  initial push: {initial['http_requests']} requests for the whole first round, "
        f"{initial['http_writes']} of them writes (the push alone), "
        f"{initial['token_requests']} token; the rest is the round's first listing"
    )
    if initial[f"events_in_{kind}"] != report["meetings"]:
        print(
            f"WARNING: after the initial push {remote_name} holds "
            f"{initial[f'events_in_{kind}']} events for {report['meetings']} meetings"
        )
    for key in (to_remote, to_crm):
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
