"""Reads on the DB-API cursor of a SQLAlchemy connection, for the hottest queries.

Built as SQLAlchemy result rows, a listing's rows cost more than the database took to
find them, and even one small SELECT spends most of its time in statement building and
result handling. ``fetch`` runs hand-written SQL (``?`` placeholders, rewritten for the
driver) on the same connection, in the same transaction, and returns the driver's
tuples; a driver error comes out as SQLAlchemy's own exception, so the store's retry and
conflict handling see what they always saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError


def _placeholder(conn: Connection) -> str:
    style = conn.dialect.paramstyle
    if style == "qmark":
        return "?"
    if style in ("format", "pyformat"):
        return "%s"
    raise NotImplementedError(f"DB-API paramstyle {style!r}")


def fetch(conn: Connection, sql: str, params: Sequence[Any]) -> list[tuple]:
    """Rows of ``sql`` (written with ``?`` placeholders and no ``%``) in ``conn``'s
    transaction."""
    mark = _placeholder(conn)
    if mark != "?":
        sql = sql.replace("?", mark)
    if not conn.in_transaction():
        conn.begin()  # as Connection.execute would (autobegin)
    dbapi = conn.dialect.loaded_dbapi
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql, tuple(params))
        return cursor.fetchall()
    except dbapi.Error as exc:
        raise DBAPIError.instance(sql, params, exc, dbapi.Error, dialect=conn.dialect) from exc
    finally:
        cursor.close()
