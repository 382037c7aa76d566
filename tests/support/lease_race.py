"""One contender in a race for a binding's lease, in its own process.

    python -m tests.support.lease_race DB_URL BINDING_ID

Prints "ready", waits for a line on stdin (the start signal, sent to every contender at
once), tries once to take the lease the way a worker does (``Scheduler.acquire``: it also
takes over a holder seen dead) and prints "won" or "lost". It never releases the lease.
"""

from __future__ import annotations

import sys

from bridge.store import Store
from bridge.sync.rules import SyncRules
from bridge.sync.scheduler import Scheduler, Timing


def main() -> None:
    store = Store(sys.argv[1], migrate=False)
    binding_id = int(sys.argv[2])
    scheduler = Scheduler(store, lambda row: None, lambda row: SyncRules(), timing=Timing())
    print("ready", flush=True)
    sys.stdin.readline()
    print("won" if scheduler.acquire(binding_id) else "lost", flush=True)


if __name__ == "__main__":
    main()
