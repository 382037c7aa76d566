"""The google kind's constructor: a GoogleBackend from a typed BindingSpec.

The backend holds its credentials, so the access token Google issued is reused for as long
as the caller keeps the backend (the scheduler keeps one per binding across rounds).
"""

from __future__ import annotations

import json

from bridge.backends.google import http as google_http
from bridge.backends.google.backend import GoogleBackend
from bridge.backends.google.settings import HTTP_OPTIONS
from bridge.backends.kinds import BindingConfigError, BindingSpec


def make_google(spec: BindingSpec) -> GoogleBackend:
    """The binding's GoogleBackend; BindingConfigError naming what is missing or unreadable."""
    settings, secret = spec.settings, spec.secret
    options = {k: v for k, v in settings.items() if k in HTTP_OPTIONS}
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
                f"no refresh token stored: run `bridge google authorize {spec.login}`"
            )
        creds = google_http.user_credentials(
            refresh, settings["client_id"], settings["client_secret"], google_settings.token_uri
        )
    return GoogleBackend(creds, google_settings)
