"""The store: SQLAlchemy Core tables, queries, change log; Alembic migrations.

``Store`` owns the engine and the transaction discipline. A Radicale write request
holds one transaction for its whole duration (``request_transaction``). On SQLite it
holds the database's single writer lock (BEGIN IMMEDIATE), so write requests serialise
as under Radicale's own storage lock. On MariaDB it takes the write lock of each
collection it addresses (``lock_collections``, a row lock) and of each meeting it
changes, so writes to different calendars run side by side; the change log keeps its
order because a transaction's seq is allocated only just before its commit
(``Tx.flush``). Readers keep reading their snapshot. Everything else gets a short
transaction of its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Connection, Engine, text

from bridge.store import changes as change_log
from bridge.store import request_scope
from bridge.store.changes import Tx
from bridge.store.engine import WRITE_OPTION, is_transient, make_engine, run_read, run_write
from bridge.store.migrate import upgrade

T = TypeVar("T")


class Store:
    def __init__(
        self,
        url: str,
        *,
        max_occurrences: int = 5000,
        index_horizon_days: int = 1830,
        change_retention_days: int = 30,
        migrate: bool = True,
    ) -> None:
        self.url = url
        self.engine: Engine = make_engine(url)
        self.max_occurrences = max_occurrences
        self.index_horizon_days = index_horizon_days
        self.change_retention_days = change_retention_days
        self._local = threading.local()
        if migrate:
            upgrade(self.engine)

    # -- transactions -------------------------------------------------------------

    def _request_tx(self) -> Tx | None:
        tx = getattr(self._local, "tx", None)
        if tx is None:
            scope = request_scope.current()
            tx = scope.held_tx(self) if scope is not None else None
        return tx

    def read(self, work: Callable[[Connection], T]) -> T:
        """Run a read: inside the current request transaction if any, else on its own."""
        tx = self._request_tx()
        if tx is not None:
            with _noting_conflicts():
                return work(tx.conn)
        reading = getattr(self._local, "reading", None)
        if reading is not None:
            return work(reading)
        return run_read(self.engine, work)

    @contextmanager
    def one_read(self) -> Iterator[None]:
        """Run this thread's reads inside the block in one read transaction (one BEGIN
        and COMMIT, as ``run_read`` runs one read); inside a write transaction they join
        it, as ever. Writes inside the block are not part of it (they run as outside)."""
        if self._request_tx() is not None or getattr(self._local, "reading", None) is not None:
            yield
            return
        with self.engine.connect() as conn, conn.begin():
            self._local.reading = conn
            try:
                yield
            finally:
                self._local.reading = None

    def write(self, work: Callable[[Tx], T], *, origin: str = "") -> T:
        """Run a write atomically: a savepoint in the request transaction, or its own."""
        tx = self._request_tx()
        if tx is not None:
            mark = tx.mark()
            try:
                with _noting_conflicts(), tx.conn.begin_nested():
                    return work(tx)
            except BaseException:
                tx.undo(mark)  # the savepoint's change rows go with it
                raise
        return run_write(self.engine, lambda conn: _run_and_flush(Tx(conn, origin=origin), work))

    def lock_collections(self, collection_ids: list[int]) -> bool:
        """Inside a request's write transaction: hold the write lock of these collections
        until it ends (MariaDB; SQLite's transaction already holds the only one). True if
        a lock was taken now: rows read before it may be stale."""
        tx = self._request_tx()
        if tx is None:
            return False
        with _noting_conflicts():
            return tx.lock_collections(collection_ids)

    @contextmanager
    def request_transaction(self, origin: str = "") -> Iterator[Tx]:
        """Hold one write transaction until the block ends.

        On SQLite it holds the database's writer lock from its start; on MariaDB the
        collections and meetings it writes lock themselves as they are reached.

        Inside a request scope (bridge.store.request_scope) the transaction outlives the
        block: the scope commits it if the request's answer is a success, else rolls it
        back; a second block in the same request joins it.
        """
        if getattr(self._local, "tx", None) is not None:
            raise RuntimeError("request transaction already open in this thread")
        scope = request_scope.current()
        held = scope.held_tx(self) if scope is not None else None
        if held is not None:
            self._local.tx = held
            try:
                yield held
            finally:
                self._local.tx = None
            return
        conn = self.engine.connect().execution_options(**{WRITE_OPTION: True})
        try:
            transaction = conn.begin()
            tx = Tx(conn, origin=origin)
            self._local.tx = tx
            try:
                yield tx
            finally:
                self._local.tx = None
            if scope is not None:
                scope.hold(self, conn, transaction, tx)
                return
            tx.flush()
            transaction.commit()
        except BaseException:
            conn.rollback()
            conn.close()
            raise
        conn.close()

    # -- maintenance --------------------------------------------------------------

    def prune_changes(self, now: float | None = None) -> int:
        """Drop change-log rows past the retention period; return the new floor."""
        cutoff = (now if now is not None else time.time()) - self.change_retention_days * 86400
        return self.write(lambda tx: change_log.prune(tx.conn, cutoff))

    def ping(self) -> None:
        """One round trip to the database; raises when it does not answer."""
        self.read(lambda conn: conn.execute(text("SELECT 1")).scalar())

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def _noting_conflicts() -> Iterator[None]:
    """Tell the request scope when a lock conflict broke its transaction."""
    try:
        yield
    except BaseException as error:
        scope = request_scope.current()
        if scope is not None and is_transient(error):
            scope.lock_conflict = True
        raise


def _run_and_flush(tx: Tx, work: Callable[[Tx], T]) -> T:
    result = work(tx)
    tx.flush()
    return result


_shared: dict[tuple, Store] = {}
_shared_lock = threading.Lock()


def shared_store(url: str, **options: int | bool) -> Store:
    """One Store per URL and options in this process (Radicale makes many Storage objects)."""
    key = (url, tuple(sorted(options.items())))
    with _shared_lock:
        store = _shared.get(key)
        if store is None:
            store = _shared[key] = Store(url, **options)  # type: ignore[arg-type]
        return store
