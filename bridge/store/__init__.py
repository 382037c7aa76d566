"""The store: SQLAlchemy Core tables, queries, change log; Alembic migrations.

``Store`` owns the engine and the transaction discipline. A Radicale write request
holds one transaction for its whole duration (``request_transaction``): it takes the
store-wide writer lock first, so concurrent requests from any thread or process
serialise like Radicale's own storage lock does, while readers keep reading their
snapshot. Everything else gets a short transaction of its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Connection, Engine, select, text

from bridge.store import changes as change_log
from bridge.store import request_scope
from bridge.store.changes import Tx
from bridge.store.engine import WRITE_OPTION, make_engine, run_read, run_write
from bridge.store.migrate import upgrade
from bridge.store.schema import counters

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
            return work(tx.conn)
        return run_read(self.engine, work)

    def write(self, work: Callable[[Tx], T], *, origin: str = "") -> T:
        """Run a write atomically: a savepoint in the request transaction, or its own."""
        tx = self._request_tx()
        if tx is not None:
            with tx.conn.begin_nested():
                return work(tx)
        return run_write(self.engine, lambda conn: work(Tx(conn, origin=origin)))

    @contextmanager
    def request_transaction(self, origin: str = "") -> Iterator[Tx]:
        """Hold the store-wide writer lock and one transaction until the block ends.

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
            # The writer lock: a row lock on the change counter (a no-op read on
            # SQLite, where BEGIN IMMEDIATE already holds the database lock).
            conn.execute(
                select(counters.c.value).where(counters.c.name == "change_seq").with_for_update()
            )
            tx = Tx(conn, origin=origin)
            self._local.tx = tx
            try:
                yield tx
            finally:
                self._local.tx = None
            if scope is not None:
                scope.hold(self, conn, transaction, tx)
                return
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
