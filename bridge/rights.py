"""Radicale rights plugin (`[rights] type = bridge.rights`).

Like Radicale's owner_only — each user reads and writes below their own home — except
that colleagues' meetings calendars (`<home>/meetings-<login>`) are read-only, and that
the home and the user's own meetings calendar (`<home>/meetings`) can be written into but
never deleted or overwritten as a whole ("d"/"D" and "o" forbid that while Radicale's
permit_delete_collection and permit_overwrite_collection are on, their defaults). Which
colleagues a user may see is decided by the store (the storage only lists those).
"""

from __future__ import annotations

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


def refusal_reason(environ: dict, status: int) -> str | None:
    """Why these rights refuse a request, for a 403 that Radicale did not explain."""
    if status != 403:
        return None
    method = environ.get("REQUEST_METHOD", "")
    # sanitize first: the raw path may hold ".." or "//" (strip_path asserts a sane one)
    sane = pathutils.strip_path(pathutils.sanitize_path(environ.get("PATH_INFO", "/")))
    parts = sane.split("/") if sane else []
    if len(parts) >= 2 and colleague_path("/".join(parts[:2])) is not None:
        return f"{parts[1]} is a colleague's calendar and is read-only"
    if len(parts) == 2 and parts[1] == RESERVED_NAME and method in ("DELETE", "PUT"):
        return "the CRM meetings calendar cannot be deleted or replaced as a whole"
    if len(parts) == 1 and method == "DELETE":
        return "a user's home holds the CRM meetings calendar and cannot be deleted"
    if parts:
        return f"{method} on /{sane}/ is outside the logged-in user's home"
    if method == "DELETE":
        return "the root collection cannot be deleted"
    return None
