"""REST API keys: ``Authorization: Bearer <key>`` checked against ``[[api.keys]]``.

The file holds only hashes (bridge.config.api): ``sha256:<hex>`` is compared in constant
time; a bcrypt hash is checked with bcrypt once per key and process, then remembered as
an HMAC under a per-process pepper (as bridge.api.login does for htpasswd). A key that
proves itself is handed to the log scrubber (bridge.log_setup.remember), so it never
reaches a log line even if some library echoes a header.

``new_key()`` makes a key and ``hash_key()`` its ``sha256:`` hash (`bridge api new-key`,
`bridge api hash-key`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import threading
from collections.abc import Sequence

import bcrypt
from aiohttp import web

from bridge import log_setup
from bridge.config.api import ApiKey

#: The prefix of keys `bridge api new-key` makes (lets a secret scanner find leaked ones).
KEY_PREFIX = "crmb_"
#: What a key-proven admin is called by the status page's gate (bridge.api.login).
ADMIN_PREFIX = "api:"


def new_key() -> str:
    """A fresh random key (256 bits)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """The ``sha256:`` hash of ``key`` for ``[[api.keys]] hash``."""
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def bearer_token(request: web.Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or None."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    value = value.strip()
    # keys are printable ASCII (new_key: URL-safe base64); anything else proves nothing
    # (aiohttp hands undecodable header bytes on as lone surrogates)
    if not value or not (value.isascii() and value.isprintable()):
        return None
    return value


class ApiKeys:
    """The configured keys; ``find(token)`` is the key a token proves, or None."""

    def __init__(self, keys: Sequence[ApiKey]) -> None:
        self.keys = list(keys)
        self._pepper = secrets.token_bytes(32)
        self._proven: dict[bytes, ApiKey] = {}
        self._lock = threading.Lock()

    def _mark(self, token: str) -> bytes:
        return hmac.new(self._pepper, token.encode("utf-8"), hashlib.sha256).digest()

    def find(self, token: str) -> ApiKey | None:
        if not token or len(token) > 512:
            return None
        mark = self._mark(token)
        with self._lock:
            known = self._proven.get(mark)
        if known is not None:
            return known
        digest = hash_key(token)
        found = None
        for key in self.keys:
            if key.hash.startswith("sha256:"):
                ok = hmac.compare_digest(key.hash.encode(), digest.encode())
            else:
                try:
                    ok = bcrypt.checkpw(token.encode("utf-8"), key.hash.encode("ascii"))
                except ValueError:
                    ok = False
            if ok and found is None:
                found = key
        if found is not None:
            log_setup.remember([token])
            with self._lock:
                self._proven[mark] = found
        return found

    async def of_request(self, request: web.Request) -> ApiKey | None:
        token = bearer_token(request)
        if token is None:
            return None
        return await asyncio.to_thread(self.find, token)

    async def admin_login(self, request: web.Request) -> str | None:
        """An Authenticator for bridge.api.login's gate: ``api:<name>`` for a valid key
        (the gate lets in those ``admin_logins`` names: keys scoped to every user)."""
        key = await self.of_request(request)
        return None if key is None else ADMIN_PREFIX + key.name


def admin_logins(keys: Sequence[ApiKey]) -> tuple[str, ...]:
    """The logins ``ApiKeys.admin_login`` gives: one per key scoped to every user."""
    return tuple(ADMIN_PREFIX + key.name for key in keys if key.all_users)
