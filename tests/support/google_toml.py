"""The TOML of a Google binding on the emulator, for configs the tests write."""

from __future__ import annotations

from typing import Any


def google_binding(
    google: Any,
    *,
    name: str = "google",
    client_secret: str = "secret",
    backend: str = "",
    rules: str = "",
) -> str:
    """A ``[[users.bindings]]`` table (after a ``[[users]]`` one) reaching ``google``, the
    emulator; ``backend`` lines join its backend table, ``rules`` (whole tables) follow."""
    return f"""
[[users.bindings]]
name = "{name}"
kind = "google"
[users.bindings.backend]
client_id = "client-id"
client_secret = "{client_secret}"
api_endpoint = "{google.api_endpoint}"
batch_uri = "{google.batch_uri}"
token_uri = "{google.token_uri}"
{backend}
{rules}
"""


def google_settings(google: Any, **changes: Any) -> dict[str, Any]:
    """A Google binding's backend settings reaching ``google`` (the emulator), unpaced
    (tests and benches measure the bridge, not the default 5 requests a second), with
    ``changes`` applied."""
    return {
        "calendar_id": "primary",
        "api_endpoint": google.api_endpoint,
        "batch_uri": google.batch_uri,
        "token_uri": google.token_uri,
        "client_id": "client-id",
        "client_secret": "secret",
        "requests_per_second": 1000,
        "backoff_base": 0.01,
        **changes,
    }
