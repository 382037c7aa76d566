"""The settings of a ``kind = "graph"`` binding (``[users.bindings.backend]``), typed.

Two ways to sign in, both through msal:

- app-only (client credentials, the Calendars.ReadWrite application permission): one app
  registration serves every mailbox; its secret comes from ``client_secret_file`` or
  ``client_secret_env``, or a certificate from ``certificate_file`` (PEM: private key and
  certificate) with ``certificate_thumbprint``.
- delegated: none of those keys; `bridge graph authorize LOGIN` (device code) stores the
  user's refresh token as the binding's secret.

Secrets are never inline in the config file. ``authority_host`` and ``graph_url`` may point
elsewhere (national clouds; the tests' emulator over plain HTTP).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bridge.backends.settings_schema import KindSchema, Setting

if TYPE_CHECKING:
    from bridge.backends.base import Backend
    from bridge.backends.kinds import BindingSpec


def account(settings: Mapping[str, Any]) -> str | None:
    """Graph throttles per app registration (``client_id``) in a tenant: the bindings of
    one tenant and app share its limits (and each mailbox's few concurrent requests)."""
    tenant, client = settings.get("tenant"), settings.get("client_id")
    if not tenant or not client:
        return None
    return f"{settings.get('graph_url') or DEFAULT_GRAPH}|{tenant.lower()}|{client}"


GRAPH = KindSchema(
    "graph",
    {
        "tenant": Setting(str, identity=True),  # directory id or a verified domain
        "client_id": Setting(str),
        "mailbox": Setting(str, identity=True),  # the user's UPN or object id
        "client_secret_file": Setting(str, private_file="Graph client secret file"),
        "client_secret_env": Setting(str),
        "certificate_file": Setting(str, private_file="Graph certificate file"),
        "certificate_thumbprint": Setting(str),
        "authority_host": Setting(str),  # https://login.microsoftonline.com
        "graph_url": Setting(str),  # https://graph.microsoft.com/v1.0
        "page_size": Setting(int),
        "batch_size": Setting(int),  # requests per JSON $batch (at most 20)
        "timeout": Setting(float),
        "max_retries": Setting(int),
        "retry_after_max": Setting(float),  # the longest Retry-After honoured, seconds
        "rebaseline_days": Setting(int),  # slack of the delta window frozen in a deltaLink
        # a rule Graph cannot say: "skip" (refused, shown in status) or "occurrences" (one
        # single event per occurrence in the window, one-way: bridge.backends.graph.occurrences)
        "unsupported_recurrence": Setting(str),
    },
    account=account,
)

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
DEFAULT_GRAPH = "https://graph.microsoft.com/v1.0"
UNSUPPORTED_RECURRENCE = ("skip", "occurrences")


@dataclass(frozen=True)
class GraphSettings:
    """How to reach and pace one mailbox's calendar."""

    tenant: str
    client_id: str
    mailbox: str
    #: app-only credential: ("secret", value) or ("certificate", pem, thumbprint); None
    #: for delegated sign-in (a refresh token in the binding's secret).
    client_secret: str = ""
    certificate_pem: str = ""
    certificate_thumbprint: str = ""
    refresh_token: str = ""
    authority_host: str = DEFAULT_AUTHORITY
    graph_url: str = DEFAULT_GRAPH
    page_size: int = 100
    batch_size: int = 20
    timeout: float = 30.0
    max_retries: int = 4
    retry_after_max: float = 120.0
    rebaseline_days: int = 7
    unsupported_recurrence: str = "skip"

    @property
    def app_only(self) -> bool:
        return bool(self.client_secret or self.certificate_pem)


def _read(path: str, key: str) -> str:
    from bridge.backends.kinds import BindingConfigError

    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read().strip()
    except OSError as error:
        raise BindingConfigError(f"backend.{key} {path!r}: {error.strerror}") from None
    if not text:
        raise BindingConfigError(f"backend.{key} {path!r} is empty")
    return text


def _credential(settings: dict[str, Any]) -> dict[str, str]:
    from bridge.backends.kinds import BindingConfigError

    given = [
        k for k in ("client_secret_file", "client_secret_env", "certificate_file") if k in settings
    ]
    if len(given) > 1:
        raise BindingConfigError(f"backend: give one of {', '.join(given)}, not several")
    if "client_secret_file" in settings:
        return {"client_secret": _read(settings["client_secret_file"], "client_secret_file")}
    if "client_secret_env" in settings:
        name = settings["client_secret_env"]
        value = os.environ.get(name, "")
        if not value:
            raise BindingConfigError(
                f"backend.client_secret_env: environment variable {name} is not set"
            )
        return {"client_secret": value}
    if "certificate_file" in settings:
        thumbprint = settings.get("certificate_thumbprint", "")
        if not thumbprint:
            raise BindingConfigError("backend.certificate_file needs certificate_thumbprint")
        pem = _read(settings["certificate_file"], "certificate_file")
        return {"certificate_pem": pem, "certificate_thumbprint": thumbprint}
    return {}


def graph_settings(spec: BindingSpec) -> GraphSettings:
    """The typed settings of ``spec``; BindingConfigError naming the key at fault."""
    from bridge.backends.kinds import BindingConfigError

    settings = dict(spec.settings)
    for key in ("tenant", "client_id", "mailbox"):
        if not settings.get(key):
            raise BindingConfigError(f"backend.{key} is missing")
    credential = _credential(settings)
    if not credential:
        refresh = str(spec.secret.get("refresh_token", ""))
        if not refresh:
            raise BindingConfigError(
                "no app credential (client_secret_file, client_secret_env or certificate_file)"
                f" and no refresh token stored: run `bridge graph authorize {spec.login}`"
            )
        credential = {"refresh_token": refresh}
    for key in ("authority_host", "graph_url"):
        value = settings.get(key)
        if value is not None and not value.startswith(("https://", "http://")):
            raise BindingConfigError(f"backend.{key}: not an http(s) address: {value!r}")
    choice = settings.get("unsupported_recurrence", "skip")
    if choice not in UNSUPPORTED_RECURRENCE:
        raise BindingConfigError(
            "backend.unsupported_recurrence: must be one of "
            f"{', '.join(UNSUPPORTED_RECURRENCE)}, not {choice!r}"
        )
    batch = int(settings.get("batch_size", 20))
    if not 1 <= batch <= 20:
        raise BindingConfigError(f"backend.batch_size: Graph takes 1 to 20 per $batch, not {batch}")
    for key in ("page_size", "max_retries", "rebaseline_days"):
        if key in settings and settings[key] < (1 if key == "page_size" else 0):
            raise BindingConfigError(f"backend.{key}: must not be negative or zero")
    return GraphSettings(
        tenant=settings["tenant"],
        client_id=settings["client_id"],
        mailbox=settings["mailbox"],
        authority_host=settings.get("authority_host", DEFAULT_AUTHORITY).rstrip("/"),
        graph_url=settings.get("graph_url", DEFAULT_GRAPH).rstrip("/"),
        page_size=int(settings.get("page_size", 100)),
        batch_size=batch,
        timeout=float(settings.get("timeout", 30.0)),
        max_retries=int(settings.get("max_retries", 4)),
        retry_after_max=float(settings.get("retry_after_max", 120.0)),
        rebaseline_days=int(settings.get("rebaseline_days", 7)),
        unsupported_recurrence=choice,
        **credential,
    )


def make(spec: BindingSpec) -> Backend:
    """The backend of a graph binding (the kind's constructor; the backend module, which
    loads aiohttp and msal, is imported here, on use)."""
    from bridge.backends.graph.backend import GraphBackend

    return GraphBackend(graph_settings(spec), spec.cell)
