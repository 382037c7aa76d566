"""The settings of a ``kind = "exchange"`` binding (``[users.bindings.backend]``): an
on-premises Exchange Server (SE, 2019, 2016) reached over EWS, and how a backend is made
from them.

The EWS URL is given (no autodiscover) and must end in ``/EWS/Exchange.asmx``; an Exchange
Online host is refused when the config loads, naming the graph kind (Exchange Online no
longer serves EWS). The password is never written in the config file: ``password_file``
names a file holding it, ``password_env`` an environment variable (a password stored with
the binding's secret, ``{"password": ...}``, is used when neither key is given).
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

AUTH_TYPES = ("basic", "ntlm")
ACCESS_TYPES = ("delegate", "impersonation")
SERVER_VERSIONS = ("2013", "2016", "2019")  # Exchange SE answers as 2019

#: Hosts of Exchange Online (Microsoft 365, its national clouds): EWS is closed there.
_ONLINE_HOSTS = ("outlook.office365.com", "outlook.office.com", "outlook.office365.us")
_ONLINE_SUFFIXES = (".outlook.com", ".office365.com", ".office.com", ".outlook.cn", ".office365.us")


def url_problem(value: Any) -> str | None:
    """Why ``value`` is not the EWS URL of an on-premises Exchange server, or None."""
    parts = urlsplit(str(value))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"not an http(s) URL: {value!r}"
    host = parts.hostname.lower()
    if host in _ONLINE_HOSTS or host.endswith(_ONLINE_SUFFIXES) or host == "outlook.com":
        return (
            f"{host} is Exchange Online, which no longer serves EWS: "
            'bind a Microsoft 365 mailbox with kind = "graph"'
        )
    if not parts.path.lower().rstrip("/").endswith("/ews/exchange.asmx"):
        return f"the EWS URL must end in /EWS/Exchange.asmx, not {parts.path or '/'!r}"
    return None


def _one_of(choices: tuple[str, ...]):
    def check(value: Any) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}"

    return check


def _positive(value: Any) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _view_size(value: Any) -> str | None:
    return None if 0 < value <= 1000 else "must be between 1 and 1000 (EWS's FindItem limit)"


def account(settings: Mapping[str, Any]) -> str | None:
    """EWS throttles per signed-in account on a server: bindings that sign in to one
    server as one (service) account share its budget; without a ``username``, the
    mailbox signs in as itself."""
    url, who = settings.get("url"), settings.get("username") or settings.get("email")
    if not url or not who:
        return None
    return f"{urlsplit(url).netloc.lower()}|{who.lower()}"


EXCHANGE = KindSchema(
    "exchange",
    {
        "url": Setting(str, identity=True, validate=url_problem),
        "email": Setting(str, identity=True),  # the mailbox synced
        "username": Setting(str),  # DOMAIN\\user or user@domain (NTLM), or the UPN (basic)
        "password_file": Setting(str, private_file="password file"),
        "password_env": Setting(str),
        "auth_type": Setting(str, validate=_one_of(AUTH_TYPES)),
        "access_type": Setting(str, validate=_one_of(ACCESS_TYPES)),
        "server_version": Setting(str, validate=_one_of(SERVER_VERSIONS)),
        "page_size": Setting(int, validate=_positive),  # changes per SyncFolderItems page
        "batch_size": Setting(int, validate=_positive),  # items per CreateItem
        "view_size": Setting(int, validate=_view_size),  # entries per CalendarView (<= 1000)
        "timeout": Setting(float, validate=_positive),
        "max_retries": Setting(int),  # retries of ErrorServerBusy (and transient errors)
        "max_back_off": Setting(float, validate=_positive),  # seconds: the longest wait honoured
    },
    account=account,
)


@dataclass(frozen=True)
class ExchangeSettings:
    """How to reach one mailbox's calendar over EWS."""

    url: str
    email: str
    username: str
    password: str
    auth_type: str = "ntlm"
    access_type: str = "delegate"
    server_version: str = "2016"
    page_size: int = 100
    batch_size: int = 100
    view_size: int = 1000
    timeout: float = 30.0
    max_retries: int = 4
    max_back_off: float = 30.0

    def __repr__(self) -> str:  # never show the password
        return f"ExchangeSettings(url={self.url!r}, email={self.email!r}, user={self.username!r})"


def exchange_settings(spec: BindingSpec) -> ExchangeSettings:
    """The typed settings of ``spec``; BindingConfigError naming the missing or bad key."""
    from bridge.backends.kinds import BindingConfigError

    settings = dict(spec.settings)
    for key in ("url", "email", "username"):
        if not settings.get(key):
            raise BindingConfigError(f"backend.{key} is missing")
    for key, value in settings.items():
        problem = EXCHANGE.problem(key, value)
        if problem:
            raise BindingConfigError(f"backend.{key}: {problem}")
    if "@" not in settings["email"]:
        raise BindingConfigError(f"backend.email: not an e-mail address: {settings['email']!r}")
    typed = {k: v for k, v in settings.items() if k in ExchangeSettings.__dataclass_fields__}
    typed["password"] = password_from(settings, spec.secret)
    return ExchangeSettings(**typed)


def make(spec: BindingSpec) -> Backend:
    """The backend of an exchange binding (the kind's constructor; exchangelib loads here)."""
    from bridge.backends.exchange.backend import ExchangeBackend

    return ExchangeBackend(exchange_settings(spec))
