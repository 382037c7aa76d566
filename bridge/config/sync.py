"""The `[sync]` table of the config file: how sync workers hold their bindings.

```toml
[sync]
heartbeat_seconds = 5     # a worker renews the lease of the binding it runs this often
lease_seconds = 15        # a lease without a heartbeat for this long is taken over
poll_seconds = 60         # a binding is synced at least this often (push or a local change
                          # makes it due sooner; a kind without push, like caldav, polls)
rounds_at_once = 4        # rounds this process runs at the same time (threads)
rounds_per_account = 4    # rounds at once against one remote account, in all processes
pass_size = 100           # due bindings a pass takes at most, longest waiting first
```

A remote account is what the service counts its limits against: a Google user (a service
account's ``subject``), a Graph tenant and app (``tenant``, ``client_id``), an Exchange
server and sign-in (``url``, ``username``), a CalDAV server and ``username``. Graph allows
4 concurrent requests per mailbox and app, Exchange's default throttling policy a few
more, so the default of 4 keeps one account's bindings inside what the service accepts
while other accounts' rounds go on. A binding without one (a Google binding signed in
with OAuth) is an account of its own.

A worker that dies on another host is replaced after ``lease_seconds``; one that dies
on the same host (same pid namespace) at once. ``lease_seconds`` must allow at least two
heartbeats, so one slow database write does not lose a lease.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridge.config.validators import _integer, _Problem, table_values


@dataclass(frozen=True)
class SyncSettings:
    heartbeat_seconds: int = 5
    lease_seconds: int = 15
    poll_seconds: int = 60
    rounds_at_once: int = 4
    rounds_per_account: int = 4
    pass_size: int = 100


_KEYS = {
    "heartbeat_seconds": _integer(1, 300),
    "lease_seconds": _integer(2, 3600),
    "poll_seconds": _integer(5, 86400),
    "rounds_at_once": _integer(1, 64),
    "rounds_per_account": _integer(1, 64),
    "pass_size": _integer(1, 10000),
}


def parse_sync(data: Any) -> SyncSettings:
    """Validate the ``[sync]`` table (absent: the defaults)."""
    values = table_values(data, "sync", _KEYS)
    settings = SyncSettings(**values)
    if settings.lease_seconds < 2 * settings.heartbeat_seconds:
        raise _Problem(
            "sync.lease_seconds",
            f"must be at least twice sync.heartbeat_seconds ({settings.heartbeat_seconds}), "
            f"got {settings.lease_seconds}",
        )
    return settings
