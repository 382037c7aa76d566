"""The `[worker] table of the config file: what a `bridge worker` process serves besides
its sync rounds.

```toml
[worker]
metrics_listen = "127.0.0.1:9465"   # serve /metrics here ("" or absent: no listener)
```

Off by default: a worker opened no port before this key existed, and several workers on
one host would fight over one fixed port (`bridge worker --metrics-listen HOST:PORT`
gives each its own; docker/compose.yaml sets it per container through
``BRIDGE_METRICS_LISTEN``). ``HOST:PORT`` with a port 1-65535 (0: any free port, logged),
an IPv6 host in brackets (``[::1]:9465``). The endpoint is behind the same gate as
`bridge serve`'s /metrics (``[api] admins`` over the htpasswd login, or an admin API key).
Read at start: a reload keeps the listener the process started with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridge.config.validators import _Problem, _wrong_type, table_values


@dataclass(frozen=True)
class Listen:
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class WorkerSettings:
    #: Where the worker serves /metrics, or None for nowhere.
    metrics_listen: Listen | None = None


def parse_listen(value: Any, key: str) -> Listen | None:
    """``"HOST:PORT"`` (IPv6 hosts in brackets) or ``""``/``"off"`` for none."""
    if not isinstance(value, str):
        raise _wrong_type('a string "HOST:PORT"', value, key)
    text = value.strip()
    if text in ("", "off"):
        return None
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise _Problem(key, f'expected "HOST:PORT" (e.g. "127.0.0.1:9465"), got {value!r}')
    if host.startswith("["):
        if not host.endswith("]") or len(host) < 3:
            raise _Problem(key, f"an IPv6 host needs both brackets, got {host!r}")
        host = host[1:-1]
    elif ":" in host:
        raise _Problem(key, f'put an IPv6 host in brackets ("[{host}]:PORT"), got {value!r}')
    if any(c.isspace() or c in "/@?#[]" for c in host):
        raise _Problem(key, f"not a host name or address: {host!r}")
    if not (port_text.isascii() and port_text.isdigit()) or len(port_text) > 5:
        raise _Problem(key, f"the port must be a number 0-65535, got {port_text!r}")
    port = int(port_text)
    if port > 65535:
        raise _Problem(key, f"the port must be a number 0-65535, got {port}")
    return Listen(host, port)


_KEYS = {"metrics_listen": parse_listen}


def parse_worker(data: Any) -> WorkerSettings:
    """Validate the ``[worker]`` table (absent: no metrics listener)."""
    return WorkerSettings(**table_values(data, "worker", _KEYS))
