"""Typed settings loaded from a TOML file.

The file has three parts::

    [server]            # how Radicale listens and authenticates
    [store]             # where meetings live (SQLAlchemy URL) and index limits
    [api]               # the bridge's HTTP API: webhooks, health (bridge.config.api)
    [secrets]           # keys that encrypt stored credentials (bridge.config.secrets)
    [sync]              # sync workers' leases and heartbeats (bridge.config.sync)
    [worker]            # what `bridge worker` serves: /metrics (bridge.config.worker)
    [logging]           # log format (human or json) and level (bridge.config.logs)
    [invite]            # the Invite action: internal domains, templates (bridge.config.invite)
    [[users]]           # one table per CRM user (array of tables)

Every problem is reported as a :class:`ConfigError` naming the file, the dotted key
(``server.port``, ``users[2].can_see[0]`` - list indexes count from 0) and the reason.

Each section is described by a small declarative schema: a mapping from TOML key to a
:class:`_Key` (validator plus the dataclass attribute it fills). Defaults live on the
dataclasses themselves, and a dataclass field without a default makes the key required,
so adding a setting is one dataclass field plus one schema line.

Paths: ``server.htpasswd`` is resolved against the directory of the config file. The
store URL is passed to SQLAlchemy unchanged, so a relative SQLite path such as
``sqlite:///var/bridge.sqlite3`` is resolved by SQLite against the *current working
directory* of the process, not the config file's directory.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.config.api import ApiSettings, check_key_users, parse_api
from bridge.config.bindings import BindingSettings, bindings
from bridge.config.invite import InviteSettings, parse_invite
from bridge.config.logs import LoggingSettings, parse_logging
from bridge.config.secrets import SecretsSettings, parse_secrets
from bridge.config.sync import SyncSettings, parse_sync
from bridge.config.validators import (
    Validator,
    _array_of,
    _choice,
    _email,
    _integer,
    _Problem,
    _radicale_tables,
    _sqlalchemy_url,
    _string,
    _unknown_message,
    _wrong_type,
)
from bridge.config.worker import WorkerSettings, parse_worker

__all__ = [
    "ApiSettings",
    "ConfigError",
    "LoggingSettings",
    "SecretsSettings",
    "ServerSettings",
    "Settings",
    "StoreSettings",
    "SyncSettings",
    "UserSettings",
    "WorkerSettings",
    "load_config",
    "parse_config",
]


class ConfigError(Exception):
    """A configuration problem; ``str(e)`` is ``"<file>: <key>: <reason>"``."""

    def __init__(self, file: str, key: str, reason: str) -> None:
        super().__init__(f"{file}: {key}: {reason}")
        self.file = file
        self.key = key
        self.reason = reason


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 5232
    #: bcrypt htpasswd file (absolute once loaded); None only when ``auth == "none"``.
    htpasswd: Path | None = None
    #: "htpasswd" or "none" (no authentication - for local tests only).
    auth: str = "htpasswd"
    #: Radicale's ``max_content_length``: the largest request body accepted.
    max_body_bytes: int = 10_000_000
    #: The largest single calendar object accepted.
    max_resource_bytes: int = 1_000_000
    #: Where `bridge serve` and `bridge worker` write their pid files, which `bridge reload`
    #: reads (absolute once loaded; default: the config file's directory).
    run_dir: Path | None = None
    #: ``[server.radicale.<section>]`` tables passed to Radicale's config verbatim.
    radicale_extra: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class StoreSettings:
    #: SQLAlchemy URL. A relative sqlite path is relative to the current working directory.
    url: str = "sqlite:///var/bridge.sqlite3"
    change_retention_days: int = 30
    #: A recurrence is expanded into the time index at most this many times.
    max_occurrences: int = 5000
    #: Recurring series are expanded this far ahead for the time index.
    index_horizon_days: int = 1830


@dataclass(frozen=True)
class UserSettings:
    login: str
    email: str
    display_name: str = ""
    #: Logins whose meeting calendars this user sees read-only.
    can_see: tuple[str, ...] = ()
    #: Logins on whose behalf this user may book meetings (they organise, this user books).
    can_book_for: tuple[str, ...] = ()
    #: The user's own calendars that sync with the CRM (bridge.config.bindings).
    bindings: tuple[BindingSettings, ...] = ()


@dataclass(frozen=True)
class Settings:
    path: Path
    server: ServerSettings
    store: StoreSettings
    users: tuple[UserSettings, ...]
    api: ApiSettings = field(default_factory=ApiSettings)
    secrets: SecretsSettings = field(default_factory=SecretsSettings)
    sync: SyncSettings = field(default_factory=SyncSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    invite: InviteSettings = field(default_factory=InviteSettings)
    worker: WorkerSettings = field(default_factory=WorkerSettings)

    def user(self, login: str) -> UserSettings | None:
        """The configured user with this login, or None."""
        for user in self.users:
            if user.login == login:
                return user
        return None


# --------------------------------------------------------------------------- schema


@dataclass(frozen=True)
class _Key:
    check: Validator
    attr: str | None = None  # dataclass attribute, when it differs from the TOML key


_SERVER_KEYS: dict[str, _Key] = {
    "host": _Key(_string(nonempty=True)),
    "port": _Key(_integer(0, 65535)),
    "auth": _Key(_choice("htpasswd", "none")),
    "htpasswd": _Key(_string(nonempty=True)),
    "max_body_bytes": _Key(_integer(1024, 2**31 - 1)),
    "max_resource_bytes": _Key(_integer(1024, 2**31 - 1)),
    "radicale": _Key(_radicale_tables, attr="radicale_extra"),
    "run_dir": _Key(_string(nonempty=True)),
}

_STORE_KEYS: dict[str, _Key] = {
    "url": _Key(_sqlalchemy_url),
    "change_retention_days": _Key(_integer(1, 3650)),
    "max_occurrences": _Key(_integer(1, 100_000)),
    "index_horizon_days": _Key(_integer(30, 36_500)),
}

_LOGIN_PATTERN = r"[a-z0-9][a-z0-9._-]{0,63}"

_USER_KEYS: dict[str, _Key] = {
    "login": _Key(_string(pattern=_LOGIN_PATTERN, what="login")),
    "email": _Key(_email),
    "display_name": _Key(_string()),
    "can_see": _Key(_array_of(_string(pattern=_LOGIN_PATTERN, what="login"))),
    "can_book_for": _Key(_array_of(_string(pattern=_LOGIN_PATTERN, what="login"))),
    "bindings": _Key(bindings),
}

_TOP_KEYS = ("server", "store", "api", "secrets", "sync", "logging", "invite", "worker", "users")


def _read_table(data: Any, keys: Mapping[str, _Key], cls: type[Any], prefix: str) -> dict[str, Any]:
    """Validate one TOML table against a schema; returns constructor kwargs for ``cls``.

    Keys absent from the table are left out, so the dataclass default applies; a
    dataclass field without a default makes its key required.
    """
    if not isinstance(data, dict):
        raise _wrong_type("a table", data, prefix)
    known = list(keys)
    for name in data:
        if name not in keys:
            raise _Problem(f"{prefix}.{name}", _unknown_message("key", name, known))
    kwargs: dict[str, Any] = {}
    for name, spec in keys.items():
        if name in data:
            kwargs[spec.attr or name] = spec.check(data[name], f"{prefix}.{name}")
    for f in dataclasses.fields(cls):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if required and f.name not in kwargs:
            toml_name = next((n for n, s in keys.items() if (s.attr or n) == f.name), f.name)
            raise _Problem(f"{prefix}.{toml_name}", "missing required key")
    return kwargs


# --------------------------------------------------------------------------- sections


def _parse_server(data: Any, base_dir: Path) -> ServerSettings:
    kw = _read_table(data, _SERVER_KEYS, ServerSettings, "server")
    auth = kw.get("auth", "htpasswd")
    if auth == "none":
        if "htpasswd" in kw:
            raise _Problem("server.htpasswd", "must not be set when server.auth = 'none'")
    else:
        if "htpasswd" not in kw:
            raise _Problem(
                "server.htpasswd",
                "missing required key (path to a bcrypt htpasswd file; "
                "set server.auth = 'none' to disable authentication)",
            )
        path = Path(kw["htpasswd"]).expanduser()
        if not path.is_absolute():
            path = base_dir / path
        if not path.is_file():
            raise _Problem("server.htpasswd", f"htpasswd file not found: {path}")
        kw["htpasswd"] = path
    if "run_dir" in kw:
        run_dir = Path(kw["run_dir"]).expanduser()
        kw["run_dir"] = run_dir if run_dir.is_absolute() else base_dir / run_dir
    body = kw.get("max_body_bytes", ServerSettings.max_body_bytes)
    resource = kw.get("max_resource_bytes", ServerSettings.max_resource_bytes)
    if resource > body:
        raise _Problem(
            "server.max_resource_bytes",
            f"must not exceed server.max_body_bytes ({body}), got {resource}",
        )
    return ServerSettings(**kw)


def _parse_users(data: Any) -> tuple[UserSettings, ...]:
    if not isinstance(data, list):
        raise _wrong_type("an array of tables ([[users]])", data, "users")
    users = []
    for i, entry in enumerate(data):
        kw = _read_table(entry, _USER_KEYS, UserSettings, f"users[{i}]")
        if not kw.get("display_name", "").strip():
            kw["display_name"] = kw["login"]
        users.append(UserSettings(**kw))

    by_login: dict[str, int] = {}
    by_email: dict[str, int] = {}
    for i, user in enumerate(users):
        if user.login in by_login:
            first = by_login[user.login]
            raise _Problem(
                f"users[{i}].login", f"duplicate login {user.login!r} (also users[{first}])"
            )
        by_login[user.login] = i
        folded = user.email.casefold()
        if folded in by_email:
            first = by_email[folded]
            raise _Problem(
                f"users[{i}].email", f"duplicate email {user.email!r} (also users[{first}])"
            )
        by_email[folded] = i

    for i, user in enumerate(users):
        _check_logins(user.login, user.can_see, f"users[{i}].can_see", by_login)
        _check_logins(user.login, user.can_book_for, f"users[{i}].can_book_for", by_login)
    return tuple(users)


def _check_logins(
    login: str, others: tuple[str, ...], prefix: str, by_login: Mapping[str, int]
) -> None:
    """A list of other users' logins: known, not the user itself, each once."""
    seen: set[str] = set()
    for j, other in enumerate(others):
        key = f"{prefix}[{j}]"
        if other == login:
            raise _Problem(key, f"a user cannot list itself ({other!r})")
        if other not in by_login:
            raise _Problem(key, _unknown_message("user", other, list(by_login)))
        if other in seen:
            raise _Problem(key, f"{other!r} is listed twice")
        seen.add(other)


# --------------------------------------------------------------------------- entry points


def parse_config(data: Mapping[str, Any], *, file: str, base_dir: Path) -> Settings:
    """Build :class:`Settings` from already-parsed TOML data.

    ``file`` is only used in error messages and as ``Settings.path``; relative paths in
    the data (``server.htpasswd``, ``secrets.key_file``) are resolved against ``base_dir``.
    """
    try:
        for name in data:
            if name not in _TOP_KEYS:
                raise _Problem(name, _unknown_message("key", name, _TOP_KEYS))
        server = _parse_server(data.get("server", {}), Path(base_dir))
        store = StoreSettings(
            **_read_table(data.get("store", {}), _STORE_KEYS, StoreSettings, "store")
        )
        api = parse_api(data.get("api", {}))
        secrets = parse_secrets(data.get("secrets", {}), Path(base_dir), store.url)
        sync = parse_sync(data.get("sync", {}))
        logs = parse_logging(data.get("logging", {}))
        invite = parse_invite(data.get("invite", {}), Path(base_dir))
        worker = parse_worker(data.get("worker", {}))
        users = _parse_users(data.get("users", []))
        check_key_users(api, {u.login for u in users})
    except _Problem as problem:
        raise ConfigError(file, problem.key, problem.reason) from None
    return Settings(
        path=Path(file),
        server=server,
        store=store,
        users=users,
        api=api,
        secrets=secrets,
        sync=sync,
        logging=logs,
        invite=invite,
        worker=worker,
    )


_TOML_POSITION = re.compile(r"\s*\(at (line \d+, column \d+|end of document)\)$")


def load_config(path: str | Path) -> Settings:
    """Read and validate a TOML config file; raises :class:`ConfigError` on any problem."""
    path = Path(path)
    file = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(file, "(file)", "config file not found") from None
    except OSError as exc:
        raise ConfigError(file, "(file)", f"cannot read config file: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(file, "(file)", f"not UTF-8 text: {exc.reason}") from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_POSITION.search(message)
        where = match.group(1) if match else "(file)"
        reason = message[: match.start()] if match else message
        raise ConfigError(file, where, f"TOML syntax error: {reason}") from None
    resolved = path.resolve()
    settings = parse_config(data, file=file, base_dir=resolved.parent)
    return dataclasses.replace(settings, path=resolved)
