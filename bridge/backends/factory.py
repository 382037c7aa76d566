"""Backends built from a stored binding: its settings (config file) and secret (store)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Row

from bridge.backends.base import Backend


class BindingConfigError(ValueError):
    """The binding's settings or stored credentials cannot make a backend."""


GOOGLE_SETTINGS = {
    "calendar_id",
    "api_endpoint",
    "batch_uri",
    "token_uri",
    "requests_per_second",
    "backoff_base",
    "backoff_max",
    "burst",
    "max_retries",
    "timeout",
    "page_size",
    "batch_size",
}


def _google(settings: dict[str, Any], secret: dict[str, Any], login: str) -> Backend:
    from bridge.backends import google_http
    from bridge.backends.google import GoogleBackend

    options = {k: v for k, v in settings.items() if k in GOOGLE_SETTINGS}
    google_settings = google_http.GoogleSettings(**options)
    if "service_account_file" in settings:
        path = settings["service_account_file"]
        try:
            with open(path, encoding="utf-8") as handle:
                info = json.load(handle)
        except OSError as error:
            raise BindingConfigError(f"service_account_file {path!r}: {error.strerror}") from None
        subject = settings.get("subject") or secret.get("subject")
        if not subject:
            raise BindingConfigError("service_account_file needs subject (the user's e-mail)")
        creds = google_http.service_account_credentials(info, subject, google_settings.token_uri)
    else:
        for key in ("client_id", "client_secret"):
            if not settings.get(key):
                raise BindingConfigError(f"backend.{key} is missing")
        refresh = secret.get("refresh_token")
        if not refresh:
            raise BindingConfigError(
                f"no refresh token stored: run `bridge google authorize {login}`"
            )
        creds = google_http.user_credentials(
            refresh, settings["client_id"], settings["client_secret"], google_settings.token_uri
        )
    return GoogleBackend(creds, google_settings)


def backend_for(binding: Row) -> Backend:
    """The backend of a binding row (bridge.store.bindings), ready for a sync round."""
    settings = json.loads(binding.settings or "{}")
    secret = json.loads(binding.secret or "{}")
    if binding.kind == "google":
        return _google(settings, secret, binding.login)
    raise BindingConfigError(f"backend kind {binding.kind!r} is not available yet")
