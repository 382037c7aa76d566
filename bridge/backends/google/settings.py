"""The settings of a ``kind = "google"`` binding (``[users.bindings.backend]``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.backends.settings_schema import KindSchema, Setting

#: Keys passed to ``google_http.GoogleSettings`` (how to reach and pace the API).
HTTP_OPTIONS = {
    "calendar_id": Setting(str, identity=True),
    "api_endpoint": Setting(str, identity=True),
    "batch_uri": Setting(str),
    "token_uri": Setting(str),
    "requests_per_second": Setting(float),
    "backoff_base": Setting(float),
    "backoff_max": Setting(float),
    "burst": Setting(int),
    "max_retries": Setting(int),
    "timeout": Setting(float),
    "page_size": Setting(int),
    "batch_size": Setting(int),
}


def account(settings: Mapping[str, Any]) -> str | None:
    """Google counts its per-user quota against the user acted for: a service account's
    ``subject``. An OAuth binding's user is only known to its refresh token: none named."""
    subject = settings.get("subject")
    if not subject:
        return None
    return f"{settings.get('api_endpoint') or 'https://www.googleapis.com'}|{subject.lower()}"


GOOGLE = KindSchema(
    "google",
    {
        **HTTP_OPTIONS,
        # OAuth for one user (`bridge google authorize` stores the refresh token) ...
        "client_id": Setting(str),
        "client_secret": Setting(str, secret=True),
        "auth_uri": Setting(str),
        "redirect_uri": Setting(str),
        # ... or a service account acting for the user (domain-wide delegation).
        "service_account_file": Setting(str, private_file="service-account file"),
        "subject": Setting(str, identity=True),
    },
    account=account,
)
