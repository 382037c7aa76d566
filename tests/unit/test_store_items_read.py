"""bridge.store.items_read on SQLite and MariaDB: the listing reads on the DB-API cursor
(columns, texts left out, chunks, errors) and Store.one_read."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError, NoResultFound

from bridge.store import Store, dbapi, items_read
from bridge.store import items as item_store
from bridge.store import meetings as meeting_store
from bridge.store import users as user_store
from tests.unit.test_store import USERS, cid, event, meeting_write


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    s.write(lambda tx: user_store.sync(tx, USERS))
    yield s
    s.dispose()


def test_rows_carry_the_item_and_its_meetings_renderings(store):
    home = cid(store, "carol/meetings")
    store.write(lambda tx: item_store.upsert(tx, home, event("generic.ics", 10, 20)))
    store.write(lambda tx: meeting_store.save(tx, meeting_write("m-1", "m.ics", organiser="carol")))

    rows = store.read(lambda c: item_store.get_many(c, home, ["generic.ics", "m.ics", "no.ics"]))
    assert set(rows) == {"generic.ics", "m.ics"}
    generic, meeting = rows["generic.ics"], rows["m.ics"]
    assert isinstance(generic, items_read.Listed)
    assert (generic.text, generic.etag, generic.meeting_id, generic.meeting_ical) == (
        "T",
        '"e"',
        None,
        None,
    )
    assert (generic.component, generic.start_utc, generic.end_utc) == ("VEVENT", 10, 20)
    assert isinstance(generic.last_modified, float)
    assert meeting.meeting_id is not None and meeting.text is None
    assert meeting.meeting_ical.startswith("BEGIN:VCALENDAR") and meeting.meeting_etag == '"x"'
    assert (meeting.busy_ical, meeting.busy_etag) == ("B", '"b"')

    textless = store.read(lambda c: item_store.all_in(c, home, texts=False))
    by_href = {row.href: row for row in textless}
    assert (by_href["generic.ics"].text, by_href["generic.ics"].meeting_ical) == ("", None)
    assert (by_href["m.ics"].text, by_href["m.ics"].meeting_ical) == (None, "")
    assert by_href["m.ics"].busy_ical == "" and by_href["m.ics"].meeting_etag == '"x"'


def test_get_many_reads_in_chunks_and_keeps_every_href(store):
    home = cid(store, "carol/meetings")

    def fill(tx):
        for i in range(1203):
            item_store.upsert(tx, home, event(f"e{i}.ics", i, i + 1))

    store.write(fill)
    wanted = [f"e{i}.ics" for i in range(0, 1203, 1)] + ["missing.ics", "e5.ics"]
    rows = store.read(lambda c: item_store.get_many(c, home, wanted, texts=False))
    assert set(rows) == {f"e{i}.ics" for i in range(1203)}
    assert rows["e700.ics"].start_utc == 700


def test_errors_come_out_as_sqlalchemys(store):
    with pytest.raises(NoResultFound):
        store.read(lambda c: item_store.in_range(c, 987654, 0, 10))
    with pytest.raises(DBAPIError):
        store.read(lambda c: dbapi.fetch(c, "SELECT no_such_column FROM items", []))


def test_one_read_runs_the_reads_of_the_block_on_one_connection(store):
    def connection(conn):
        return conn

    outside = [store.read(connection) for _ in range(3)]  # kept: no id is reused
    assert len({id(c) for c in outside}) == 3  # a transaction (and Connection) each
    with store.one_read():
        inside = [store.read(connection) for _ in range(3)]
        with store.one_read():  # nested: the same one
            inside.append(store.read(connection))
    assert len({id(c) for c in inside}) == 1
    with store.request_transaction() as tx, store.one_read():
        assert store.read(connection) is tx.conn  # a write transaction is joined, as ever
