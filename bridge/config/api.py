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
request_seconds = 30                          # every request answered within this (else
                                              # 503: a body sent too slowly is cut off)
standalone = false                            # true: `bridge api` serves this (and keeps the
                                              # push channels), `bridge serve` does not
admins = ["alice"]                            # htpasswd logins that may open /status and
                                              # /metrics (none: nobody may)

[[api.keys]]                                  # one per CRM (or script) using the REST API
name = "crm"                                  # shown in logs and as the origin api:crm
hash = "sha256:9f86d0...."                    # `bridge api new-key` prints a key and its hash
users = ["*"]                                 # "*": every user (and /status, /metrics);
                                              # else the logins the key may act for
```

A key is never in the file, only its hash: ``sha256:<64 hex digits>`` (the SHA-256 of
the key; keys are random 256-bit strings, so a plain digest is safe) or a bcrypt hash
(``$2b$...``, slower per request). ``bridge api hash-key`` reads a key on stdin and
prints its ``sha256:`` hash.

Push notifications need ``public_url``: Google POSTs to ``<public_url>/webhooks/google``
(Google only delivers to https addresses with a valid certificate). Without it the
bindings are synced by polling alone.
"""

from __future__ import annotations

import re
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

ALL_USERS = "*"


@dataclass(frozen=True)
class ApiKey:
    """One REST API key: its name, the hash of the key, the logins it may act for."""

    name: str
    hash: str
    users: tuple[str, ...]

    @property
    def all_users(self) -> bool:
        return ALL_USERS in self.users

    def covers(self, login: str) -> bool:
        return self.all_users or login in self.users


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
    #: Every request is answered within this many seconds, else 503 (a body sent too
    #: slowly holds its connection no longer); bridge.api.rest_common.api_errors.
    request_seconds: int = 30
    #: Served by `bridge api` (its own process) instead of inside `bridge serve`.
    standalone: bool = False
    #: Logins of the htpasswd file that may see /status and /metrics (bridge.api.login).
    admins: tuple[str, ...] = ()
    #: The REST API's keys (bridge.api.keys), by name.
    keys: tuple[ApiKey, ...] = ()

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


_SHA256 = re.compile(r"sha256:[0-9a-f]{64}")
_BCRYPT = re.compile(r"\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}")


def _key_hash(value: Any, key: str) -> str:
    value = _string(nonempty=True)(value, key)
    if _SHA256.fullmatch(value) or _BCRYPT.fullmatch(value):
        return value
    # the value is not echoed: it may be a key pasted where its hash belongs
    raise _Problem(
        key,
        "is neither 'sha256:<64 lower-case hex digits>' nor a bcrypt hash ('$2b$...'); "
        "make one with `bridge api hash-key` (never put the key itself here)",
    )


_KEY_FIELDS = {
    "name": _string(nonempty=True, pattern=r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", what="key name"),
    "hash": _key_hash,
    "users": _array_of(_string(nonempty=True)),
}


def _api_keys(value: Any, key: str) -> tuple[ApiKey, ...]:
    if not isinstance(value, list):
        raise _wrong_type("an array of tables ([[api.keys]])", value, key)
    found: list[ApiKey] = []
    for n, item in enumerate(value):
        where = f"{key}[{n}]"
        fields = table_values(item, where, _KEY_FIELDS)
        for name in ("name", "hash", "users"):
            if name not in fields:
                raise _Problem(f"{where}.{name}", "is required")
        users = fields["users"]
        if not users:
            raise _Problem(f"{where}.users", 'must name logins, or be ["*"] for every user')
        if ALL_USERS in users and len(users) > 1:
            raise _Problem(f"{where}.users", '"*" already means every user; list it alone')
        if any(k.name == fields["name"] for k in found):
            raise _Problem(f"{where}.name", f"{fields['name']!r} names another key already")
        if any(k.hash == fields["hash"] for k in found):
            raise _Problem(f"{where}.hash", "is the hash of another key: make one key per use")
        found.append(ApiKey(fields["name"], fields["hash"], tuple(users)))
    return tuple(found)


_KEYS = {
    "enabled": _boolean,
    "host": _string(nonempty=True),
    "port": _integer(0, 65535),
    "public_url": _public_url,
    "channel_ttl_seconds": _integer(600, 30 * 86400),
    "renew_before_seconds": _integer(60, 7 * 86400),
    "push_coalesce_seconds": _integer(0, 300),
    "request_seconds": _integer(1, 3600),
    "standalone": _boolean,
    "admins": _array_of(_string(nonempty=True)),
    "keys": _api_keys,
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


def check_key_users(settings: ApiSettings, logins: set[str]) -> None:
    """Every login an API key names is a configured user."""
    for n, key in enumerate(settings.keys):
        for login in key.users:
            if login != ALL_USERS and login not in logins:
                raise _Problem(f"api.keys[{n}].users", f"{login!r} is not a configured user")
