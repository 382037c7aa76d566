"""`bridge graph authorize`, Microsoft's part: the device-code flow (msal
PublicClientApplication) for a delegated binding; the refresh token it yields is what the
binding's secret stores."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import requests

from bridge.backends.graph.auth import USER_SCOPES, authority_of, describe_token_error
from bridge.backends.graph.settings import DEFAULT_AUTHORITY, GraphSettings


class AuthorizeError(Exception):
    """The flow cannot go on; the message says why, in words for the admin."""


def _settings(settings: Mapping[str, Any]) -> GraphSettings:
    for key in ("tenant", "client_id"):
        if not settings.get(key):
            raise AuthorizeError(f"backend.{key} is missing")
    if any(k in settings for k in ("client_secret_file", "client_secret_env", "certificate_file")):
        raise AuthorizeError(
            "the binding signs in app-only (client secret or certificate): nothing to authorize"
        )
    return GraphSettings(
        tenant=str(settings["tenant"]),
        client_id=str(settings["client_id"]),
        mailbox=str(settings.get("mailbox", "")),
        authority_host=str(settings.get("authority_host", DEFAULT_AUTHORITY)).rstrip("/"),
        timeout=float(settings.get("timeout", 30.0)),
    )


def authorize(settings: Mapping[str, Any], show: Callable[[str], None]) -> dict[str, str]:
    """The whole flow: ``show`` tells the user where to enter which code; returns the
    secret to store ({"refresh_token": ...}) once they signed in."""
    import msal

    from bridge.backends.graph.auth import PlainHttpSession

    typed = _settings(settings)
    authority, plain = authority_of(typed)
    try:
        app = msal.PublicClientApplication(
            typed.client_id,
            authority=authority,
            http_client=PlainHttpSession(plain, typed.timeout),
            instance_discovery=False,
        )
        flow = app.initiate_device_flow(scopes=USER_SCOPES)
        if "user_code" not in flow:
            raise AuthorizeError(describe_token_error(flow))
        show(str(flow.get("message") or f"Enter {flow['user_code']} at {flow['verification_uri']}"))
        result = app.acquire_token_by_device_flow(flow)
    except ValueError as error:
        raise AuthorizeError(f"Microsoft Entra: tenant {typed.tenant!r}: {error}") from None
    except requests.RequestException as error:
        raise AuthorizeError(f"Microsoft Entra unreachable: {type(error).__name__}") from None
    if "refresh_token" not in result:
        raise AuthorizeError(describe_token_error(result))
    return {"refresh_token": str(result["refresh_token"])}
