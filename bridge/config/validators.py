"""Validators for bridge.config: each turns a raw TOML value into a typed one or raises
``Problem`` naming the dotted key and the reason (the loader adds the file name)."""

from __future__ import annotations

import datetime
import difflib
import re
from collections.abc import Callable, Mapping
from typing import Any


class _Problem(Exception):
    """Raised by validators; turned into a ConfigError once the file name is known."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(key, reason)
        self.key = key
        self.reason = reason


Validator = Callable[[Any, str], Any]  # (raw value, dotted key) -> converted value


_TOML_TYPE_NAMES = (  # checked in order: bool before int, datetime before date
    (bool, "boolean"),
    (int, "integer"),
    (float, "float"),
    (str, "string"),
    (list, "array"),
    (dict, "table"),
    (datetime.datetime, "datetime"),
    (datetime.date, "date"),
    (datetime.time, "time"),
)


def _describe(value: Any) -> str:
    """How a TOML value is named in messages: ``string '5232'``, ``boolean true`` ..."""
    name = next((n for t, n in _TOML_TYPE_NAMES if isinstance(value, t)), type(value).__name__)
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, datetime.date | datetime.time):
        return f"{name} {value.isoformat()}"
    return name if isinstance(value, list | dict) else f"{name} {value}"


def _wrong_type(expected: str, value: Any, key: str) -> _Problem:
    return _Problem(key, f"expected {expected}, got {_describe(value)}")


def _integer(lo: int, hi: int) -> Validator:
    def check(value: Any, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _wrong_type("an integer", value, key)
        if not lo <= value <= hi:
            raise _Problem(key, f"must be between {lo} and {hi}, got {value}")
        return value

    return check


def _string(*, nonempty: bool = False, pattern: str | None = None, what: str = "") -> Validator:
    regex = re.compile(pattern) if pattern else None

    def check(value: Any, key: str) -> str:
        if not isinstance(value, str):
            raise _wrong_type("a string", value, key)
        if nonempty and not value.strip():
            raise _Problem(key, "must not be empty")
        if regex is not None and not regex.fullmatch(value):
            raise _Problem(key, f"{value!r} is not a valid {what or 'value'} ({pattern})")
        return value

    return check


def _choice(*choices: str) -> Validator:
    as_string = _string()

    def check(value: Any, key: str) -> str:
        value = as_string(value, key)
        if value not in choices:
            options = ", ".join(repr(c) for c in choices)
            raise _Problem(key, f"must be one of {options}, got {value!r}")
        return value

    return check


def _array_of(item: Validator) -> Validator:
    def check(value: Any, key: str) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise _wrong_type("an array", value, key)
        return tuple(item(v, f"{key}[{i}]") for i, v in enumerate(value))

    return check


def _email(value: Any, key: str) -> str:
    value = _string(nonempty=True)(value, key)
    local, at, domain = value.partition("@")
    if not at or "@" in domain or not local or not domain or value != value.strip():
        raise _Problem(key, f"{value!r} is not an e-mail address (need exactly one '@')")
    return value


_ACCEPTED_DRIVERS = {("sqlite", "pysqlite"), ("mysql", "pymysql")}


def _sqlalchemy_url(value: Any, key: str) -> str:
    value = _string(nonempty=True)(value, key)
    from sqlalchemy.engine import make_url  # imported lazily: keeps `import bridge.config` light
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(value)
    except (ArgumentError, ValueError) as exc:
        raise _Problem(key, f"not a valid SQLAlchemy URL: {exc}") from None
    backend, driver = url.get_backend_name(), url.get_driver_name()
    if (backend, driver) not in _ACCEPTED_DRIVERS:
        hint = " (use 'mysql+pymysql://...')" if backend == "mysql" else ""
        raise _Problem(
            key,
            f"unsupported database '{url.drivername}'{hint}; "
            "use 'sqlite:///path' or 'mysql+pymysql://user:pass@host/db'",
        )
    if backend == "mysql" and not url.database:
        raise _Problem(key, "a MySQL URL must name a database ('mysql+pymysql://.../dbname')")
    return value


# Radicale options the bridge derives from its own settings; overriding them via
# [server.radicale.*] would silently disagree with the rest of the bridge.
_RADICALE_OWNED = {
    ("server", "hosts"): "server.host / server.port",
    ("server", "max_content_length"): "server.max_body_bytes",
    ("auth", "type"): "server.auth",
    ("auth", "htpasswd_filename"): "server.htpasswd",
    ("storage", "type"): None,
    ("rights", "type"): None,
}


def _radicale_schema() -> Mapping[str, Mapping[str, Any]]:
    try:
        from radicale.config import DEFAULT_CONFIG_SCHEMA
    except ImportError:  # pragma: no cover - radicale is a hard dependency
        return {}
    return DEFAULT_CONFIG_SCHEMA


def _radicale_tables(value: Any, key: str) -> dict[str, dict[str, str]]:
    if not isinstance(value, dict):
        raise _wrong_type("a table of [server.radicale.<section>] tables", value, key)
    schema = _radicale_schema()
    sections = [s for s in schema if not s.startswith("_")]
    result: dict[str, dict[str, str]] = {}
    for section, options in value.items():
        section_key = f"{key}.{section}"
        if schema and section not in schema:
            raise _Problem(section_key, _unknown_message("Radicale section", section, sections))
        if not isinstance(options, dict):
            raise _wrong_type("a table", options, section_key)
        section_schema = schema.get(section, {})
        # Sections with a pluggable "type" may carry plugin-specific options.
        strict = bool(section_schema) and "type" not in section_schema
        known = [o for o in section_schema if not o.startswith("_")]
        converted: dict[str, str] = {}
        for option, raw in options.items():
            option_key = f"{section_key}.{option}"
            if (section, option) in _RADICALE_OWNED:
                source = _RADICALE_OWNED[(section, option)]
                reason = "is set by the bridge itself"
                raise _Problem(option_key, f"{reason}; use {source}" if source else reason)
            if strict and option not in section_schema:
                raise _Problem(option_key, _unknown_message("key", option, known))
            converted[option] = _string()(raw, option_key)
        result[section] = converted
    return result


def _unknown_message(kind: str, name: str, known: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {kind} {name!r}{hint}"


def table_values(data: Any, section: str, keys: dict[str, Any]) -> dict[str, Any]:
    """The checked values of the TOML table ``[section]``: every key must be one of
    ``keys`` (name -> check(value, key path)); an unknown one is named with a hint."""
    if not isinstance(data, dict):
        raise _wrong_type("a table", data, section)
    values: dict[str, Any] = {}
    for name, item in data.items():
        check = keys.get(name)
        if check is None:
            raise _Problem(f"{section}.{name}", _unknown_message("key", name, list(keys)))
        values[name] = check(item, f"{section}.{name}")
    return values
