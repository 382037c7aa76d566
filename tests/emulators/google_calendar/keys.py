"""A service-account key file, as the Google console would hand it out, for tests."""

from __future__ import annotations

from typing import Any


def service_account_info(token_uri: str) -> dict[str, Any]:
    """Service-account JSON with a fresh RSA key (the emulator accepts any signer)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "client_email": "bridge@project.iam.gserviceaccount.com",
        "private_key": pem,
        "private_key_id": "k1",
        "token_uri": token_uri,
    }
