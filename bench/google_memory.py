"""Memory per kept Google backend: ``python -m bench.google_memory [--counts 1 100 1000]``.

For each count N a fresh Python process makes N GoogleBackends (one per user, as the
scheduler's pool keeps one per binding) and has each one run ``check()`` (a token refresh
and calendars.get against the Google emulator), keeps them all, and reports how much its
resident set (VmRSS) and the Python heap (tracemalloc) grew over the same process before the
first backend, in total and per backend. The emulator runs in a process of its own, so its
memory is not counted. Nothing is asserted; figures go to stdout (and ``--json FILE``).
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
import tracemalloc
from typing import Any

EMULATOR = """
import json, sys
from tests.emulators.google_calendar import GoogleEmulator
google = GoogleEmulator().start()
users = [google.add_user(f"m{i:05d}@example.com") for i in range(int(sys.argv[1]))]
print(json.dumps({"api_endpoint": google.api_endpoint, "token_uri": google.token_uri,
                  "users": [[u.email, u.refresh_token] for u in users]}), flush=True)
sys.stdin.read()
google.stop()
"""


def rss_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def measure(count: int, emulator: dict[str, Any]) -> dict[str, Any]:
    """In this process: N backends made and checked; growth of RSS and traced heap."""
    from bridge.backends.google import http as google_http
    from bridge.backends.google.backend import GoogleBackend

    def backend(email: str, refresh: str) -> GoogleBackend:
        settings = google_http.GoogleSettings(
            calendar_id=email,
            api_endpoint=emulator["api_endpoint"],
            token_uri=emulator["token_uri"],
        )
        creds = google_http.user_credentials(refresh, "client-id", "secret", settings.token_uri)
        return GoogleBackend(creds, settings)

    users = emulator["users"]
    gc.collect()
    rss_before = rss_kb()
    tracemalloc.start()
    started = time.perf_counter()
    kept = []
    problems = 0
    for email, refresh in users[:count]:
        made = backend(email, refresh)
        problems += made.check() is not None
        kept.append(made)
    seconds = time.perf_counter() - started
    gc.collect()
    traced, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_growth = (rss_kb() - rss_before) * 1024
    for made in kept:
        made.close()
    return {
        "backends": count,
        "check_failures": problems,
        "seconds": round(seconds, 2),
        "rss_growth_mb": round(rss_growth / 1e6, 1),
        "rss_per_backend_kb": round(rss_growth / 1e3 / count, 1),
        "heap_growth_mb": round(traced / 1e6, 1),
        "heap_per_backend_kb": round(traced / 1e3 / count, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.google_memory", description=__doc__)
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:  # one measurement, the emulator's address on stdin
        print(json.dumps(measure(args.child, json.loads(sys.stdin.readline()))))
        return 0
    emulator = subprocess.Popen(
        [sys.executable, "-c", EMULATOR, str(max(args.counts))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert emulator.stdin is not None and emulator.stdout is not None
    address = emulator.stdout.readline()
    rows = []
    try:
        for count in args.counts:
            child = subprocess.run(
                [sys.executable, "-m", "bench.google_memory", "--child", str(count)],
                input=address,
                capture_output=True,
                text=True,
                check=True,
            )
            rows.append(json.loads(child.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
    finally:
        emulator.stdin.close()
        emulator.wait(timeout=30)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(rows, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
