"""The Graph emulator's sign-ins through msal: device code, refresh tokens, certificates."""

from __future__ import annotations

import datetime
import threading

import msal
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.emulators.graph import GraphEmulator
from tests.emulators.graph.fixtures import (  # noqa: F401 - fixtures
    ALICE,
    BOB,
    DOMAIN,
    GRAPH_DEFAULT,
    Client,
    graph_fixture,
)

SCOPES = ["https://graph.microsoft.com/Calendars.ReadWrite"]


def public_app(graph: GraphEmulator, client_id: str = "cli") -> msal.PublicClientApplication:
    return msal.PublicClientApplication(
        client_id, authority=f"{graph.authority}/{DOMAIN}", http_client=graph.http_client()
    )


def sign_in(graph: GraphEmulator, app: msal.PublicClientApplication, upn: str) -> dict:
    flow = app.initiate_device_flow(scopes=SCOPES)
    assert flow["user_code"] and "devicelogin" in flow["verification_uri"]
    approver = threading.Timer(1.2, graph.approve_device, (flow["user_code"], upn))
    approver.start()
    try:
        return app.acquire_token_by_device_flow(flow)
    finally:
        approver.cancel()


def test_device_code_then_refresh(graph: GraphEmulator) -> None:
    graph.device_interval = 1
    graph.add_app(DOMAIN, "cli", public=True)
    app = public_app(graph)
    result = sign_in(graph, app, ALICE)
    assert "access_token" in result, result
    assert result["refresh_token"] and result["id_token_claims"]["preferred_username"] == ALICE
    polls = [r for r in graph.token_requests if "device_code" in r.get("grant_type", "")]
    assert len(polls) >= 2  # at least one authorization_pending before the approval
    me = Client(graph.graph_url, result["access_token"])
    assert me("GET", "/me/events").status == 200
    assert me("GET", f"/users/{BOB}/events").status == 403  # delegated: own mailbox only
    refreshed = app.acquire_token_by_refresh_token(result["refresh_token"], SCOPES)
    assert "access_token" in refreshed and refreshed["access_token"] != result["access_token"]
    graph.revoke_refresh_tokens(ALICE)
    revoked = app.acquire_token_by_refresh_token(result["refresh_token"], SCOPES)
    assert revoked["error"] == "invalid_grant" and "AADSTS50173" in revoked["error_description"]
    unknown = app.acquire_token_by_refresh_token("0.R.nonsense", SCOPES)
    assert unknown["error"] == "invalid_grant"


def test_device_code_declined_and_consent(graph: GraphEmulator) -> None:
    graph.device_interval = 1
    graph.add_app(DOMAIN, "cli", public=True)
    app = public_app(graph)
    flow = app.initiate_device_flow(scopes=SCOPES)
    graph.decline_device(flow["user_code"])
    assert app.acquire_token_by_device_flow(flow)["error"] == "authorization_declined"
    graph.add_app(DOMAIN, "narrow", public=True, delegated=("User.Read",))
    refused = public_app(graph, "narrow").initiate_device_flow(scopes=SCOPES)
    assert refused["error"] == "invalid_grant" and "AADSTS65001" in refused["error_description"]


def test_confidential_app_needs_a_credential_for_device_code(graph: GraphEmulator) -> None:
    graph.device_interval = 1
    app = public_app(graph, "app-id")  # registered confidential: no public client flows
    flow = app.initiate_device_flow(scopes=SCOPES)
    graph.approve_device(flow["user_code"], ALICE)
    result = app.acquire_token_by_device_flow(flow)
    assert result["error"] == "invalid_client" and "AADSTS7000218" in result["error_description"]


def test_client_credentials_scope_must_be_default(graph: GraphEmulator) -> None:
    app = msal.ConfidentialClientApplication(
        "app-id",
        client_credential="app-secret",
        authority=f"{graph.authority}/{DOMAIN}",
        http_client=graph.http_client(),
    )
    result = app.acquire_token_for_client(SCOPES)
    assert result["error"] == "invalid_scope" and "AADSTS1002012" in result["error_description"]


def make_certificate() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bridge")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


def test_certificate_client_assertion(graph: GraphEmulator) -> None:
    key_pem, cert_pem = make_certificate()
    other_key, _ = make_certificate()
    graph.add_app(DOMAIN, "cert-app", certificate_pem=cert_pem)

    def token(private_key: str) -> dict:
        app = msal.ConfidentialClientApplication(
            "cert-app",
            client_credential={"private_key": private_key, "public_certificate": cert_pem},
            authority=f"{graph.authority}/{DOMAIN}",
            http_client=graph.http_client(),
        )
        return app.acquire_token_for_client([GRAPH_DEFAULT])

    good = token(key_pem)
    assert "access_token" in good, good
    bad = token(other_key)
    assert bad["error"] == "invalid_client" and "AADSTS700027" in bad["error_description"]
    assert all(r.get("client_assertion") for r in graph.token_requests)
    assert not any("client_secret" in r for r in graph.token_requests)
