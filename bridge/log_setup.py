"""The bridge's log: one handler on the root logger, human lines or JSON objects
(``[logging]``, bridge.config.logs), every line scrubbed of known secrets.

Known secrets are every secret the process holds: the binding settings the kind's schema
marks secret (e.g. Google's client_secret), the contents of the private files and
environment variables bindings read passwords from, the ``[secrets]`` keys (all read
from the configuration by ``config_secrets``), and each binding's stored credentials
(refresh tokens) when a backend is made from them (``remember``). A line that would show
one shows ``[secret]`` in its place; a value shorter than ``MIN_SECRET`` characters is
not tracked (it would blank out ordinary words).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from bridge.config import Settings
from bridge.config.logs import LoggingSettings
from bridge.log_context import ContextFilter

MIN_SECRET = 6
MASK = "[secret]"
_HANDLER_NAME = "bridge"


class SecretSet:
    """The secrets to keep out of the log (thread-safe; longest replaced first)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: tuple[str, ...] = ()

    def add(self, values: Iterable[str]) -> None:
        fresh = {v for v in values if isinstance(v, str) and len(v.strip()) >= MIN_SECRET}
        fresh |= {v.strip() for v in fresh}
        with self._lock:
            merged = set(self._values) | fresh
            self._values = tuple(sorted(merged, key=len, reverse=True))

    def scrub(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        return _SHAPES.sub(lambda m: m.group(1) + MASK, text)


#: Secrets the process learns only at run time (access tokens, passwords in headers or
#: forms), recognised by their shape: the name stays, the value goes.
_SHAPES = re.compile(
    r"(?i)(\b(?:authorization|proxy-authorization)['\"]?\s*[:=]\s*['\"]?(?:basic|bearer|digest|ntlm)?\s*"
    r"|\b(?:access_token|refresh_token|id_token|client_secret|password|assertion)"
    r"['\"]?\s*[:=]\s*['\"]?)"
    r"[^\s'\"&,}]+"
)


SECRETS = SecretSet()


def remember(values: Mapping[str, Any] | Iterable[str]) -> None:
    """Keep these secret values (or every string value of a mapping) out of the log."""
    if isinstance(values, Mapping):
        SECRETS.add(_strings(values))
    else:
        SECRETS.add(values)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _file_text(path: str) -> list[str]:
    try:
        text = open(path, encoding="utf-8").read()  # noqa: SIM115 - read whole, closed by GC
    except (OSError, UnicodeError):
        return []
    found = [text, *text.splitlines()]
    try:  # a JSON credentials file (Google service account): each of its values too
        found.extend(_strings(json.loads(text)))
    except ValueError:
        pass
    return found


def config_secrets(settings: Settings) -> list[str]:
    """Every secret ``settings`` names: secret binding settings, private files and password
    variables, and the keys of ``[secrets]``."""
    from bridge.backends import kinds

    found: list[str] = []
    for user in settings.users:
        for binding in user.bindings:
            try:
                schema = kinds.schema_for(binding.kind)
            except KeyError:
                schema = None
            for key, value in binding.backend.items():
                if schema is not None and schema.is_secret(key):
                    found.extend(_strings(value))
                elif key.endswith("_env") and isinstance(value, str):
                    found.extend(os.environ.get(value, "").splitlines())
            if schema is not None:
                for path, _what in schema.private_files(binding.backend):
                    found.extend(_file_text(path))
    from sqlalchemy.engine import make_url

    password = make_url(settings.store.url).password
    if password:
        found.append(str(password))
    keys = settings.secrets
    if keys.key_env:
        found.extend(os.environ.get(keys.key_env, "").replace(",", "\n").splitlines())
    if keys.key_file is not None:
        found.extend(_file_text(str(keys.key_file)))
    return found


_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "binding",
    "round",
    "request_id",
    "ident",
    "tid",
}


class HumanFormatter(logging.Formatter):
    """``2026-12-02 15:00:00 WARNING bridge.sync [alice/google round 1f2e]: message``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(where)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        where = []
        if getattr(record, "binding", ""):
            where.append(f"{record.binding} round {record.round}")
        if getattr(record, "request_id", ""):
            where.append(f"request {record.request_id}")
        record.where = f" [{', '.join(where)}]" if where else ""
        return SECRETS.scrub(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record (the same fields every line, "" when not known)."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": SECRETS.scrub(record.getMessage()),
            "binding": getattr(record, "binding", ""),
            "round": getattr(record, "round", ""),
            "request_id": getattr(record, "request_id", ""),
        }
        if record.exc_info:
            data["exception"] = SECRETS.scrub(self.formatException(record.exc_info))
        elif record.exc_text:
            data["exception"] = SECRETS.scrub(record.exc_text)
        if record.stack_info:
            data["stack"] = SECRETS.scrub(record.stack_info)
        return json.dumps(data, ensure_ascii=False)


def formatter_for(settings: LoggingSettings) -> logging.Formatter:
    return JsonFormatter() if settings.format == "json" else HumanFormatter()


#: Loggers whose info lines are noise (alembic's "Context impl ..." on every start).
_QUIET = ("alembic",)


def setup(settings: Settings, *, one_shot: bool = False) -> None:
    """Send every record to stderr in ``settings.logging``'s format and level, scrubbed of
    the configuration's secrets. Called again (a reload), it changes format and level.

    ``one_shot`` (status, sync, check ...: commands whose output is their answer) logs
    warnings and errors only, unless the level is debug."""
    remember(config_secrets(settings))
    root = logging.getLogger()
    level = getattr(logging, settings.logging.level.upper())
    if one_shot and level > logging.DEBUG:
        level = max(level, logging.WARNING)
    for name in _QUIET:
        logging.getLogger(name).setLevel(
            logging.DEBUG if level <= logging.DEBUG else logging.WARNING
        )
    handler = next((h for h in root.handlers if h.get_name() == _HANDLER_NAME), None)
    if handler is None:
        for old in list(root.handlers):
            root.removeHandler(old)
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name(_HANDLER_NAME)
        handler.addFilter(ContextFilter())
        root.addHandler(handler)
    handler.setFormatter(formatter_for(settings.logging))
    root.setLevel(level)
    logging.getLogger("radicale").setLevel(level)
