"""HTTP authentication as IIS does it for EWS: Basic per request, NTLM per connection (pyspnego
is the acceptor; it reads its user table from the file named by NTLM_USER_FILE)."""

from __future__ import annotations

import base64
import binascii
import os
import tempfile
import threading

import spnego
from spnego.exceptions import SpnegoError

from .store import Account

_ENV_LOCK = threading.Lock()  # NTLM_USER_FILE is process-wide; one acceptor step at a time


class NtlmUsers:
    """The emulator's NTLM credential file (DOMAIN:USER:PASSWORD lines)."""

    def __init__(self) -> None:
        handle, self.path = tempfile.mkstemp(prefix="ews-ntlm-", suffix=".txt")
        os.close(handle)

    def write(self, accounts: list[Account]) -> None:
        lines = []
        for account in accounts:
            if "\\" in account.username:
                domain, user = account.username.split("\\", 1)
            else:
                domain, user = "", account.username
            lines.append(f"{domain}:{user}:{account.password}")
        with open(self.path, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")

    def remove(self) -> None:
        if os.path.exists(self.path):
            os.unlink(self.path)


class NtlmAcceptor:
    """One connection's NTLM handshake."""

    def __init__(self, users: NtlmUsers) -> None:
        self.users = users
        self.context: spnego.ContextProxy | None = None

    def step(self, token: bytes) -> tuple[bytes | None, str | None]:
        """(token to send back, authenticated user name when complete). Raises SpnegoError."""
        with _ENV_LOCK:
            previous = os.environ.get("NTLM_USER_FILE")
            os.environ["NTLM_USER_FILE"] = self.users.path
            try:
                if self.context is None or self.context.complete:
                    self.context = spnego.server(protocol="ntlm")
                out = self.context.step(token)
                user = self.context.client_principal if self.context.complete else None
            finally:
                if previous is None:
                    os.environ.pop("NTLM_USER_FILE", None)
                else:
                    os.environ["NTLM_USER_FILE"] = previous
        return out, user


def basic_credentials(value: str) -> tuple[str, str] | None:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    if ":" not in decoded:
        return None
    user, _, password = decoded.partition(":")
    return user, password


__all__ = ["NtlmAcceptor", "NtlmUsers", "SpnegoError", "basic_credentials"]
