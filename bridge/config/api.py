"""The `[api]` table of the config file: the bridge's own HTTP server (bridge.api).

```toml
[api]
enabled = true                                # serve webhooks and /health beside CalDAV
host = "127.0.0.1"                            # where it listens (0.0.0.0: everywhere)
port = 5233                                   # 0: a free port
public_url = "https://bridge.example.com"     # how Google reaches it; "" = no push
channel_ttl_seconds = 86400                   # lifetime asked for each push channel
renew_before_seconds = 3600                   # renew a channel this long before it ends
push_coalesce_seconds = 2                     # a notification makes its round start within
                                              # this; notifications meanwhile join that round
admins = ["alice"]                            # htpasswd logins that may open /status and
                                              # /metrics (none: nobody may)
```

Push notifications need ``public_url``: Google POSTs to ``<public_url>/webhooks/google``
(Google only delivers to https addresses with a valid certificate). Without it the
bindings are synced by polling alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bridge.config.validators import (
    _array_of,
    _integer,
    _Problem,
    _string,
    _wrong_type,
    table_values,
)


@dataclass(frozen=True)
class ApiSettings:
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 5233
    #: The address the outside world reaches the API at ("" = no push channels).
    public_url: str = ""
    channel_ttl_seconds: int = 86400
    renew_before_seconds: int = 3600
    #: A push notification makes its binding due this many seconds later at the latest;
    #: the notifications that arrive meanwhile (or during a round) coalesce into one round.
    push_coalesce_seconds: int = 2
    #: Logins of the htpasswd file that may see /status and /metrics (bridge.api.login).
    admins: tuple[str, ...] = ()

    @property
    def push_base_url(self) -> str:
        """The base push services call (``/webhooks/<kind>`` is added), or "" when push
        is off."""
        if not self.enabled or not self.public_url:
            return ""
        return self.public_url.rstrip("/")


def _boolean(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise _wrong_type("a boolean (true or false)", value, key)
    return value


def _public_url(value: Any, key: str) -> str:
    value = _string()(value, key)
    if not value:
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _Problem(key, f"{value!r} is not an http(s) URL ('https://host[:port][/path]')")
    if parts.query or parts.fragment:
        raise _Problem(key, f"{value!r} must not have a query or fragment")
    return value


_KEYS = {
    "enabled": _boolean,
    "host": _string(nonempty=True),
    "port": _integer(0, 65535),
    "public_url": _public_url,
    "channel_ttl_seconds": _integer(600, 30 * 86400),
    "renew_before_seconds": _integer(60, 7 * 86400),
    "push_coalesce_seconds": _integer(0, 300),
    "admins": _array_of(_string(nonempty=True)),
}


def parse_api(data: Any) -> ApiSettings:
    """Validate the ``[api]`` table (absent: the defaults, API off)."""
    values = table_values(data, "api", _KEYS)
    settings = ApiSettings(**values)
    if settings.renew_before_seconds >= settings.channel_ttl_seconds:
        raise _Problem(
            "api.renew_before_seconds",
            f"must be less than api.channel_ttl_seconds ({settings.channel_ttl_seconds}), "
            f"got {settings.renew_before_seconds}",
        )
    if settings.public_url and not settings.enabled:
        raise _Problem("api.public_url", "needs api.enabled = true (the webhook is served there)")
    return settings
