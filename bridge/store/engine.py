"""Database engines for the store: SQLite (WAL) by default, MySQL/MariaDB in production.

Write transactions are explicit: on SQLite they start with BEGIN IMMEDIATE, so two
writers queue on the database lock instead of failing on a lock upgrade; transient
lock conflicts (SQLITE_BUSY, InnoDB deadlocks and lock-wait time-outs) are retried, and so
is a lost race to insert the same new key (MariaDB's duplicate-key error 1062: two writers
that lock different calendars created the same meeting UID or collection path at once;
run again, the transaction finds the row the winner committed and decides as if it had
come second, as SQLite's single writer makes it).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError
from tenacity import (
    retry,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from bridge.file_modes import create_private_file

T = TypeVar("T")

WRITE_OPTION = "bridge_write"
_MYSQL_TRANSIENT = {1205, 1213}  # lock wait timeout, deadlock
_MYSQL_DUPLICATE_KEY = 1062


def sqlite_path(url: str) -> Path | None:
    """The database file of a sqlite:/// URL; None for MySQL and in-memory databases."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return None if database.startswith("file:") else Path(database)


def make_engine(url: str) -> Engine:
    """Create an engine for a SQLAlchemy URL (sqlite:///… or mysql+pymysql://…).

    A SQLite database file is created 0600 in a directory created 0700, before SQLite
    opens it (SQLite gives its -wal and -shm files the database file's mode).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        path = sqlite_path(url)
        if path is not None:
            create_private_file(path)
        engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30})
        _configure_sqlite(engine, wal=bool(database) and database != ":memory:")
        return engine
    if parsed.get_backend_name() in ("mysql", "mariadb"):
        query = dict(parsed.query)
        query.setdefault("charset", "utf8mb4")
        return create_engine(
            parsed.set(query=query),
            pool_pre_ping=True,
            pool_recycle=3600,
            isolation_level="READ COMMITTED",
        )
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:/// or mysql+pymysql://")


def _configure_sqlite(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # noqa: ANN001
        # The driver must not open transactions itself: _on_begin does.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if wal:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(WRITE_OPTION)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def writes_rows(conn: Connection) -> bool:
    """Whether ``conn`` is a write transaction on a store with row locks (MariaDB): its
    reads of rows it means to change should lock them (SELECT ... FOR UPDATE)."""
    return bool(conn.get_execution_options().get(WRITE_OPTION)) and conn.dialect.name != "sqlite"


def is_transient(error: BaseException | None) -> bool:
    """A lock conflict that a retry of the whole transaction resolves: the error itself or
    one that led to it. After InnoDB rolled back a deadlocked transaction, leaving a
    savepoint fails too ("SAVEPOINT does not exist"), and that failure is what comes
    out, with the deadlock as its context."""
    for _ in range(10):
        if error is None:
            return False
        if _is_transient(error):
            return True
        error = error.__cause__ or error.__context__
    return False


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, IntegrityError):
        return _code(error) == _MYSQL_DUPLICATE_KEY
    if not isinstance(error, OperationalError):
        return False
    orig = error.orig
    code = _code(error)
    if code in _MYSQL_TRANSIENT:
        return True
    return "database is locked" in str(orig) or "database table is locked" in str(orig)


def _code(error: IntegrityError | OperationalError) -> object:
    orig = error.orig
    return orig.args[0] if orig is not None and orig.args else None


_transient_retry = retry(
    retry=retry_if_exception(is_transient),
    stop=stop_after_attempt(int(os.environ.get("BRIDGE_WRITE_ATTEMPTS", "8"))),
    wait=wait_random_exponential(multiplier=0.02, max=1.0),
    reraise=True,
)


def run_write(engine: Engine, work: Callable[[Connection], T]) -> T:
    """Run ``work`` in one write transaction, retrying it whole on transient lock errors."""

    @_transient_retry
    def attempt() -> T:
        with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn:
            with conn.begin():
                return work(conn)

    return attempt()


def run_read(engine: Engine, work: Callable[[Connection], T]) -> T:
    """Run ``work`` in one read transaction (a consistent snapshot on both backends)."""
    with engine.connect() as conn:
        with conn.begin():
            return work(conn)
