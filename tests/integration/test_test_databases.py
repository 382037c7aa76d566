"""The MariaDB databases tests get: a copy of the migrated template is the same as a
database migrated from empty (every table's definition, foreign keys included, and every
row), and each copy is a database of its own (what one test writes, no other sees)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from bridge.store import Store
from bridge.store.migrate import current_revision, head_revision
from tests.support.databases import migrated_template, mysql_database

pytestmark = pytest.mark.mysql


def _shape(url: str) -> dict[str, tuple[str, list[tuple]]]:
    """Per table: SHOW CREATE TABLE and all rows."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = [row[0] for row in conn.execute(text("SHOW TABLES"))]
            return {
                table: (
                    conn.execute(text(f"SHOW CREATE TABLE `{table}`")).one()[1],
                    sorted(tuple(r) for r in conn.execute(text(f"SELECT * FROM `{table}`"))),
                )
                for table in tables
            }
    finally:
        engine.dispose()


def test_a_copy_of_the_template_is_a_migrated_database():
    with mysql_database() as fresh, mysql_database(at_head=True) as copy:
        Store(fresh).dispose()
        migrated, copied = _shape(fresh), _shape(copy)
    assert set(copied) == set(migrated) and "alembic_version" in copied
    for table, (ddl, rows) in migrated.items():
        assert copied[table] == (ddl, rows), table
    assert any("FOREIGN KEY" in ddl for ddl, _ in copied.values())
    assert [t for t, (_, rows) in copied.items() if rows]  # seeded rows came too


def test_each_copy_is_its_own_and_an_empty_database_stays_empty():
    template = migrated_template()
    with mysql_database(at_head=True) as first, mysql_database(at_head=True) as second:
        store = Store(first, migrate=False)
        try:
            assert current_revision(store.engine) == head_revision(store.engine)
            store.write(lambda tx: tx.conn.execute(text("INSERT INTO counters VALUES ('x', 7)")))
        finally:
            store.dispose()
        assert ("x", 7) in _shape(first)["counters"][1]
        assert ("x", 7) not in _shape(second)["counters"][1]
    with mysql_database() as empty:
        assert _shape(empty) == {}
    template_url = create_engine(first).url.set(database=template.name)
    assert ("x", 7) not in _shape(template_url.render_as_string(hide_password=False))["counters"][1]
