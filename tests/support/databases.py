"""Database URLs for tests: a fresh SQLite file, or a fresh MariaDB/MySQL database.

MariaDB is reached through BRIDGE_TEST_MYSQL_URL (default: root@127.0.0.1:3306/test).
When BRIDGE_REQUIRE_MYSQL=1 (CI), a MariaDB that does not answer fails the test.

A fresh MariaDB database is empty, or, with ``at_head=True``, a copy of a template this
process migrated once (every table as SHOW CREATE TABLE gives it, foreign keys and
AUTO_INCREMENT included, and every row: alembic_version and what the migrations seed).
Running the migrations costs 1.5-4 s on MariaDB (some sixty DDL statements, each committed
to disk); the copy costs a fraction. It is for tests whose store is migrated before the
test body runs anyway (a `bridge serve` start, a ``Store(url)``): for them the two are
indistinguishable, which tests/integration/test_test_databases.py checks. Tests of the
migrations themselves get an empty database.
"""

from __future__ import annotations

import atexit
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

MYSQL_URL = os.environ.get("BRIDGE_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
REQUIRE_MYSQL = os.environ.get("BRIDGE_REQUIRE_MYSQL") == "1" or os.environ.get("CI") == "true"


@dataclass(frozen=True)
class Template:
    """A database migrated to head: its name and, per table, its DDL and whether it has rows."""

    name: str
    tables: tuple[tuple[str, str, bool], ...]


_template: Template | None = None


def _admin(server: str = MYSQL_URL) -> Engine:
    return create_engine(make_url(server), isolation_level="AUTOCOMMIT")


def _url(name: str, server: str = MYSQL_URL) -> str:
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def _create(admin: Engine, name: str) -> None:
    server = admin.url.render_as_string(hide_password=True)
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    except Exception as error:  # noqa: BLE001
        if REQUIRE_MYSQL:
            pytest.fail(f"MariaDB at {server} is required here but failed: {error}")
        pytest.skip(f"MariaDB not reachable at {server}: {error}")


def _drop(admin: Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))


def _raw(admin: Engine, statements: list[str]) -> None:
    """Run SQL as written (no bind-parameter parsing: DDL may hold ':' or '%')."""
    connection = admin.raw_connection()
    try:
        cursor = connection.cursor()
        for statement in statements:
            cursor.execute(statement)
        cursor.close()
    finally:
        connection.close()


def migrated_template() -> Template:
    """This process's template database at head: made on first use, dropped at exit."""
    global _template
    if _template is not None:
        return _template
    from bridge.store import Store

    admin = _admin()
    name = f"bridge_template_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    _create(admin, name)
    atexit.register(lambda: (_drop(admin, name), admin.dispose()))
    Store(_url(name)).dispose()
    with admin.connect() as conn:
        names = [row[0] for row in conn.execute(text(f"SHOW TABLES FROM `{name}`"))]
        tables = []
        for table in names:
            ddl = conn.execute(text(f"SHOW CREATE TABLE `{name}`.`{table}`")).one()[1]
            filled = conn.execute(text(f"SELECT 1 FROM `{name}`.`{table}` LIMIT 1")).first()
            tables.append((table, ddl, filled is not None))
    _template = Template(name, tuple(tables))
    return _template


def _copy_template(admin: Engine, name: str) -> None:
    template = migrated_template()
    statements = [f"USE `{name}`", "SET FOREIGN_KEY_CHECKS = 0"]
    statements += [ddl for _, ddl, _ in template.tables]
    statements += [
        f"INSERT INTO `{name}`.`{table}` SELECT * FROM `{template.name}`.`{table}`"
        for table, _, filled in template.tables
        if filled
    ]
    _raw(admin, statements)


@contextmanager
def mysql_database(*, at_head: bool = False, server: str = MYSQL_URL) -> Iterator[str]:
    """A new database on the MariaDB ``server`` (a URL; its database part is not used),
    empty or (``at_head``) a copy of the migrated template; dropped afterwards."""
    admin = _admin(server)
    name = f"bridge_test_{uuid.uuid4().hex[:12]}"
    try:
        _create(admin, name)
    except BaseException:
        admin.dispose()
        raise
    try:
        if at_head:
            _copy_template(admin, name)
        yield _url(name, server)
    finally:
        _drop(admin, name)
        admin.dispose()


@contextmanager
def database(kind: str, tmp_path: Path, *, at_head: bool = False) -> Iterator[str]:
    """A fresh database of ``kind``: empty, or (MariaDB with ``at_head``) already migrated.
    A SQLite file is always new (its migration is cheap)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'bridge.sqlite3'}"
    else:
        with mysql_database(at_head=at_head) as url:
            yield url
