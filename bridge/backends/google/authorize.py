"""`bridge google authorize`, Google's part: the consent address, and the refresh token
the code read back from the user is exchanged for (OAuth 2.0 for installed apps)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/auth"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
GOOGLE_SCOPE = "https://www.googleapis.com/auth/calendar"
DEFAULT_REDIRECT = "http://127.0.0.1:8765/"


class AuthorizeError(Exception):
    """The flow cannot go on; the message says why, in words for the admin."""


def consent_url(settings: Mapping[str, Any], email: str = "") -> str:
    """The address where the user consents (offline access: a refresh token comes back)."""
    for key in ("client_id", "client_secret"):
        if not settings.get(key):
            raise AuthorizeError(f"backend.{key} is missing")
    query = {
        "client_id": settings["client_id"],
        "redirect_uri": settings.get("redirect_uri", DEFAULT_REDIRECT),
        "response_type": "code",
        "scope": GOOGLE_SCOPE,
        "access_type": "offline",
        "prompt": "consent",
        "login_hint": email,
    }
    return settings.get("auth_uri", GOOGLE_AUTH_URI) + "?" + urllib.parse.urlencode(query)


def code_of(answer: str) -> str:
    """The code in the address the user was sent to, or the answer itself (a bare code)."""
    answer = answer.strip()
    return urllib.parse.parse_qs(urllib.parse.urlsplit(answer).query).get("code", [answer])[0]


def exchange(settings: Mapping[str, Any], code: str) -> dict[str, str]:
    """The secret to store for the binding: the refresh token the code is exchanged for."""
    form = urllib.parse.urlencode(
        {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": settings["client_id"],
            "client_secret": settings["client_secret"],
            "redirect_uri": settings.get("redirect_uri", DEFAULT_REDIRECT),
        }
    ).encode()
    token_uri = settings.get("token_uri", GOOGLE_TOKEN_URI)
    try:
        with urllib.request.urlopen(token_uri, data=form, timeout=30) as response:
            tokens = json.load(response)
    except urllib.error.HTTPError as error:
        detail = error.read().decode("utf-8", "replace")
        raise AuthorizeError(f"the token endpoint refused the code: {detail}") from None
    if "refresh_token" not in tokens:
        raise AuthorizeError("no refresh token in the answer (was prompt=consent honoured?)")
    return {"refresh_token": tokens["refresh_token"]}


def authorize(settings: Mapping[str, Any], email: str, ask: Callable[[str], str]) -> dict[str, str]:
    """The whole flow: ``ask(url)`` shows the consent address and returns what the user
    pasted back; returns the secret to store."""
    return exchange(settings, code_of(ask(consent_url(settings, email))))
