"""A request's write transaction, held open until its HTTP answer is known.

Radicale releases its storage lock before it answers, and it can answer an error after
the storage changed something (its PROPPATCH writes the properties, then fails building
the answer for DAV:resourcetype with a 400). So committing when the lock is released
would keep the effects of a refused request. Inside ``answer_decides()`` (opened by the
WSGI layer around Radicale, see bridge/wsgi_commit.py) ``Store.request_transaction``
does not commit: it hands its open transaction to the scope, and the scope commits it
only if the answer is a success; any error answer rolls it back. A second write lock in
the same request joins the held transaction instead of waiting for it.

Outside a scope (plain `radicale` without the bridge's WSGI glue, tests of the store)
the transaction commits when the lock is released, as before.

On MariaDB write requests lock only the collections and meetings they touch, so two
requests can deadlock (each holds what the other wants); InnoDB then aborts one. The
store marks the scope (``lock_conflict``) and the WSGI layer runs that request again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, RootTransaction

from bridge.store.changes import Tx

_local = threading.local()


@dataclass
class _Held:
    conn: Connection
    transaction: RootTransaction
    tx: Tx


class Scope:
    """The write transactions of one request, per store, waiting for the answer."""

    def __init__(self) -> None:
        self._held: dict[int, _Held] = {}
        #: A lock conflict (InnoDB deadlock, lock-wait time-out) broke this request's
        #: transaction: the caller may run the whole request again (bridge.wsgi_commit).
        self.lock_conflict = False

    def held_tx(self, owner: object) -> Tx | None:
        held = self._held.get(id(owner))
        return held.tx if held is not None else None

    def hold(self, owner: object, conn: Connection, transaction: RootTransaction, tx: Tx) -> None:
        self._held[id(owner)] = _Held(conn, transaction, tx)

    def finish(self, *, commit: bool) -> None:
        """Commit (or roll back) every held transaction and close its connection."""
        held, self._held = list(self._held.values()), {}
        failure: BaseException | None = None
        for entry in held:
            try:
                if commit and failure is None:
                    entry.tx.flush()  # the change log's seq, just before the commit
                    entry.transaction.commit()
                else:
                    entry.transaction.rollback()
            except BaseException as error:  # noqa: BLE001 - close the rest, then re-raise
                failure = failure or error
            finally:
                entry.conn.close()
        if failure is not None:
            raise failure


def current() -> Scope | None:
    """The scope of the request running in this thread, if any."""
    return getattr(_local, "scope", None)


@contextmanager
def answer_decides() -> Iterator[Scope]:
    """Hold this thread's request transactions until the caller calls ``finish``.

    Leaving the block without ``finish`` (an exception) rolls them back.
    """
    if current() is not None:
        raise RuntimeError("a request scope is already open in this thread")
    scope = Scope()
    _local.scope = scope
    try:
        yield scope
    finally:
        _local.scope = None
        scope.finish(commit=False)
