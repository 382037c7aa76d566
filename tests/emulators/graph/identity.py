"""Entra ID state: tenants, app registrations, grants, device codes, refresh tokens."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from .errors import GraphError, OAuthError

GRAPH_RESOURCES = ("https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000")
OIDC_SCOPES = {"openid", "profile", "offline_access", "email"}


@dataclass
class Tenant:
    id: str  # a GUID
    domains: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)  # UPNs, lower case


@dataclass
class App:
    tenant_id: str
    client_id: str
    secrets: set[str] = field(default_factory=set)
    roles: frozenset[str] = frozenset()  # application permissions granted (admin consent)
    delegated: frozenset[str] = frozenset()  # delegated permissions consented
    public: bool = False  # "Allow public client flows" (device code without a secret)
    certificate_pem: str | None = None


@dataclass
class Grant:
    """What an access token stands for."""

    tenant_id: str
    client_id: str
    user: str | None  # UPN for delegated tokens, None for app-only
    permissions: frozenset[str]  # roles (app-only) or scopes (delegated)
    expires: float

    @property
    def delegated(self) -> bool:
        return self.user is not None


@dataclass
class DeviceFlow:
    device_code: str
    user_code: str
    tenant: str  # as named in the request path (GUID, domain, organizations, common)
    client_id: str
    scopes: frozenset[str]
    expires: float
    interval: int
    user: str | None = None
    declined: bool = False


@dataclass
class RefreshGrant:
    tenant_id: str
    client_id: str
    user: str
    scopes: frozenset[str]
    revoked: bool = False


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def fake_jwt(claims: dict[str, Any]) -> str:
    """JWT-shaped (header.claims.signature); the signature is random, validation is by lookup."""
    header = {"typ": "JWT", "alg": "RS256", "kid": "graph-emulator"}
    return f"{_b64(header)}.{_b64(claims)}.{secrets.token_urlsafe(32)}"


class Identity:
    """Thread-safe registry of tenants, apps and issued tokens."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tenants: dict[str, Tenant] = {}
        self.apps: dict[str, App] = {}
        self.access: dict[str, Grant] = {}
        self.refresh: dict[str, RefreshGrant] = {}
        self.devices: dict[str, DeviceFlow] = {}
        self.token_lifetime = 3600
        #: Whether redeeming a refresh token consumes it (the answer carries its successor
        #: and the old one is refused from then on): the strict reading of rotation.
        self.rotate_refresh = False

    # --- registry ------------------------------------------------------------------------
    def add_tenant(self, domain: str, tenant_id: str | None = None) -> Tenant:
        with self.lock:
            tenant = Tenant(tenant_id or str(uuid.uuid4()), {domain.lower()})
            self.tenants[tenant.id] = tenant
            return tenant

    def find_tenant(self, name: str) -> Tenant | None:
        with self.lock:
            key = name.lower()
            if key in self.tenants:
                return self.tenants[key]
            return next((t for t in self.tenants.values() if key in t.domains), None)

    def tenant_of_user(self, upn: str) -> Tenant | None:
        with self.lock:
            return next((t for t in self.tenants.values() if upn.lower() in t.users), None)

    def add_app(self, app: App) -> App:
        with self.lock:
            self.apps[app.client_id] = app
            return app

    # --- issuing -------------------------------------------------------------------------
    def issue(
        self,
        tenant_id: str,
        client_id: str,
        permissions: frozenset[str],
        user: str | None = None,
        issuer_base: str = "",
    ) -> tuple[str, int]:
        now = time.time()
        grant = Grant(tenant_id, client_id, user, permissions, now + self.token_lifetime)
        claims: dict[str, Any] = {
            "aud": GRAPH_RESOURCES[0],
            "iss": f"https://sts.windows.net/{tenant_id}/",
            "iat": int(now),
            "nbf": int(now),
            "exp": int(grant.expires),
            "tid": tenant_id,
            "appid": client_id,
            "jti": secrets.token_hex(8),
        }
        if user is None:
            claims["roles"] = sorted(permissions)
        else:
            claims["scp"] = " ".join(sorted(permissions))
            claims["upn"] = user
        token = fake_jwt(claims)
        with self.lock:
            self.access[token] = grant
        return token, self.token_lifetime

    def issue_refresh(self, grant: RefreshGrant) -> str:
        token = "0.R." + secrets.token_urlsafe(48)
        with self.lock:
            self.refresh[token] = grant
        return token

    def expire_access_tokens(self) -> None:
        with self.lock:
            for grant in self.access.values():
                grant.expires = 0

    def revoke_refresh_tokens(self, user: str) -> None:
        with self.lock:
            for grant in self.refresh.values():
                if grant.user == user.lower():
                    grant.revoked = True

    # --- checking ------------------------------------------------------------------------
    def grant_for(self, authorization: str | None) -> Grant:
        """The grant behind an `Authorization: Bearer ...` header, or 401 as Graph answers."""
        if not authorization:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
        with self.lock:
            grant = self.access.get(token.strip())
        if grant is None:
            raise GraphError(
                401,
                "InvalidAuthenticationToken",
                "Access token validation failure. Invalid audience.",
            )
        if grant.expires <= time.time():
            raise GraphError(
                401,
                "InvalidAuthenticationToken",
                "Lifetime validation failed, the token is expired.",
            )
        return grant

    def client(self, tenant: Tenant, client_id: str) -> App:
        with self.lock:
            app = self.apps.get(client_id)
        if app is None or app.tenant_id != tenant.id:
            raise OAuthError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{tenant.id}'. This can happen if the application has not been installed by the "
                "administrator of the tenant or consented to by any user in the tenant.",
            )
        return app
