"""Backends built from a stored binding: its settings (config file) and secret (store).

Credentials are stored encrypted; a :class:`BackendFactory` holds the keyring that opens
them. It also keeps each binding's OAuth credentials between rounds, so the access token
Google issued is reused until it expires instead of being fetched again every round.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

from sqlalchemy import Row

from bridge.backends.base import Backend
from bridge.backends.google.settings import HTTP_OPTIONS
from bridge.backends.kinds import BindingConfigError, BindingSpec, kind_of, kinds
from bridge.secret_box import Keyring
from bridge.store.binding_secrets import UnreadableSecret, open_settings, read_secret


class BackendFactory:
    """``factory(row)`` is the backend of a binding row (bridge.store.bindings)."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self._credentials: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()

    def __call__(self, binding: Row) -> Backend:
        try:
            settings = open_settings(binding, self.keyring)
            secret = read_secret(binding, self.keyring)
        except UnreadableSecret as error:
            raise BindingConfigError(str(error)) from None
        if binding.kind == "google":
            return self._google(binding.id, settings, secret, binding.login)
        entry = kind_of(binding.kind) if binding.kind in kinds() else None
        if entry is not None and entry.make is not None:  # a kind's own constructor
            spec = BindingSpec(binding.id, binding.login, binding.kind, settings, secret)
            return entry.make(spec)
        raise BindingConfigError(f"backend kind {binding.kind!r} is not available yet")

    def _cached(self, key: tuple[Any, ...], make: Any) -> Any:
        """The credentials made for ``key`` before (same binding, same secrets), or new ones."""
        with self._lock:
            found = self._credentials.get(key)
            if found is None:
                stale = [k for k in self._credentials if k[0] == key[0]]
                for old in stale:  # the binding's secrets changed: forget the old ones
                    del self._credentials[old]
                found = self._credentials[key] = make()
            return found

    def _google(
        self, binding_id: int, settings: dict[str, Any], secret: dict[str, Any], login: str
    ) -> Backend:
        from bridge.backends.google import http as google_http
        from bridge.backends.google.backend import GoogleBackend

        options = {k: v for k, v in settings.items() if k in HTTP_OPTIONS}
        google_settings = google_http.GoogleSettings(**options)
        if "service_account_file" in settings:
            path = settings["service_account_file"]
            try:
                with open(path, encoding="utf-8") as handle:
                    info = json.load(handle)
            except OSError as error:
                raise BindingConfigError(
                    f"service_account_file {path!r}: {error.strerror}"
                ) from None
            subject = settings.get("subject") or secret.get("subject")
            if not subject:
                raise BindingConfigError("service_account_file needs subject (the user's e-mail)")
            creds = google_http.service_account_credentials(
                info, subject, google_settings.token_uri
            )
        else:
            for key in ("client_id", "client_secret"):
                if not settings.get(key):
                    raise BindingConfigError(f"backend.{key} is missing")
            refresh = secret.get("refresh_token")
            if not refresh:
                raise BindingConfigError(
                    f"no refresh token stored: run `bridge google authorize {login}`"
                )
            fingerprint = hashlib.sha256(
                json.dumps([refresh, settings["client_id"], settings["client_secret"]]).encode()
            ).hexdigest()
            creds = self._cached(
                (binding_id, fingerprint, google_settings.token_uri),
                lambda: google_http.user_credentials(
                    refresh,
                    settings["client_id"],
                    settings["client_secret"],
                    google_settings.token_uri,
                ),
            )
        return GoogleBackend(creds, google_settings)
