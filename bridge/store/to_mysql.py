"""Moving a SQLite store to MySQL/MariaDB (`bridge db migrate-to-mysql`).

The source is never written: it is opened read-only and copied whole into a private
snapshot with SQLite's backup API, and the snapshot (brought to the newest schema) is
what gets copied and checked. The target's schema is made by our Alembic migrations,
never guessed from SQLite's types; sqlite3-to-mysql then copies the rows only, table by
table, keeping every primary key, so collection ids, change-log positions (sync tokens)
and links stay what they were. Auto-increment counters are set past the copied rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, Integer, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlite3_to_mysql import SQLite3toMySQL

from bridge.store.engine import make_engine
from bridge.store.migrate import current_revision, head_revision, upgrade
from bridge.store.schema import counters, metadata

#: Rows sent to the target per batch (one progress step).
CHUNK = 500
#: Counter rows the first migration seeds; the copy replaces them with the source's.
SEEDED_COUNTERS = {"change_seq", "change_floor"}

Progress = Callable[[str, int, int], None]
"""progress(table, rows copied so far, rows in the table)."""


class MoveError(Exception):
    """One step of the move failed; the message says which and why."""


def table_names() -> list[str]:
    """The store's tables in dependency order."""
    return [table.name for table in metadata.sorted_tables]


def snapshot(source: Path, dest: Path) -> str:
    """Copy the SQLite database at ``source`` (opened read-only) to ``dest`` and bring the
    copy to the newest schema; return the copy's URL."""
    if not source.is_file():
        raise MoveError(f"the SQLite store {source} does not exist")
    try:
        reader = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise MoveError(f"cannot open the SQLite store {source} read-only: {error}") from None
    try:
        writer = sqlite3.connect(dest)
        try:
            reader.backup(writer)
        finally:
            writer.close()
    except sqlite3.Error as error:
        raise MoveError(f"cannot read the SQLite store {source}: {error}") from None
    finally:
        reader.close()
    url = f"sqlite:///{dest}"
    engine = make_engine(url)
    try:
        known = set(inspect(engine).get_table_names())
        if "alembic_version" not in known:
            raise MoveError(f"{source} is not a bridge store (it has no schema revision)")
        foreign = sorted(known - set(table_names()) - {"alembic_version"})
        if foreign:
            raise MoveError(f"{source} holds tables the bridge does not know: {', '.join(foreign)}")
        try:
            upgrade(engine)
        except Exception as error:  # noqa: BLE001 - reported as the step that failed
            raise MoveError(
                f"cannot bring a copy of {source} to the newest schema: {error}"
            ) from None
    finally:
        engine.dispose()
    return url


def prepare_target(engine: Engine) -> str:
    """Check that the target holds no data, make its schema with our migrations, and empty
    the rows the first migration seeds; return the schema revision."""
    present = set(inspect(engine).get_table_names())
    ours = set(table_names())
    foreign = sorted(present - ours - {"alembic_version"})
    if foreign:
        raise MoveError(
            f"the target database already holds tables that are not the bridge's "
            f"({', '.join(foreign)}): give an empty database"
        )
    with engine.connect() as conn:
        filled = []
        for name in sorted(present & ours):
            table = metadata.tables[name]
            query = select(func.count()).select_from(table)
            if table is counters:
                seeded = (counters.c.value == 0) & counters.c.name.in_(SEEDED_COUNTERS)
                query = query.where(~seeded)
            rows = conn.execute(query).scalar_one()
            if rows:
                filled.append(f"{name}: {rows} row(s)")
    if filled:
        raise MoveError(
            f"the target database already holds data ({', '.join(filled)}): the move only "
            "fills an empty database"
        )
    try:
        upgrade(engine)
    except Exception as error:  # noqa: BLE001 - reported as the step that failed
        raise MoveError(f"cannot make the schema in the target database: {error}") from None
    revision = current_revision(engine)
    if revision != head_revision(engine):
        raise MoveError(f"the target schema is at {revision}, not at {head_revision(engine)}")
    with engine.begin() as conn:
        conn.execute(counters.delete())
    return revision or ""


class _TableCopy(SQLite3toMySQL):
    """sqlite3-to-mysql's data transfer of one table, in chunks that report progress."""

    def __init__(self, progress: Progress, table: str, total: int, **options: object) -> None:
        super().__init__(**options)  # type: ignore[misc]
        self._progress = progress
        self._table = table
        self._total = total

    def _transfer_table_data(self, sql: str, total_records: int = 0) -> None:
        done = 0
        while True:
            rows = self._sqlite_cur.fetchmany(CHUNK)
            if not rows:
                break
            self._mysql_cur.executemany(sql, [tuple(row) for row in rows])
            done += len(rows)
            self._progress(self._table, done, self._total)
        self._mysql.commit()

    def close(self) -> None:
        self._mysql.close()
        self._sqlite.close()


def _connection_options(target_url: str) -> dict[str, object]:
    url = make_url(target_url)
    options: dict[str, object] = {
        "mysql_user": url.username or "root",
        "mysql_password": url.password or None,
        "mysql_host": url.host or "localhost",
        "mysql_port": url.port or 3306,
        "mysql_database": url.database,
        "mysql_charset": "utf8mb4",
    }
    socket = url.query.get("unix_socket")
    if socket:
        options["mysql_socket"] = socket if isinstance(socket, str) else socket[0]
    return options


def copy_rows(source_url: str, target_url: str, progress: Progress) -> dict[str, int]:
    """Copy every table's rows from the snapshot to the prepared target (sqlite3-to-mysql,
    data only); return the rows copied per table."""
    source = make_engine(source_url)
    try:
        with source.connect() as conn:
            totals = {
                table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                for table in metadata.sorted_tables
            }
    finally:
        source.dispose()
    sqlite_file = make_url(source_url).database
    for name, total in totals.items():
        progress(name, 0, total)
        if not total:
            continue
        try:
            copier = _TableCopy(
                progress,
                name,
                total,
                sqlite_file=sqlite_file,
                sqlite_tables=(name,),
                mysql_create_tables=False,
                mysql_transfer_data=True,
                mysql_insert_method="DEFAULT",
                without_foreign_keys=True,
                quiet=True,
                **_connection_options(target_url),
            )
        except Exception as error:  # noqa: BLE001 - reported as the step that failed
            raise MoveError(f"cannot connect to the target database: {_plain(error)}") from None
        try:
            copier.transfer()
        except Exception as error:  # noqa: BLE001 - reported as the step that failed
            raise MoveError(f"copying table {name} failed: {_plain(error)}") from None
        finally:
            copier.close()
    return totals


def keep_auto_increment(source_url: str, target: Engine) -> dict[str, int]:
    """Set each table's next id on the target to at least what SQLite would give next."""
    source = make_engine(source_url)
    following: dict[str, int] = {}
    try:
        with source.connect() as conn:
            sequences: dict[str, int] = {}
            if "sqlite_sequence" in inspect(conn).get_table_names():
                sequences = dict(conn.execute(text("SELECT name, seq FROM sqlite_sequence")).all())
            for table in metadata.sorted_tables:
                keys = list(table.primary_key.columns)
                if len(keys) != 1 or not isinstance(keys[0].type, Integer):
                    continue
                top = conn.execute(select(func.max(keys[0]))).scalar() or 0
                following[table.name] = max(top, sequences.get(table.name, 0)) + 1
    finally:
        source.dispose()
    with target.begin() as conn:
        for name, value in following.items():
            conn.execute(text(f"ALTER TABLE `{name}` AUTO_INCREMENT = {int(value)}"))
    return following


def _plain(error: BaseException) -> str:
    """An error's own words, never a URL with its password."""
    return str(error).strip() or type(error).__name__
