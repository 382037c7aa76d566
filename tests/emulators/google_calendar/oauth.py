"""The OAuth 2.0 side: token endpoint (refresh, code, service-account JWT) and bearer checks."""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from .errors import ApiError

SCOPE = "https://www.googleapis.com/auth/calendar"


@dataclass
class Grant:
    principal: str
    client_id: str | None
    revoked: bool = False


class OAuth:
    """Refresh tokens, access tokens and authorization codes, each tied to a user (principal)."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.lifetime = timedelta(seconds=3599)
        self.refresh_tokens: dict[str, Grant] = {}
        self.access_tokens: dict[str, tuple[str, datetime]] = {}
        self.codes: dict[str, tuple[str, str | None]] = {}
        self.service_accounts: set[str] | None = None  # None: any issuer may impersonate

    # --- used by tests -------------------------------------------------------------------
    def grant(self, principal: str, client_id: str | None = None) -> str:
        """A new refresh token for `principal` (what `bridge google authorize` would store)."""
        token = "1//" + secrets.token_urlsafe(24)
        with self.lock:
            self.refresh_tokens[token] = Grant(principal, client_id)
        return token

    def revoke(self, refresh_token: str) -> None:
        """The user revoked access: the refresh token now answers invalid_grant."""
        with self.lock:
            self.refresh_tokens[refresh_token].revoked = True
            principal = self.refresh_tokens[refresh_token].principal
            for token, (who, _) in list(self.access_tokens.items()):
                if who == principal:
                    del self.access_tokens[token]

    def issue(self, principal: str) -> str:
        """A valid access token for `principal`, without a refresh round trip."""
        token = "ya29." + secrets.token_urlsafe(32)
        with self.lock:
            self.access_tokens[token] = (principal, self.clock() + self.lifetime)
        return token

    def expire_access_tokens(self) -> None:
        """Every access token answers 401 from now on; clients must refresh."""
        with self.lock:
            self.access_tokens.clear()

    def issue_code(self, principal: str, client_id: str | None = None) -> str:
        code = "4/" + secrets.token_urlsafe(16)
        with self.lock:
            self.codes[code] = (principal, client_id)
        return code

    # --- wire ----------------------------------------------------------------------------
    def principal(self, authorization: str | None) -> str:
        unauthorized = ApiError(
            401,
            "authError",
            "Request had invalid authentication credentials. Expected OAuth 2 access token.",
            headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
            location="Authorization",
        )
        if not authorization or not authorization.startswith("Bearer "):
            raise unauthorized
        with self.lock:
            found = self.access_tokens.get(authorization[len("Bearer ") :].strip())
        if found is None or found[1] <= self.clock():
            raise unauthorized
        return found[0]

    def token_endpoint(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant_type = form.get("grant_type")
        with self.lock:
            if grant_type == "refresh_token":
                grant = self.refresh_tokens.get(form.get("refresh_token", ""))
                if grant is None or grant.revoked:
                    return bad("invalid_grant", "Token has been expired or revoked.")
                if grant.client_id and form.get("client_id") != grant.client_id:
                    return bad("unauthorized_client", "Unauthorized")
                return 200, self._answer(grant.principal)
            if grant_type == "authorization_code":
                found = self.codes.pop(form.get("code", ""), None)
                if found is None:
                    return bad("invalid_grant", "Malformed auth code.")
                refresh = self.grant(found[0], found[1] or form.get("client_id"))
                return 200, {**self._answer(found[0]), "refresh_token": refresh}
            if grant_type == "urn:ietf:params:oauth:grant-type:jwt-bearer":
                claims = jwt_claims(form.get("assertion", ""))
                issuer = claims.get("iss")
                if not issuer or (
                    self.service_accounts is not None and issuer not in self.service_accounts
                ):
                    return bad("invalid_grant", "Invalid JWT Signature.")
                return 200, self._answer(claims.get("sub") or issuer)
        return bad("unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def consent_redirect(self, query: dict[str, str], principal: str) -> str:
        """Where the consent page would send the browser: redirect_uri with code and state."""
        code = self.issue_code(principal, query.get("client_id"))
        params = {"code": code, "scope": query.get("scope", SCOPE)}
        if "state" in query:
            params["state"] = query["state"]
        return f"{query['redirect_uri']}?{urlencode(params)}"

    def _answer(self, principal: str) -> dict[str, Any]:
        return {
            "access_token": self.issue(principal),
            "expires_in": int(self.lifetime.total_seconds()),
            "scope": SCOPE,
            "token_type": "Bearer",
        }


def bad(error: str, description: str) -> tuple[int, dict[str, Any]]:
    return 400, {"error": error, "error_description": description}


def jwt_claims(assertion: str) -> dict[str, Any]:
    try:
        payload = assertion.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return data if isinstance(data, dict) else {}
    except (IndexError, ValueError):
        return {}
