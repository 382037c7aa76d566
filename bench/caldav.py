"""CalDAV benchmark: the bridge (Radicale + SQL storage plugin) against stock Radicale.

    python -m bench.caldav --events N --json FILE [--repeat R]

Both servers run in this process as WSGI apps called directly (no sockets), get the same
N events, and answer the same requests; each operation's figure is the median of R
timed repeats after one warm-up. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from bench import data, ops, servers

# At N = 10000: minimum radicale_ms / bridge_ms per operation.
RATIO_TARGETS = {
    "calendar_query_month": 20.0,
    "sync_collection_incremental": 50.0,
    "put": 10.0,
    "propfind_depth1": 10.0,
    "sync_collection_initial": 10.0,
    "multiget_100": 10.0,
}
QUERY_VS_OPTIONS_MAX = 3.0
#: At N = 10000: the bridge's calendar_query_month per object it lists, at most (µs).
QUERY_US_PER_OBJECT_MAX = 15.0
TARGET_EVENTS = 10_000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.caldav", description=__doc__.split("\n")[1])
    p.add_argument("--events", type=int, default=500, help="events in the calendar (N)")
    p.add_argument("--json", type=Path, required=True, help="write the results here")
    p.add_argument("--repeat", type=int, default=5, help="timed repeats per operation (>= 3)")
    p.add_argument("--seed", type=int, default=20240601, help="seed of the event generator")
    p.add_argument(
        "--anchor",
        type=dt.date.fromisoformat,
        default=None,
        help="middle of the two-year span, YYYY-MM-DD (default: today, UTC)",
    )
    p.add_argument(
        "--radicale-load",
        choices=("auto", "put", "whole"),
        default="auto",
        help="load stock Radicale by one PUT per event or one PUT of the whole "
        "calendar (auto: whole above 1000 events; Radicale's per-PUT UID "
        "check makes N PUTs quadratic)",
    )
    p.add_argument(
        "--bridge-side",
        choices=("bridge", "radicale"),
        default="bridge",
        help="'radicale' puts a second stock Radicale on the bridge side "
        "(checks the harness itself)",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = p.parse_args(argv)
    if args.repeat < 3:
        p.error("--repeat must be at least 3")
    if args.events < 100:
        p.error("--events must be at least 100 (multiget_100 needs 100 objects)")
    return args


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}"


def load(sides: dict[str, ops.Side], how: str, events: list[data.Event]) -> dict[str, dict]:
    info = {}
    for key, side in sides.items():
        client = side.client
        stock = key == "radicale" or client.name.startswith("bridge(stock")
        servers.ensure_calendar(client, create=stock)
        whole = stock and (how == "whole" or (how == "auto" and len(events) > 1000))
        print(
            f"loading {len(events)} events into {client.name} "
            f"({'one PUT of the whole calendar' if whole else 'one PUT per event'}) ...",
            flush=True,
        )
        seconds = (
            servers.load_whole(client, events)
            if whole
            else servers.load_by_put(client, events, progress=True)
        )
        side.item_count = len(events)
        info[key] = {
            "method": "whole-calendar PUT" if whole else "PUT per event",
            "seconds": round(seconds, 2),
        }
        print(f"  done in {seconds:.1f} s", flush=True)
    return info


def targets(
    results: dict[str, dict], query_vs_options: float, n: int, query_us_per_object: float
) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for op, minimum in RATIO_TARGETS.items():
        ratio = results[op]["ratio"]
        out[op] = {"ratio_min": minimum, "ratio": ratio, "met": ratio >= minimum}
    out["query_vs_options"] = {
        "max": QUERY_VS_OPTIONS_MAX,
        "value": query_vs_options,
        "met": query_vs_options <= QUERY_VS_OPTIONS_MAX,
    }
    out["calendar_query_month_us_per_object"] = {
        "max": QUERY_US_PER_OBJECT_MAX,
        "value": query_us_per_object,
        "met": query_us_per_object <= QUERY_US_PER_OBJECT_MAX,
    }
    for entry in out.values():
        entry["applies"] = n == TARGET_EVENTS
    return out


def print_table(results: dict[str, dict]) -> None:
    print(f"\n{'operation':<30}{'bridge_ms':>12}{'radicale_ms':>13}{'ratio':>9}")
    for op, r in results.items():
        print(f"{op:<30}{r['bridge_ms']:>12.2f}{r['radicale_ms']:>13.2f}{r['ratio']:>9.1f}")


def run(args: argparse.Namespace) -> dict:
    anchor = args.anchor or dt.datetime.now(dt.UTC).date()
    events = data.generate(args.events, seed=args.seed, anchor=anchor)
    tmp = Path(tempfile.mkdtemp(prefix="bench-caldav-"))
    print(f"temporary directory: {tmp}")
    if args.bridge_side == "bridge":
        make_bridge = servers.bridge
    else:
        make_bridge = servers.stock_as_bridge_stand_in
    (tmp / "bridge").mkdir()
    (tmp / "radicale").mkdir()
    sides = {
        "bridge": ops.Side(make_bridge(tmp / "bridge"), events, anchor),
        "radicale": ops.Side(servers.stock_radicale(tmp / "radicale"), events, anchor),
    }
    loading = load(sides, args.radicale_load, events)

    results: dict[str, dict] = {}
    for op in ops.RUN_ORDER:
        timings = {}
        for key, side in sides.items():
            timings[key] = ops.measure(ops.OPERATIONS[op], side, args.repeat)
        results[op] = {
            "bridge_ms": round(timings["bridge"], 3),
            "radicale_ms": round(timings["radicale"], 3),
            "ratio": round(timings["radicale"] / timings["bridge"], 2),
        }
        print(
            f"  {op}: bridge {timings['bridge']:.2f} ms, radicale {timings['radicale']:.2f} ms",
            flush=True,
        )
        if op == "calendar_query_month":
            problems = ops.query_difference(sides["bridge"], sides["radicale"])
            found = len(sides["radicale"].last_query.entries)
            start, end = ops.month_window(anchor)
            print(
                f"  month {start}..{end}: radicale found {found} objects, bridge "
                f"{len(sides['bridge'].last_query.entries)}",
                flush=True,
            )
            for problem in problems:
                print(f"WARNING: calendar_query_month answers differ: {problem}", file=sys.stderr)
            query_check = {
                "window": [start, end],
                "radicale_found": found,
                "bridge_found": len(sides["bridge"].last_query.entries),
                "agree": not problems,
                "differences": problems,
            }

    ordered = {op: results[op] for op in ops.OPERATIONS}
    query_vs_options = round(
        results["calendar_query_month"]["bridge_ms"] / results["options"]["bridge_ms"], 2
    )
    listed = max(query_check["bridge_found"], 1)
    query_us_per_object = round(results["calendar_query_month"]["bridge_ms"] * 1000 / listed, 2)
    report = {
        "events": args.events,
        "repeat": args.repeat,
        "operations": ordered,
        "query_vs_options": query_vs_options,
        "calendar_query_month_us_per_object": query_us_per_object,
        "targets": targets(ordered, query_vs_options, args.events, query_us_per_object),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "python": platform.python_version(),
        "seed": args.seed,
        "anchor": anchor.isoformat(),
        "bridge_side": args.bridge_side,
        "load": loading,
        "calendar_query_check": query_check,
    }
    if not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    begin = time.perf_counter()
    report = run(args)
    print_table(report["operations"])
    print(f"\nbridge calendar_query_month / bridge options = {report['query_vs_options']}")
    per_object = report["calendar_query_month_us_per_object"]
    print(f"bridge calendar_query_month per listed object = {per_object} µs")
    note = "" if args.events == TARGET_EVENTS else f" (targets are set for N={TARGET_EVENTS})"
    print(f"targets{note}:")
    for name, t in report["targets"].items():
        want = f">= {t['ratio_min']}" if "ratio_min" in t else f"<= {t['max']}"
        got = t.get("ratio", t.get("value"))
        print(f"  {name:<30} {got:>8} (want {want}): {'met' if t['met'] else 'NOT met'}")
    if not report["calendar_query_check"]["agree"]:
        print("WARNING: the servers disagree on calendar_query_month (see above)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.json} ({time.perf_counter() - begin:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
