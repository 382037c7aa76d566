"""Who may see the operator pages (/status, /metrics) of the API.

A request is let in when one of the gate's authenticators names a login that
``[api] admins`` lists. One authenticator is HTTP basic auth checked against the
htpasswd file the CalDAV server uses (bcrypt); the other is REST API keys
(bridge.api.keys: a key proves ``api:<name>``, an admin when the key is scoped to every
user). An ``Authenticator`` is a function from the request to the login it proves, or
None.
With ``[server] auth = "none"`` (local tests only) the pages are open, as CalDAV is.

Answers: no credentials or wrong ones 401 with a Basic challenge; a login that is not
an admin 403; no admin configured 403 saying which key to set.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets
import threading
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import bcrypt
from aiohttp import web

log = logging.getLogger("bridge.api")

#: The login a request proves, or None (API keys will be one more of these).
Authenticator = Callable[[web.Request], Awaitable[str | None]]

REALM = 'Basic realm="CRM calendar bridge", charset="UTF-8"'


class Htpasswd:
    """The bcrypt entries of an htpasswd file, re-read when the file changes; a right
    password is remembered (as a digest) so a page polling every few seconds does not
    pay bcrypt each time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._hashes: dict[str, bytes] = {}
        self._proven: dict[str, bytes] = {}
        self._pepper = secrets.token_bytes(32)

    def _load(self) -> dict[str, bytes]:
        stat = os.stat(self.path)
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if stamp != self._stamp:
                hashes: dict[str, bytes] = {}
                for line in self.path.read_text("utf-8").splitlines():
                    login, sep, digest = line.strip().partition(":")
                    if sep and login and not login.startswith("#"):
                        hashes[login] = digest.encode("ascii", "replace")
                self._hashes, self._proven, self._stamp = hashes, {}, stamp
            return self._hashes

    def check(self, login: str, password: str) -> bool:
        hashes = self._load()
        digest = hashes.get(login)
        if digest is None:
            return False
        mark = hmac.new(self._pepper, password.encode("utf-8"), hashlib.sha256).digest()
        known = self._proven.get(login)
        if known is not None and hmac.compare_digest(known, mark):
            return True
        try:
            ok = bcrypt.checkpw(password.encode("utf-8"), digest)
        except ValueError:  # not a bcrypt hash
            log.warning("htpasswd %s: the entry of %r is not bcrypt", self.path, login)
            return False
        if ok:
            self._proven[login] = mark
        return ok


def basic_credentials(request: web.Request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    value = value.strip()
    if not value.isascii():  # base64 is ASCII; undecodable header bytes come as surrogates
        return None
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    login, sep, password = decoded.partition(":")
    return (login, password) if sep else None


def htpasswd_login(path: Path) -> Authenticator:
    """Basic auth against the htpasswd file."""
    table = Htpasswd(path)

    async def authenticate(request: web.Request) -> str | None:
        found = basic_credentials(request)
        if found is None:
            return None
        login, password = found
        ok = await asyncio.to_thread(table.check, login, password)
        return login if ok else None

    return authenticate


class Gate:
    """Lets admins in; ``open`` (no authentication configured) lets everyone in."""

    def __init__(
        self, authenticators: Sequence[Authenticator], admins: Sequence[str], *, open: bool
    ) -> None:
        self.authenticators = list(authenticators)
        self.admins = frozenset(admins)
        self.open = open

    async def login(self, request: web.Request) -> str:
        """The admin making the request; raises the 401/403 answer otherwise."""
        if self.open:
            return "anonymous"
        for authenticate in self.authenticators:
            login = await authenticate(request)
            if login is None:
                continue
            if not self.admins:
                raise web.HTTPForbidden(text="no admin configured: list logins in api.admins\n")
            if login not in self.admins:
                raise web.HTTPForbidden(text=f"{login!r} is not in api.admins\n")
            return login
        raise web.HTTPUnauthorized(
            text="log in with an admin's CalDAV login\n", headers={"WWW-Authenticate": REALM}
        )
