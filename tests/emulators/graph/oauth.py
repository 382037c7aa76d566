"""Entra ID v2.0 endpoints: OpenID configuration, instance discovery, token, device code."""

from __future__ import annotations

import base64
import json
import secrets
import string
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .certs import check_assertion
from .errors import OAuthError
from .identity import (
    GRAPH_RESOURCES,
    OIDC_SCOPES,
    App,
    DeviceFlow,
    Identity,
    RefreshGrant,
    Tenant,
    fake_jwt,
)

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MULTI_TENANT = ("organizations", "common")


def graph_permission(scope: str) -> str | None:
    """'https://graph.microsoft.com/Calendars.ReadWrite' or 'Calendars.ReadWrite' -> the name."""
    for resource in GRAPH_RESOURCES:
        if scope.lower().startswith(resource.lower() + "/"):
            return scope[len(resource) + 1 :]
    if "/" in scope or scope.lower() in OIDC_SCOPES:
        return None
    return scope


class OAuth:
    """The HTTP side of Identity. `base()` is the advertised (https) authority base URL."""

    def __init__(self, identity: Identity, base: Callable[[], str]) -> None:
        self.identity = identity
        self.base = base
        self.device_interval = 5
        self.device_lifetime = 900
        self.requests: list[dict[str, str]] = []  # token endpoint forms, secrets masked

    # --- discovery -----------------------------------------------------------------------
    def tenant(self, name: str) -> Tenant:
        tenant = self.identity.find_tenant(name)
        if tenant is None:
            raise OAuthError(
                400,
                "invalid_tenant" if "." not in name else "invalid_request",
                90002,
                f"Tenant '{name}' not found. Check to make sure you have the correct tenant ID and "
                "are signing into the correct cloud.",
            )
        return tenant

    def issuer(self, tenant_id: str) -> str:
        return f"{self.base()}/{tenant_id}/v2.0"

    async def openid_configuration(self, request: web.Request) -> web.Response:
        name = request.match_info["tenant"]
        try:
            tenant_id = "{tenantid}" if name in MULTI_TENANT else self.tenant(name).id
        except OAuthError as exc:
            return web.json_response(exc.body(), status=exc.status)
        root = f"{self.base()}/{name}"
        return web.json_response(
            {
                "token_endpoint": f"{root}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{root}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": self.issuer(tenant_id),
                "request_uri_parameter_supported": False,
                "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
                "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
                "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
                "tenant_region_scope": "EU",
                "cloud_instance_name": "microsoftonline.com",
                "msgraph_host": "graph.microsoft.com",
            }
        )

    async def instance_discovery(self, request: web.Request) -> web.Response:
        """/common/discovery/instance: what msal asks before trusting an authority host."""
        endpoint = request.query.get("authorization_endpoint", "")
        host = endpoint.split("/")[2] if endpoint.count("/") >= 3 else ""
        own = self.base().split("/")[2]
        known = {own.split(":")[0].lower(), "login.microsoftonline.com"}
        if host.split(":")[0].lower() not in known:
            return web.json_response(
                {
                    "error": "invalid_instance",
                    "error_description": "AADSTS50049: Unknown or invalid instance.",
                    "error_codes": [50049],
                },
                status=400,
            )
        path = endpoint.split("/", 3)[3] if endpoint.count("/") >= 3 else ""
        tenant = path.split("/")[0] or "common"
        return web.json_response(
            {
                "tenant_discovery_endpoint": (
                    f"{self.base()}/{tenant}/v2.0/.well-known/openid-configuration"
                ),
                "api-version": "1.1",
                "metadata": [
                    {
                        "preferred_network": own,
                        "preferred_cache": own,
                        "aliases": [own, own.split(":")[0], "login.microsoftonline.com"],
                    },
                ],
            }
        )

    # --- token ---------------------------------------------------------------------------
    async def token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.requests.append({k: ("***" if "secret" in k else str(v)) for k, v in form.items()})
        try:
            tenant = self.tenant(request.match_info["tenant"])
            body = self.grant(
                tenant, {k: str(v) for k, v in form.items()}, self.base() + request.path
            )
        except OAuthError as exc:
            return web.json_response(exc.body(), status=exc.status)
        return web.json_response(body, headers={"Cache-Control": "no-store"})

    def grant(self, tenant: Tenant, form: dict[str, str], url: str) -> dict[str, Any]:
        grant_type = form.get("grant_type")
        if not grant_type:
            raise missing("grant_type")
        client_id = form.get("client_id")
        if not client_id:
            raise missing("client_id")
        app = self.identity.client(tenant, client_id)
        if grant_type == "client_credentials":
            self.authenticate(app, form, url, required=True)
            return self.client_credentials(tenant, app, form.get("scope", ""))
        if grant_type == DEVICE_GRANT:
            self.authenticate(app, form, url, required=not app.public)
            return self.device_token(tenant, app, form.get("device_code", ""))
        if grant_type == "refresh_token":
            self.authenticate(app, form, url, required=not app.public)
            return self.refreshed(tenant, app, form)
        raise OAuthError(
            400,
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{grant_type}'.",
        )

    def authenticate(self, app: App, form: dict[str, str], url: str, *, required: bool) -> None:
        secret = form.get("client_secret")
        assertion = form.get("client_assertion")
        if secret is not None:
            if secret not in app.secrets:
                raise OAuthError(
                    401,
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the request "
                    f"is the client secret value, not the client secret ID, for a secret added to "
                    f"app '{app.client_id}'.",
                )
            return
        if assertion is not None:
            if form.get("client_assertion_type") != ASSERTION_TYPE:
                raise OAuthError(400, "invalid_request", 50027, "Invalid client_assertion_type.")
            problem = check_assertion(assertion, app, url.split("?")[0])
            if problem:
                raise OAuthError(401, "invalid_client", 700027, problem)
            return
        if required:
            raise OAuthError(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'.",
            )

    def client_credentials(self, tenant: Tenant, app: App, scope: str) -> dict[str, Any]:
        scopes = scope.split()
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            raise OAuthError(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows "
                "must have a scope value with /.default suffixed to the resource identifier "
                "(application ID URI).",
            )
        resource = scopes[0][: -len("/.default")]
        if resource.lower() not in (r.lower() for r in GRAPH_RESOURCES):
            raise OAuthError(
                400,
                "invalid_resource",
                500011,
                f"The resource principal named {resource} was not found in the tenant.",
            )
        token, lifetime = self.identity.issue(tenant.id, app.client_id, app.roles)
        return {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }

    # --- delegated -----------------------------------------------------------------------
    def requested(self, app: App, scope: str) -> frozenset[str]:
        wanted = {p for s in scope.split() if (p := graph_permission(s))}
        missing_consent = wanted - app.delegated
        if missing_consent:
            raise OAuthError(
                400,
                "invalid_grant",
                65001,
                f"The user or administrator has not consented to use the application with ID "
                f"'{app.client_id}'. Send an interactive authorization request for this user "
                f"and resource. Missing: {', '.join(sorted(missing_consent))}.",
            )
        return frozenset(wanted)

    async def devicecode(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        name = request.match_info["tenant"]
        try:
            if name not in MULTI_TENANT:
                self.tenant(name)
            client_id = form.get("client_id")
            if not client_id:
                raise missing("client_id")
            with self.identity.lock:
                app = self.identity.apps.get(client_id)
            if app is None:
                raise OAuthError(
                    400,
                    "unauthorized_client",
                    700016,
                    f"Application with identifier '{client_id}' was not found in the directory.",
                )
            scopes = self.requested(app, form.get("scope", ""))
        except OAuthError as exc:
            return web.json_response(exc.body(), status=exc.status)
        code = "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(9))
        flow = DeviceFlow(
            device_code=secrets.token_urlsafe(32),
            user_code=code,
            tenant=name,
            client_id=client_id,
            scopes=scopes | ({"offline_access"} & set(form.get("scope", "").split())),
            expires=time.time() + self.device_lifetime,
            interval=self.device_interval,
        )
        with self.identity.lock:
            self.identity.devices[flow.device_code] = flow
        return web.json_response(
            {
                "user_code": code,
                "device_code": flow.device_code,
                "verification_uri": "https://microsoft.com/devicelogin",
                "expires_in": self.device_lifetime,
                "interval": flow.interval,
                "message": f"To sign in, open https://microsoft.com/devicelogin and enter {code}.",
            }
        )

    def device_token(self, tenant: Tenant, app: App, device_code: str) -> dict[str, Any]:
        with self.identity.lock:
            flow = self.identity.devices.get(device_code)
        if flow is None or flow.client_id != app.client_id:
            raise OAuthError(400, "invalid_grant", 70000, "The provided device code is invalid.")
        if flow.expires <= time.time():
            raise OAuthError(400, "expired_token", 70020, "The provided device code has expired.")
        if flow.declined:
            raise OAuthError(
                400, "authorization_declined", 70000, "The user declined the authorization."
            )
        if flow.user is None:
            raise OAuthError(
                400,
                "authorization_pending",
                70016,
                "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
            )
        with self.identity.lock:
            del self.identity.devices[device_code]
        grant = RefreshGrant(tenant.id, app.client_id, flow.user, frozenset(flow.scopes))
        return self.delegated_answer(grant, flow.scopes)

    def refreshed(self, tenant: Tenant, app: App, form: dict[str, str]) -> dict[str, Any]:
        token = form.get("refresh_token")
        if not token:
            raise missing("refresh_token")
        with self.identity.lock:
            grant = self.identity.refresh.get(token)
        if grant is None or grant.client_id != app.client_id or grant.tenant_id != tenant.id:
            raise OAuthError(
                400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid."
            )
        if grant.revoked:
            raise OAuthError(
                400,
                "invalid_grant",
                50173,
                "The provided grant has expired due to it being revoked, a fresh auth token is "
                "needed. The user might have changed or reset their password.",
            )
        wanted = self.requested(app, form.get("scope", "")) or grant.scopes
        extra = {w for w in wanted if w != "offline_access"} - grant.scopes
        if extra:
            raise OAuthError(
                400,
                "invalid_grant",
                65001,
                f"The user has not consented to the scopes {', '.join(sorted(extra))}.",
            )
        if self.identity.rotate_refresh:
            with self.identity.lock:
                self.identity.refresh.pop(token, None)  # its successor is in the answer
        return self.delegated_answer(grant, grant.scopes)

    def delegated_answer(self, grant: RefreshGrant, scopes: frozenset[str]) -> dict[str, Any]:
        permissions = frozenset(s for s in scopes if s != "offline_access")
        access, lifetime = self.identity.issue(
            grant.tenant_id, grant.client_id, permissions, user=grant.user
        )
        oid = grant.user  # stable per user; good enough as an object id for the emulator
        now = int(time.time())
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join(f"{GRAPH_RESOURCES[0]}/{p}" for p in sorted(permissions)),
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": access,
            "id_token": fake_jwt(
                {
                    "aud": grant.client_id,
                    "iss": self.issuer(grant.tenant_id),
                    "iat": now,
                    "nbf": now,
                    "exp": now + lifetime,
                    "oid": oid,
                    "sub": oid,
                    "tid": grant.tenant_id,
                    "preferred_username": grant.user,
                    "name": grant.user,
                    "ver": "2.0",
                }
            ),
            "client_info": base64.urlsafe_b64encode(
                json.dumps({"uid": oid, "utid": grant.tenant_id}).encode()
            )
            .rstrip(b"=")
            .decode(),
        }
        if "offline_access" in scopes:
            body["refresh_token"] = self.identity.issue_refresh(grant)
        return body


def missing(parameter: str) -> OAuthError:
    return OAuthError(
        400,
        "invalid_request",
        900144,
        f"The request body must contain the following parameter: '{parameter}'.",
    )
