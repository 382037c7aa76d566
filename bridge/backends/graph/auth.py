"""Access tokens for Graph through msal: one msal application (and so one token cache) per
authority, tenant and client in the process, shared by every binding and every round.

App-only bindings use a ConfidentialClientApplication (client secret or certificate);
msal keeps the client-credentials token in its cache until shortly before it expires, so
an idle round asks the token endpoint nothing. Delegated bindings use a
PublicClientApplication and the refresh token `bridge graph authorize` stored.

msal insists on an https authority. ``authority_host`` may still be plain http (the tests'
emulator on 127.0.0.1): msal is given the https form and our http client (msal's
``http_client`` hook) sends those requests to the http address instead.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from bridge.backends.base import AuthError, BackendError
from bridge.backends.graph.settings import GraphSettings

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
    app registration."""

    def __init__(self, settings: GraphSettings) -> None:
        self.settings = settings
        self.requests = 0  # token endpoint calls made by this binding (for counting)
        self._user_token: tuple[str, float] = ("", 0.0)
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
                    result = self._delegated(entry.app)
            except requests.RequestException as error:
                raise BackendError(f"Microsoft Entra unreachable: {type(error).__name__}") from None
            except ValueError as error:
                raise AuthError(f"Microsoft Entra: {_first(error)}") from None
        if "access_token" not in result:
            raise AuthError(describe_token_error(result))
        return str(result["access_token"])

    def _delegated(self, app: Any) -> dict[str, Any]:
        token, until = self._user_token
        if token and time.monotonic() < until:
            return {"access_token": token}
        # The refresh token Entra rotated in (kept by msal's cache for the signed-in account)
        # before the stored one, which may have expired since `bridge graph authorize`.
        result: dict[str, Any] | None = None
        for account in app.get_accounts(username=self.settings.mailbox):
            result = app.acquire_token_silent(USER_SCOPES, account=account)
            if result and "access_token" in result:
                break
        if not result or "access_token" not in result:
            self.requests += 1
            result = app.acquire_token_by_refresh_token(self.settings.refresh_token, USER_SCOPES)
        if "access_token" in result:
            lifetime = float(result.get("expires_in", 3600))
            self._user_token = (result["access_token"], time.monotonic() + lifetime - 300)
            self._note_refresh_token(app)
        return result

    def _note_refresh_token(self, app: Any) -> None:
        """Take the refresh token msal's cache now holds for this mailbox's account: Entra
        may have answered the refresh with a new one (msal caches it; the stored one may be
        refused from then on)."""
        cache = app.token_cache
        for account in app.get_accounts(username=self.settings.mailbox):
            query = {"home_account_id": account.get("home_account_id")}
            for item in cache.search(cache.CredentialType.REFRESH_TOKEN, query=query):
                if item.get("secret"):
                    self.refresh_token = str(item["secret"])
                    return

    def forget(self) -> None:
        """Drop a token Graph refused (401) so the next call asks Entra again."""
        self._user_token = ("", 0.0)
        entry = _app(self.settings)
        with entry.lock:
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
