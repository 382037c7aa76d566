"""`bridge db wait`: wait until the store answers (and, with --head, its schema is at the
newest revision). Containers run it before their role; it never changes the database."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any


def cmd_db_wait(args: argparse.Namespace) -> int:
    from bridge.config import load_config
    from bridge.store.engine import make_engine
    from bridge.store.readiness import head, problem, reachable

    settings = load_config(args.config)
    engine = make_engine(settings.store.url)
    check = problem if args.head else reachable
    deadline = time.monotonic() + args.timeout
    told = ""
    try:
        while True:
            reason = check(engine)
            if reason is None:
                what = f"at revision {head()}" if args.head else "answering"
                print(f"database {what}", flush=True)
                return 0
            if time.monotonic() >= deadline:
                print(f"bridge: gave up after {args.timeout:g} s: {reason}", file=sys.stderr)
                return 1
            if reason != told:
                print(f"waiting: {reason}", file=sys.stderr, flush=True)
                told = reason
            time.sleep(min(args.interval, max(0.0, deadline - time.monotonic())))
    finally:
        engine.dispose()


def add_commands(db_commands: Any, common: argparse.ArgumentParser) -> None:
    wait = db_commands.add_parser(
        "wait", parents=[common], help="wait until the database answers (a container's first step)"
    )
    wait.add_argument("--timeout", type=float, default=60.0, help="seconds to wait (default 60)")
    wait.add_argument("--interval", type=float, default=1.0, help="seconds between tries")
    wait.add_argument(
        "--head",
        action="store_true",
        help="also wait until the schema is at the newest revision (`bridge db upgrade` ran)",
    )
    wait.set_defaults(func=cmd_db_wait)
