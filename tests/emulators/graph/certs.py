"""Certificate credentials: checking a client_assertion JWT against the app's certificate."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes

if TYPE_CHECKING:
    from .identity import App


def thumbprints(certificate_pem: str) -> set[str]:
    """The x5t (SHA-1) and x5t#S256 values that identify a certificate."""
    cert = x509.load_pem_x509_certificate(certificate_pem.encode())
    return {
        base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA1())).rstrip(b"=").decode(),  # noqa: S303
        base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA256())).rstrip(b"=").decode(),
    }


def check_assertion(assertion: str, app: App, token_endpoint: str) -> str | None:
    """None when the assertion is a valid RS256/PS256 JWT from the app's certificate."""
    if not app.certificate_pem:
        return f"No certificate credential is registered for application '{app.client_id}'."
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError as exc:
        return f"The client assertion is not a well formed JWT: {exc}."
    thumb = header.get("x5t#S256") or header.get("x5t")
    if str(thumb).rstrip("=") not in thumbprints(app.certificate_pem):
        return (
            f"The certificate with identifier used to sign the client assertion is not "
            f"registered on application '{app.client_id}'."
        )
    key = x509.load_pem_x509_certificate(app.certificate_pem.encode()).public_key()
    try:
        claims = jwt.decode(
            assertion,
            key,  # type: ignore[arg-type]
            algorithms=["RS256", "PS256"],
            audience=token_endpoint,
            options={"require": ["exp", "aud", "iss", "sub"]},
        )
    except jwt.PyJWTError as exc:
        return f"Client assertion failed signature or claim validation: {exc}."
    if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
        return "The client assertion's iss and sub must both be the application's client id."
    return None
