"""The `[sync]` table of the config file: how sync workers hold their bindings.

```toml
[sync]
heartbeat_seconds = 5     # a worker renews the lease of the binding it runs this often
lease_seconds = 15        # a lease without a heartbeat for this long is taken over
poll_seconds = 60         # a binding is synced at least this often (push or a local change
                          # makes it due sooner; a kind without push, like caldav, polls)
```

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


_KEYS = {
    "heartbeat_seconds": _integer(1, 300),
    "lease_seconds": _integer(2, 3600),
    "poll_seconds": _integer(5, 86400),
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
