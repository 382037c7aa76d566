"""Radicale rights plugin (`[rights] type = bridge.rights`).

Like Radicale's owner_only — each user reads and writes below their own home — except
that colleagues' meetings calendars (`<home>/meetings-<login>`) are read-only, and that
the home and the user's own meetings calendar (`<home>/meetings`) can be written into but
never deleted or overwritten as a whole ("d"/"D" and "o" forbid that while Radicale's
permit_delete_collection and permit_overwrite_collection are on, their defaults). Which
colleagues a user may see is decided by the store (the storage only lists those).
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote, urlsplit

from radicale import pathutils
from radicale.rights import authenticated

from bridge.storage_plugin.paths import colleague_path
from bridge.store.collections import RESERVED_NAME


class Rights(authenticated.Rights):
    def authorization(self, user: str, user_groups: set, path: str) -> str:
        if not user:
            return ""
        sane = pathutils.strip_path(path)
        if not sane:
            return "R"
        parts = sane.split("/")
        if parts[0] != user:
            return ""
        if len(parts) == 1:
            return "RWD"
        if colleague_path("/".join(parts[:2])) is not None:
            return "r"
        if len(parts) == 2 and parts[1] == RESERVED_NAME:
            return "rwdo"
        return "rw"


def _login(environ: dict) -> str | None:
    """The user name of the request's Basic credentials (not verified here), if any."""
    scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        return base64.b64decode(token.strip(), validate=True).decode("utf-8").split(":", 1)[0]
    except (binascii.Error, UnicodeDecodeError):
        return None


def _destination(environ: dict) -> str:
    """The stripped path of the Destination header ("" without one)."""
    try:
        path = urlsplit(environ.get("HTTP_DESTINATION", "")).path
    except ValueError:
        return ""
    return pathutils.strip_path(pathutils.sanitize_path(unquote(path))) if path else ""


def refusal_reason(environ: dict, status: int) -> str | None:
    """Why these rights refuse a request, for a 403 that Radicale did not explain."""
    if status != 403:
        return None
    method = environ.get("REQUEST_METHOD", "")
    # sanitize first: the raw path may hold ".." or "//" (strip_path asserts a sane one)
    sane = pathutils.strip_path(pathutils.sanitize_path(environ.get("PATH_INFO", "/")))
    parts = sane.split("/") if sane else []
    login = _login(environ)
    if parts and login is not None and parts[0] != login:
        return f"{method} on /{sane} is outside the logged-in user's home"
    target = _destination(environ)
    if method == "MOVE" and target and login is not None and target.split("/")[0] != login:
        return f"MOVE to /{target} is outside the logged-in user's home"
    if len(parts) >= 2 and colleague_path("/".join(parts[:2])) is not None:
        return f"{parts[1]} is a colleague's calendar and is read-only"
    if len(parts) == 2 and parts[1] == RESERVED_NAME and method in ("DELETE", "PUT"):
        return "the CRM meetings calendar cannot be deleted or replaced as a whole"
    if len(parts) == 1 and method == "DELETE":
        return "a user's home holds the CRM meetings calendar and cannot be deleted"
    if len(parts) == 1 and method in ("GET", "HEAD"):
        return f"/{sane}/ is a home, not a calendar: it has no content to GET (use PROPFIND)"
    if len(parts) >= 3 and method == "PROPPATCH":
        return f"PROPPATCH sets properties of collections; /{sane} is a calendar object"
    if len(parts) >= 3 and method in ("MKCALENDAR", "MKCOL"):
        return f"{method}: collections are made in a home, not inside /{'/'.join(parts[:-1])}/"
    if parts:
        return f"{method} is not allowed on /{sane}"
    if method == "DELETE":
        return "the root collection cannot be deleted"
    return f"{method} is not allowed on the root collection"
