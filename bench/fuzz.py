"""The long fuzz run: the CI campaign (tests/fuzz/) with many more cases.

    python -m bench.fuzz [--cases 10000] [--db sqlite|mysql] [--seed N] [--keep]

Same strategies and checks as tests/fuzz/test_campaign.py (both use tests/fuzz/campaign.py)
against a live `bridge serve` on a fresh SQLite file or MariaDB database
(BRIDGE_TEST_MYSQL_URL, default root@127.0.0.1:3306). Prints cases sent per kind with their
status codes, the status code histogram, max and p95 latency, and every failure. Exits 1
when there was a failure. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings

from tests.fuzz.campaign import Campaign, running
from tests.fuzz.cases import Case, cases
from tests.support.databases import database


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__.split("\n")[1])
    p.add_argument("--cases", type=int, default=10_000, help="cases to send")
    p.add_argument("--db", choices=("sqlite", "mysql"), default="sqlite", help="the store")
    p.add_argument(
        "--seed", type=int, default=None, help="random seed (default: derandomized, as in CI)"
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (log)")
    args = p.parse_args(argv)
    if args.cases < 1:
        p.error("--cases must be at least 1")
    return args


def send_all(campaign: Campaign, count: int, random_seed: int | None) -> None:
    @settings(
        max_examples=count,
        deadline=None,
        derandomize=random_seed is None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(cases())
    def one(case: Case) -> None:
        campaign.run(case)

    if random_seed is not None:
        one = seed(random_seed)(one)
    one()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-fuzz-"))
    print(f"temporary directory: {tmp}", flush=True)
    started = time.monotonic()
    try:
        with database(args.db, tmp) as url, running(url, tmp) as campaign:
            send_all(campaign, args.cases, args.seed)
            campaign.run_regressions()
            campaign.finish()
            print(f"{args.db}: {time.monotonic() - started:.0f} s in all")
            print(campaign.report())
            return 1 if campaign.failures else 0
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
