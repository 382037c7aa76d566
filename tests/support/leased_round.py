"""Run one sync round the way a worker does - under the binding's lease, with heartbeats -
and stop it at an injected point.

    BRIDGE_SECRET_KEY=KEY python -m tests.support.leased_round DB_URL BINDING_ID METHOD NTH MODE

MODE ``kill``: right after the backend's NTH call of METHOD returns, the process SIGKILLs
itself (the lease stays in the store, its holder gone). MODE ``hold``: before the NTH call
it prints "holding" and waits until its stdin closes, then finishes the round and prints
"done"; meanwhile its heartbeat keeps the lease alive.
"""

from __future__ import annotations

import sys
from typing import Any

from bridge.secret_box import Keyring
from bridge.secret_keys import keys_from_env
from bridge.store import Store
from bridge.sync.rules import SyncRules
from bridge.sync.scheduler import Scheduler, Timing
from bridge.wiring import BackendMaker
from tests.support.crash_round import AtCall, kill_after


def _hold() -> None:
    print("holding", flush=True)
    sys.stdin.read()  # until the test closes our stdin


def hold_at(backend: Any, method: str, nth: int) -> AtCall:
    """Wait before the NTH call of ``method`` until the test closes our stdin."""
    return AtCall(backend, method, nth, _hold, before=True)


def main() -> None:
    url, binding_id, method, nth, mode = sys.argv[1:6]
    store = Store(url)
    factory = BackendMaker(Keyring(keys_from_env("BRIDGE_SECRET_KEY")))
    wrap = kill_after if mode == "kill" else hold_at

    def backend_for(row: Any) -> Any:
        return wrap(factory(row), method, int(nth))

    scheduler = Scheduler(
        store,
        backend_for,
        lambda row: SyncRules(),
        timing=Timing(heartbeat_seconds=0.2, lease_seconds=0.6 if mode == "hold" else 15),
    )
    report = scheduler.run_binding(int(binding_id))
    if report is None:
        print("lease held by another worker", flush=True)
        sys.exit(4)
    print(f"done: pulled {report.pulled}, pushed {report.pushed}", flush=True)
    sys.exit(3 if mode == "kill" else 0)  # kill: the kill point was never reached


if __name__ == "__main__":
    main()
