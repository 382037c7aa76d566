"""The scheduler's queries read indexes, not every binding: the query plans (EXPLAIN) of a
pass's reads on SQLite and MariaDB, with 1,000 bindings of which a few are due and a
change log of a few thousand rows.

The statements checked are the ones the store functions really send (captured from the
engine while they run), explained with their parameters.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event, insert, select, text

from bridge.store import Store
from bridge.store import bindings as binding_store
from bridge.store import users as user_store
from bridge.store.schema import bindings, changes, collections, counters, users

USERS = 100
BINDINGS = 1000
DUE = 20
CHANGES = 3000


@pytest.fixture
def crowded(db_url):
    """A store with USERS users, BINDINGS bindings (DUE of them due) and CHANGES changes."""
    store = Store(db_url)
    now = time.time()
    records = [user_store.UserRecord(f"u{i:03d}", f"u{i:03d}@example.com") for i in range(USERS)]

    def fill(tx) -> None:
        conn = tx.conn
        user_store.sync(tx, records)
        ids = [row.id for row in conn.execute(select(users.c.id).order_by(users.c.id))]
        rows = [
            {
                "user_id": ids[i % USERS],
                "name": f"b{i:04d}",
                "kind": "caldav",
                "settings": "{}",
                "outbound_seq": 0,
                "failures": 0,
                # most wait for their next poll; DUE of them are due, spread over the past
                "next_run_at": now - 10 * i if i < DUE else now + 60 + i,
                "account": f"caldav:host|u{i % 7}",
            }
            for i in range(BINDINGS)
        ]
        conn.execute(insert(bindings), rows)
        homes = [r.id for r in conn.execute(select(collections.c.id))]
        conn.execute(
            insert(changes),
            [
                {
                    "seq": seq,
                    "collection_id": homes[seq % len(homes)],
                    "href": f"{seq}.ics",
                    "op": "put",
                    "origin": "crm",
                    "at": now,
                }
                for seq in range(1, CHANGES + 1)
            ],
        )
        conn.execute(counters.update().where(counters.c.name == "change_seq").values(value=CHANGES))

    store.write(fill)
    if store.engine.dialect.name != "sqlite":
        with store.engine.begin() as conn:  # statistics, as a server that ran a while has
            conn.execute(text("ANALYZE TABLE bindings, changes, users, collections"))
    else:
        with store.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    yield store
    store.dispose()


def sent_by(store: Store, work: Callable[[Any], Any]) -> list[tuple[str, Any]]:
    """The SELECT statements (with parameters) that ``work`` sends in a read."""
    seen: list[tuple[str, Any]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        store.read(work)
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
    return seen


def plan(store: Store, statement: str, parameters: Any) -> list[dict]:
    """EXPLAIN of one statement: SQLite's query plan lines, or MariaDB's rows."""
    with store.engine.connect() as conn:
        raw = conn.connection.driver_connection
        cursor = raw.cursor()
        prefix = "EXPLAIN QUERY PLAN " if store.engine.dialect.name == "sqlite" else "EXPLAIN "
        cursor.execute(prefix + statement, parameters)
        names = [d[0].lower() for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        cursor.close()
    return rows


def sqlite_lines(rows: list[dict]) -> list[str]:
    return [row["detail"] for row in rows]


def mysql_table(rows: list[dict], table: str) -> dict:
    (row,) = [r for r in rows if r["table"] == table]
    return row


def test_a_pass_reads_the_due_bindings_as_a_range_of_the_next_run_index(crowded):
    store = crowded
    now = time.time()

    def due(conn):  # as a pass asks: some running, one remote account full
        return binding_store.due(
            conn, now, "space", limit=10, skip=[1, 2], skip_accounts=["caldav:host|u3"]
        )

    found = store.read(due)
    assert len(found) == 10  # the query works: due ones only, longest waiting first
    assert not {1, 2} & {r.id for r in found}
    assert "caldav:host|u3" not in {r.account for r in found}
    assert [r.next_run_at for r in found] == sorted(r.next_run_at for r in found)
    assert all(r.next_run_at <= now for r in found)

    (sent,) = sent_by(store, due)
    rows = plan(store, *sent)
    if store.engine.dialect.name == "sqlite":
        lines = sqlite_lines(rows)
        assert any(
            line.startswith("SEARCH bindings USING INDEX ix_bindings_next_run (next_run_at<")
            for line in lines
        ), lines
        assert not any(line.startswith("SCAN") for line in lines), lines  # no full scan
        assert not any("TEMP B-TREE" in line for line in lines), lines  # index order: no sort
    else:
        row = mysql_table(rows, "bindings")
        assert row["key"] == "ix_bindings_next_run" and row["type"] == "range", rows
        assert "filesort" not in (row["extra"] or ""), rows
        assert mysql_table(rows, "users")["type"] == "eq_ref", rows
        assert int(row["rows"]) < BINDINGS / 2, rows  # the due range, not every binding


def test_the_change_log_look_reads_only_the_changes_since_the_position(crowded):
    store = crowded
    position = CHANGES - 5  # the last five changes are new
    statements = sent_by(store, lambda c: binding_store.touched_since(c, position, str))
    # the new changes' collections and writers, their owners, then the owners' bindings
    assert len(statements) == 3
    assert store.read(lambda c: binding_store.touched_since(c, position, str))  # some found

    log_rows, homes_rows, owners_rows = (plan(store, *sent) for sent in statements)
    if store.engine.dialect.name == "sqlite":
        lines = sqlite_lines(log_rows)
        assert lines[0].startswith("SEARCH changes USING INDEX ix_changes_seq (seq>?)"), lines
        assert not any(line.startswith("SCAN") for line in lines), lines
        lines = sqlite_lines(homes_rows)
        assert lines == ["SEARCH collections USING INTEGER PRIMARY KEY (rowid=?)"], lines
        lines = sqlite_lines(owners_rows)
        assert len(lines) == 1 and lines[0].startswith("SEARCH bindings USING"), lines
        assert "(user_id=?)" in lines[0], lines
    else:
        row = mysql_table(log_rows, "changes")
        assert row["key"] == "ix_changes_seq" and row["type"] == "range", log_rows
        assert int(row["rows"]) < CHANGES / 10, log_rows
        row = mysql_table(homes_rows, "collections")
        assert row["key"] == "PRIMARY" and row["type"] in ("range", "const"), homes_rows
        row = mysql_table(owners_rows, "bindings")
        assert row["type"] in ("range", "ref") and row["key"], owners_rows
        assert int(row["rows"]) < BINDINGS / 2, owners_rows
