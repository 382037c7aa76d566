"""Every row of a store, taken once and put back: a running `bridge serve` shared by a
test module starts each test on the store it had right after start-up.

The rows are read and written with SQLAlchemy Core over the store's own tables
(bridge.store.schema), parents before children, in one write transaction that first
takes the change counter's row lock (every writer takes it to commit) and then deletes
every row (waiting for any writer that holds one), so a restore never interleaves with a
write of the server. The server keeps no copy of
stored data in memory (every request reads the store), so after a restore it answers
as a server just started on that store would; the one trace left is MariaDB's
AUTO_INCREMENT, which keeps counting (internal row ids, never shown over CalDAV).
tests/integration/test_test_databases.py checks a restore on both databases.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select

from bridge.store.engine import make_engine, run_read, run_write
from bridge.store.schema import counters, metadata

Rows = tuple[tuple[str, tuple[dict, ...]], ...]


def _read(conn: Connection) -> Rows:
    return tuple(
        (
            table.name,
            tuple(
                dict(row._mapping)
                for row in conn.execute(select(table).order_by(*table.primary_key.columns))
            ),
        )
        for table in metadata.sorted_tables
    )


@dataclass(frozen=True)
class Snapshot:
    url: str
    rows: Rows

    @classmethod
    def take(cls, url: str) -> Snapshot:
        engine = make_engine(url)
        try:
            return cls(url, run_read(engine, _read))
        finally:
            engine.dispose()

    def restore(self) -> None:
        """Put every table back as it was when the snapshot was taken."""
        engine = make_engine(self.url)
        try:
            run_write(engine, self._restore)
        finally:
            engine.dispose()

    def _restore(self, conn: Connection) -> None:
        conn.execute(
            select(counters.c.value).where(counters.c.name == "change_seq").with_for_update()
        )
        for table in reversed(metadata.sorted_tables):
            conn.execute(delete(table))
        saved = dict(self.rows)
        for table in metadata.sorted_tables:
            if saved[table.name]:
                conn.execute(insert(table), list(saved[table.name]))

    def current(self) -> Rows:
        """The rows as they are now, in the snapshot's shape (to compare with ``rows``)."""
        return Snapshot.take(self.url).rows
