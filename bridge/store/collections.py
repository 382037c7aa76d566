"""Collections: client-made calendars/address books, principal homes and meetings calendars."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from sqlalchemy import Connection, Row, case, delete, insert, or_, select, update

from bridge.store import changes as change_log
from bridge.store import dbapi, limits
from bridge.store.changes import Tx
from bridge.store.schema import collections, items

MEETINGS = "meetings"
GENERIC = "generic"
# Collection names under a home that only the bridge may create.
RESERVED_NAME = "meetings"
COLLEAGUE_PREFIX = "meetings-"


def meetings_props(display_name: str) -> dict[str, str]:
    return {
        "tag": "VCALENDAR",
        "D:displayname": display_name,
        "C:supported-calendar-component-set": "VEVENT",
        "C:calendar-description": "Meetings from the CRM",
    }


def is_reserved(path: str) -> bool:
    """True for `<home>/meetings` and `<home>/meetings-<login>` (bridge-owned names)."""
    parts = path.split("/")
    return len(parts) == 2 and (parts[1] == RESERVED_NAME or parts[1].startswith(COLLEAGUE_PREFIX))


def parent_of(path: str) -> str:
    return path.rpartition("/")[0]


class CollectionRow(NamedTuple):
    """A collections row, as ``by_path`` reads it (every column, by name)."""

    id: int
    path: str
    parent_path: str
    kind: str
    owner_id: int | None
    props: str
    created_at: float
    modified_at: float
    max_span: int


_BY_PATH = f"SELECT {', '.join(CollectionRow._fields)} FROM collections WHERE path = ?"
assert tuple(c.name for c in collections.c) == CollectionRow._fields


def by_path(conn: Connection, path: str) -> CollectionRow | None:
    """The collection at ``path`` (read on the DB-API cursor: twice in every CalDAV
    request, once for the principal and once for the collection addressed)."""
    rows = dbapi.fetch(conn, _BY_PATH, [path])
    return CollectionRow._make(rows[0]) if rows else None


def by_paths(conn: Connection, paths: Iterable[str], chunk: int = 500) -> dict[str, Row]:
    """The collections at ``paths`` that exist, by path (one query per ``chunk`` paths)."""
    wanted = list(dict.fromkeys(paths))
    found: dict[str, Row] = {}
    for first in range(0, len(wanted), chunk):
        part = wanted[first : first + chunk]
        for row in conn.execute(select(collections).where(collections.c.path.in_(part))):
            found[row.path] = row
    return found


def by_id(conn: Connection, collection_id: int) -> Row | None:
    return conn.execute(select(collections).where(collections.c.id == collection_id)).first()


def children(conn: Connection, parent_path: str) -> list[Row]:
    return list(
        conn.execute(
            select(collections)
            .where(collections.c.parent_path == parent_path)
            .order_by(collections.c.path)
        )
    )


def create(
    tx: Tx,
    path: str,
    props: Mapping[str, str],
    *,
    kind: str = GENERIC,
    owner_id: int | None = None,
) -> int:
    limits.check_props(props)
    now = time.time()
    values = {
        "path": path,
        "parent_path": parent_of(path),
        "kind": kind,
        "owner_id": owner_id,
        "props": json.dumps(dict(props), sort_keys=True),
        "created_at": now,
        "modified_at": now,
        "max_span": 0,
    }
    limits.check(collections, values)
    result = tx.conn.execute(insert(collections).values(**values))
    return int(result.inserted_primary_key[0])


def set_props(tx: Tx, collection_id: int, props: Mapping[str, str]) -> None:
    limits.check_props(props)
    text = json.dumps(dict(props), sort_keys=True)
    limits.check(collections, {"props": text})
    tx.conn.execute(
        update(collections)
        .where(collections.c.id == collection_id)
        .values(props=text, modified_at=time.time())
    )


def touch(tx: Tx, collection_id: int, *, span: int = 0) -> None:
    """Mark the collection modified; widen its longest-occurrence bound to ``span``."""
    widened = case((collections.c.max_span < span, span), else_=collections.c.max_span)
    tx.conn.execute(
        update(collections)
        .where(collections.c.id == collection_id)
        .values(modified_at=time.time(), max_span=widened)
    )


def subtree(conn: Connection, path: str) -> list[Row]:
    """The collection at ``path`` and every collection below it."""
    return list(
        conn.execute(
            select(collections).where(
                or_(
                    collections.c.path == path,
                    collections.c.path.startswith(path + "/", autoescape=True),
                )
            )
        )
    )


def delete_tree(tx: Tx, path: str) -> list[Row]:
    """Delete the collection at ``path`` with everything below it; return what was deleted."""
    doomed = subtree(tx.conn, path)
    ids = [row.id for row in doomed]
    if ids:
        tx.conn.execute(delete(items).where(items.c.collection_id.in_(ids)))
        tx.conn.execute(delete(collections).where(collections.c.id.in_(ids)))
        change_log.forget_collection(tx.conn, ids)
    return doomed
