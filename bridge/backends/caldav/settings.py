"""The settings of a ``kind = "caldav"`` binding (``[users.bindings.backend]``), and how a
backend is made from them.

The password is never written in the config file: ``password_file`` names a file holding it,
``password_env`` an environment variable; both are read when the backend is made. (A password
stored with the binding's secret, ``{"password": ...}``, is used when neither key is given.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bridge.backends.secrets_from import password_from
from bridge.backends.settings_schema import KindSchema, Setting

if TYPE_CHECKING:
    from bridge.backends.base import Backend
    from bridge.backends.kinds import BindingSpec


def account(settings: Mapping[str, Any]) -> str | None:
    """A CalDAV server's limits apply per user: bindings signing in to one server (host)
    as one ``username`` share them."""
    url, user = settings.get("url"), settings.get("username")
    if not url or not user:
        return None
    return f"{urlsplit(url).netloc.lower()}|{user}"


CALDAV = KindSchema(
    "caldav",
    {
        "url": Setting(str, identity=True),  # the calendar collection
        "username": Setting(str, identity=True),
        "password_file": Setting(str, private_file="password file"),
        "password_env": Setting(str),
        "timeout": Setting(float),
        "verify_tls": Setting(bool),
        "batch_size": Setting(int),  # hrefs per calendar-multiget
        "auth_type": Setting(str),  # basic (sent with every request) | digest | auto
    },
    account=account,
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
    #: "basic" sends the credentials with every request (no 401 round trip first);
    #: "digest" for servers that ask for it; "auto" learns the scheme from a 401.
    auth_type: str = "basic"


AUTH_TYPES = ("basic", "digest", "auto")


def caldav_settings(spec: BindingSpec) -> CaldavSettings:
    """The typed settings of ``spec``; BindingConfigError naming the missing key."""
    from bridge.backends.kinds import BindingConfigError

    settings = dict(spec.settings)
    for key in ("url", "username"):
        if not settings.get(key):
            raise BindingConfigError(f"backend.{key} is missing")
    auth_type = settings.get("auth_type", "basic")
    if auth_type not in AUTH_TYPES:
        raise BindingConfigError(
            f"backend.auth_type: must be one of {', '.join(AUTH_TYPES)}, not {auth_type!r}"
        )
    return CaldavSettings(
        auth_type=auth_type,
        url=settings["url"],
        username=settings["username"],
        password=password_from(settings, spec.secret),
        timeout=float(settings.get("timeout", 30.0)),
        verify_tls=bool(settings.get("verify_tls", True)),
        batch_size=max(1, int(settings.get("batch_size", 100))),
    )


def make(spec: BindingSpec) -> Backend:
    """The backend of a caldav binding (the kind's constructor)."""
    from bridge.backends.caldav.backend import CaldavBackend

    return CaldavBackend(caldav_settings(spec))
