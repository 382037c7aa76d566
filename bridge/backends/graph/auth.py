"""Access tokens for Graph through msal: one msal application (and so one token cache) per
authority, tenant and client in the process, shared by every binding and every round.

App-only bindings use a ConfidentialClientApplication (client secret or certificate);
msal keeps the client-credentials token in its cache until shortly before it expires, so
an idle round asks the token endpoint nothing. Delegated bindings use a
PublicClientApplication and the refresh token `bridge graph authorize` stored.

msal insists on an https authority. ``authority_host`` may still be plain http (the tests'
emulator on 127.0.0.1): msal is given the https form and our http client (msal's
``http_client`` hook) sends those requests to the http address instead.

Delegated refresh tokens rotate: Entra answers each refresh with a new one, and may refuse
the redeemed one from then on. Several processes sign in for one binding (``bridge serve``
for push channels, ``bridge worker`` for rounds), so with the stored secret at hand (a
``SecretCell``) every refresh signs in with the newest STORED refresh token, stores its
successor by compare-and-set (only while the stored one is still the one used: a stale
process never overwrites a newer one), and on ``invalid_grant`` reads the stored one again
once (another process may have rotated it meanwhile) before failing. The access token is
kept per mailbox in the process's msal entry, so a backend made anew (its binding's secret
changed) asks Entra nothing while it is valid. msal's own refresh from its cache is not
used for delegated sign-ins: its cached refresh token may be one another process consumed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

from bridge.backends.base import AuthError, BackendError
from bridge.backends.graph.settings import GraphSettings

if TYPE_CHECKING:
    from bridge.backends.kinds import SecretCell

log = logging.getLogger("bridge.backends.graph")

#: The scope of an app-only token (the app's granted application permissions).
APP_SCOPE = "https://graph.microsoft.com/.default"
#: The scopes of a delegated token (offline_access is added by msal).
USER_SCOPES = ["https://graph.microsoft.com/Calendars.ReadWrite"]


class PlainHttpSession(requests.Session):
    """A requests session that sends https://<host> requests to http://<host>: msal's
    http_client for an authority served over plain HTTP (tests only)."""

    def __init__(self, host: str, timeout: float) -> None:
        super().__init__()
        self.host, self.timeout = host, timeout

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        if self.host and url.startswith(f"https://{self.host}"):
            url = "http://" + url[len("https://") :]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


def authority_of(settings: GraphSettings) -> tuple[str, str]:
    """(the https authority msal is given, the host to reach over plain http or "")."""
    parts = urlsplit(settings.authority_host)
    plain = parts.netloc if parts.scheme == "http" else ""
    return f"https://{parts.netloc}{parts.path}/{settings.tenant}", plain


def _http_client(settings: GraphSettings) -> requests.Session:
    _, plain = authority_of(settings)
    return PlainHttpSession(plain, settings.timeout)


@dataclass
class _Entry:
    app: Any
    lock: threading.Lock
    #: mailbox -> (delegated access token, monotonic time to stop using it)
    user_tokens: dict[str, tuple[str, float]] = field(default_factory=dict)


_APPS: dict[tuple[str, ...], _Entry] = {}
_APPS_LOCK = threading.Lock()


def _app(settings: GraphSettings) -> _Entry:
    """The process's msal application for this authority, tenant, client and credential."""
    import msal

    authority, _ = authority_of(settings)
    credential = settings.client_secret or settings.certificate_thumbprint
    key = (authority, settings.client_id, "app" if settings.app_only else "user", credential)
    with _APPS_LOCK:
        entry = _APPS.get(key)
        if entry is not None:
            return entry
        common = {
            "authority": authority,
            "http_client": _http_client(settings),
            "instance_discovery": False,
            "token_cache": msal.TokenCache(),
        }
        try:
            if settings.app_only:
                credential_value: Any = settings.client_secret or {
                    "private_key": settings.certificate_pem,
                    "thumbprint": settings.certificate_thumbprint,
                }
                app = msal.ConfidentialClientApplication(
                    settings.client_id, client_credential=credential_value, **common
                )
            else:
                app = msal.PublicClientApplication(settings.client_id, **common)
        except ValueError as error:  # authority discovery failed: unknown tenant or host
            raise AuthError(
                f"Microsoft Entra: tenant {settings.tenant!r}: {_first(error)}"
            ) from None
        except requests.RequestException as error:
            raise BackendError(f"Microsoft Entra unreachable: {type(error).__name__}") from None
        entry = _APPS[key] = _Entry(app, threading.Lock())
        return entry


def _first(error: Exception) -> str:
    return str(error).split(". ")[0]


class TokenSource:
    """Bearer tokens for one binding: cached by msal, shared with every binding of the same
    app registration. ``cell``: the binding's stored secret (delegated sign-ins read the
    newest refresh token from it and store rotated ones into it)."""

    def __init__(self, settings: GraphSettings, cell: SecretCell | None = None) -> None:
        self.settings = settings
        self.cell = cell
        self.requests = 0  # token endpoint calls made by this binding (for counting)
        #: The newest refresh token of a delegated binding (Entra may rotate it on use).
        self.refresh_token = settings.refresh_token

    def token(self) -> str:
        """A valid access token; AuthError naming what Entra refused."""
        entry = _app(self.settings)
        with entry.lock:
            try:
                if self.settings.app_only:
                    result = entry.app.acquire_token_for_client(scopes=[APP_SCOPE])
                    if result.get("token_source") == "identity_provider":
                        self.requests += 1
                else:
                    result = self._delegated(entry)
            except requests.RequestException as error:
                raise BackendError(f"Microsoft Entra unreachable: {type(error).__name__}") from None
            except ValueError as error:
                raise AuthError(f"Microsoft Entra: {_first(error)}") from None
        if "access_token" not in result:
            raise AuthError(describe_token_error(result))
        return str(result["access_token"])

    def _delegated(self, entry: _Entry) -> dict[str, Any]:
        mailbox = self.settings.mailbox.lower()
        token, until = entry.user_tokens.get(mailbox, ("", 0.0))
        if token and time.monotonic() < until:
            return {"access_token": token}
        used = self._newest()
        result = self._redeem(entry.app, used)
        if result.get("error") == "invalid_grant" and self.cell is not None:
            again = self._newest()  # another process may have rotated it meanwhile
            if again != used:
                used, result = again, self._redeem(entry.app, again)
        if "access_token" in result:
            lifetime = float(result.get("expires_in", 3600))
            until = time.monotonic() + lifetime - 300
            entry.user_tokens[mailbox] = (result["access_token"], until)
            successor = str(result.get("refresh_token") or "") or self._cached_refresh(entry.app)
            if successor and successor != used:
                self._keep(used, successor)
        return result

    def _newest(self) -> str:
        """The refresh token to sign in with: the stored one when a cell is at hand (the
        newest, whichever process rotated it), else the one this backend last had."""
        if self.cell is not None:
            stored = str(self.cell.read().get("refresh_token") or "")
            if stored:
                self.refresh_token = stored
        return self.refresh_token

    def _redeem(self, app: Any, refresh_token: str) -> dict[str, Any]:
        self.requests += 1
        return dict(app.acquire_token_by_refresh_token(refresh_token, USER_SCOPES))

    def _keep(self, used: str, successor: str) -> None:
        """Take ``successor`` as the newest; with a cell, store it while ``used`` is the
        stored one (a newer one stored meanwhile stays)."""
        self.refresh_token = successor
        if self.cell is None:
            return  # reported by GraphBackend.changed_secret, stored by the scheduler
        old: Mapping[str, Any] = self.cell.read()
        stored = old.get("refresh_token") == used
        if not stored or not self.cell.swap(old, {**old, "refresh_token": successor}):
            log.info("Microsoft Entra: a newer refresh token was stored meanwhile; it stays")

    def _cached_refresh(self, app: Any) -> str:
        """The refresh token msal's cache holds for this mailbox's account (Entra's answer
        to the last refresh, when the answer itself did not show it)."""
        cache = app.token_cache
        for account in app.get_accounts(username=self.settings.mailbox):
            query = {"home_account_id": account.get("home_account_id")}
            for item in cache.search(cache.CredentialType.REFRESH_TOKEN, query=query):
                if item.get("secret"):
                    return str(item["secret"])
        return ""

    def forget(self) -> None:
        """Drop a token Graph refused (401) so the next call asks Entra again."""
        entry = _app(self.settings)
        with entry.lock:
            entry.user_tokens.pop(self.settings.mailbox.lower(), None)
            cache = entry.app.token_cache
            for item in list(cache.search(cache.CredentialType.ACCESS_TOKEN)):
                cache.remove_at(item)


#: Entra error codes (AADSTS...) that say which part of the sign-in is wrong.
AADSTS = {
    "90002": "unknown tenant",
    "700016": "unknown client id (no such app registration in the tenant)",
    "7000215": "invalid client secret",
    "7000222": "the client secret has expired",
    "700027": "the certificate was refused",
    "70002": "the app registration's credentials were refused",
    "50034": "the user does not exist in the tenant",
    "70008": "the refresh token expired: run `bridge graph authorize` again",
    "700082": "the refresh token expired: run `bridge graph authorize` again",
    "50173": "the refresh token was revoked: run `bridge graph authorize` again",
    "65001": "consent missing for the app's permissions",
}


def describe_token_error(result: dict[str, Any]) -> str:
    """Entra's refusal in words an admin can act on (never the secret itself)."""
    error = str(result.get("error", "error"))
    text = str(result.get("error_description", ""))
    codes = [str(c) for c in result.get("error_codes", [])]
    for code, meaning in AADSTS.items():
        if code in codes or f"AADSTS{code}:" in text:
            return f"Microsoft Entra refused the sign-in: {meaning} (AADSTS{code}, {error})"
    first = text.splitlines()[0] if text else ""
    return f"Microsoft Entra refused the sign-in: {error}" + (f": {first}" if first else "")
