"""CalDAV/CardDAV sync tokens (RFC 6578): positions in the change log of one collection."""

from __future__ import annotations

PREFIX = "http://crm-bridge.invalid/ns/sync/"


def make(collection_id: int, seq: int) -> str:
    return f"{PREFIX}{collection_id}-{seq}"


def parse(token: str, collection_id: int) -> int:
    """The change-log position in ``token``; ValueError if it is malformed or foreign."""
    if not token.startswith(PREFIX):
        raise ValueError(f"sync token {token!r} was not issued by this server")
    owner, _, seq = token[len(PREFIX) :].partition("-")
    if not (owner.isdigit() and seq.isdigit()):
        raise ValueError(f"malformed sync token {token!r}")
    if int(owner) != collection_id:
        raise ValueError(f"sync token {token!r} belongs to another collection")
    return int(seq)
