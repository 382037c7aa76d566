"""The settings of a ``kind = "google"`` binding (``[users.bindings.backend]``)."""

from __future__ import annotations

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
)
