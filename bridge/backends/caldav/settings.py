"""The settings of a ``kind = "caldav"`` binding (``[users.bindings.backend]``), and how a
backend is made from them.

The password is never written in the config file: ``password_file`` names a file holding it,
``password_env`` an environment variable; both are read when the backend is made. (A password
stored with the binding's secret, ``{"password": ...}``, is used when neither key is given.)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bridge.backends.settings_schema import KindSchema, Setting

if TYPE_CHECKING:
    from bridge.backends.base import Backend
    from bridge.backends.kinds import BindingSpec

CALDAV = KindSchema(
    "caldav",
    {
        "url": Setting(str, identity=True),  # the calendar collection
        "username": Setting(str, identity=True),
        "password_file": Setting(str),
        "password_env": Setting(str),
        "timeout": Setting(float),
        "verify_tls": Setting(bool),
        "batch_size": Setting(int),  # hrefs per calendar-multiget
    },
)


@dataclass(frozen=True)
class CaldavSettings:
    """How to reach one calendar collection."""

    url: str
    username: str
    password: str
    timeout: float = 30.0
    verify_tls: bool = True
    batch_size: int = 100


def _password(settings: dict, secret: dict) -> str:
    from bridge.backends.kinds import BindingConfigError

    if settings.get("password_file"):
        path = settings["password_file"]
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read().strip()
        except OSError as error:
            raise BindingConfigError(f"password_file {path!r}: {error.strerror}") from None
        if not text:
            raise BindingConfigError(f"password_file {path!r} is empty")
        return text
    if settings.get("password_env"):
        name = settings["password_env"]
        value = os.environ.get(name)
        if not value:
            raise BindingConfigError(f"password_env: environment variable {name} is not set")
        return value
    if secret.get("password"):
        return str(secret["password"])
    raise BindingConfigError("password_file or password_env is missing")


def caldav_settings(spec: BindingSpec) -> CaldavSettings:
    """The typed settings of ``spec``; BindingConfigError naming the missing key."""
    from bridge.backends.kinds import BindingConfigError

    settings = dict(spec.settings)
    for key in ("url", "username"):
        if not settings.get(key):
            raise BindingConfigError(f"backend.{key} is missing")
    return CaldavSettings(
        url=settings["url"],
        username=settings["username"],
        password=_password(settings, dict(spec.secret)),
        timeout=float(settings.get("timeout", 30.0)),
        verify_tls=bool(settings.get("verify_tls", True)),
        batch_size=max(1, int(settings.get("batch_size", 100))),
    )


def make(spec: BindingSpec) -> Backend:
    """The backend of a caldav binding (the kind's constructor)."""
    from bridge.backends.caldav.backend import CaldavBackend

    return CaldavBackend(caldav_settings(spec))
