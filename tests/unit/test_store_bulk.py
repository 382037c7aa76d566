"""The bulk path (bridge.store.meetings_bulk.save_many) leaves the rows N save() calls leave,
on SQLite and MariaDB; and it only creates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, func, select

from bridge.model import Meeting, Participant, Recurrence
from bridge.store import Store
from bridge.store import collections as collection_store
from bridge.store import items as item_store
from bridge.store import meetings as meeting_store
from bridge.store import users as user_store
from bridge.store.errors import Conflict
from bridge.store.items import ItemData, ObjectIndex
from bridge.store.meetings import MeetingWrite
from bridge.store.meetings_bulk import save_many
from bridge.store.schema import metadata

USERS = [
    user_store.UserRecord("alice", "alice@example.com", "Alice", ("bob",)),
    user_store.UserRecord("bob", "bob@example.com", "Bob", ("alice",)),
    user_store.UserRecord("carol", "carol@example.com", "Carol"),
]
#: Columns holding the wall clock: the one thing two runs may not share.
CLOCK = {"modified_at", "created_at", "last_modified", "at"}
#: Tables whose new rows get fresh ids, and the columns that point at them.
NEW_IDS = {"meetings": "meeting_id", "items": "item_id"}


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    s.write(lambda tx: user_store.sync(tx, USERS))
    # An object already at bob's "m1.ics": the meeting's entry there must take another name.
    bob = s.read(lambda c: collection_store.by_path(c, "bob/meetings")).id
    index = ObjectIndex(0, 10, True, None, ((0, 10),))
    taken = ItemData(href="m1.ics", uid="other", component="VEVENT", index=index, text="T")
    s.write(lambda tx: item_store.upsert(tx, bob, taken))
    yield s
    s.dispose()


def write(uid: str, href: str, hours: int, **fields) -> MeetingWrite:
    start = datetime(2026, 12, 1, 9, tzinfo=UTC) + timedelta(hours=hours)
    end = start + timedelta(minutes=45)
    occurrences = fields.pop("occurrences", 1)
    collection_id = fields.pop("collection_id", None)
    personal = fields.pop("personal", None)
    meeting = Meeting(uid=uid, start=start, end=end, **fields)
    s, e = int(start.timestamp()), int(end.timestamp())
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261201T100000Z\r\n"
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    spans = tuple((s + d * 86400, e + d * 86400) for d in range(occurrences))
    return MeetingWrite(
        meeting=meeting,
        href=href,
        ical=text,
        etag=f'"{uid}"',
        busy_ical=f"busy {uid}",
        busy_etag=f'"b{uid}"',
        index=ObjectIndex(s, spans[-1][1], True, None, spans),
        collection_id=collection_id,
        personal=personal,
    )


def writes(store: Store) -> list[MeetingWrite]:
    alice = store.read(lambda c: collection_store.by_path(c, "alice/meetings")).id
    weekly = Recurrence(rrule="FREQ=DAILY;COUNT=4")
    return [
        write(
            "m1", "m1.ics", 0, organiser="alice", internal_users=["bob"], activity_type="meeting"
        ),
        write(
            "m2",
            "m2.ics",
            1,
            organiser="bob",
            internal_users=["alice", "carol"],
            declined=["carol"],
            external=[Participant("ext@client.example", "Ext", "ACCEPTED")],
            crm_persons=["p-1"],
            crm_organisations=["o-1"],
            custom_fields={"deal": "42"},
            subject="Review",
            location="Room",
            recurrence=weekly,
            occurrences=4,
        ),
        # Two meetings asking for the same name in carol's calendar: the second gets another.
        write("m3", "same.ics", 2, organiser="carol", booked_by="alice"),
        write("m4", "same.ics", 3, organiser="alice", internal_users=["carol"]),
        # Written through alice's calendar by her, an attendee, with her personal part.
        write(
            "m5",
            "mine.ics",
            4,
            organiser="bob",
            internal_users=["alice"],
            collection_id=alice,
            personal="BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT9M\r\nEND:VALARM\r\n",
        ),
        write("m6", "m6.ics", 5, organiser="nobody-known", private=True),
    ]


def rows(conn: Connection) -> dict[str, list[dict]]:
    return {
        table.name: [
            dict(row._mapping)
            for row in conn.execute(select(table).order_by(*table.primary_key.columns))
        ]
        for table in metadata.sorted_tables
    }


def normalised(after: dict[str, list[dict]], before: dict[str, list[dict]]) -> dict:
    """Rows without clock columns; ids the rows got in this run by their rank among them."""
    rank: dict[str, dict[int, str]] = {}
    for table in NEW_IDS:
        old = {row["id"] for row in before[table]}
        fresh = sorted(row["id"] for row in after[table] if row["id"] not in old)
        rank[table] = {i: f"new{n}" for n, i in enumerate(fresh)} | {i: f"old{i}" for i in old}
    out: dict[str, list[dict]] = {}
    for name, table_rows in after.items():
        shown = []
        for row in table_rows:
            row = {k: v for k, v in row.items() if k not in CLOCK}
            if name in NEW_IDS:
                row["id"] = rank[name][row["id"]]
            for table, column in NEW_IDS.items():
                if row.get(column) is not None:
                    row[column] = rank[table][row[column]]
            if name in {"participants", "occurrences", "changes"}:
                row.pop("id")  # their own ids: the order below still compares them
            shown.append(row)
        out[name] = shown
    return out


class Rollback(Exception):
    pass


def test_save_many_leaves_the_rows_that_save_leaves(store):
    before = store.read(rows)
    one_by_one: dict = {}

    def by_save(tx) -> None:
        for w in writes(store):
            meeting_store.save(tx, w)
        tx.flush()  # the change rows are written here, as right before a commit
        one_by_one.update(rows(tx.conn))
        raise Rollback

    with pytest.raises(Rollback):
        store.write(by_save, origin="crm")
    assert store.read(rows) == before  # rolled back: the bulk path starts from the same rows

    def by_bulk(tx) -> dict:
        assert save_many(tx, writes(store), batch=4) == 6  # two batches
        tx.flush()
        return rows(tx.conn)

    bulk = store.write(by_bulk, origin="crm")
    expected = normalised(one_by_one, before)
    assert normalised(bulk, before) == expected
    assert len(expected["items"]) == len(before["items"]) + 9  # the fan-out happened
    hrefs = [r["href"] for r in expected["items"] if r["uid"] in {"m1", "m4"}]
    assert hrefs.count("m1.ics") == 1 and hrefs.count("same.ics") == 1  # others renamed
    assert len({r["seq"] for r in expected["changes"] if r["origin"] == "crm"}) == 1


def count(store: Store, table) -> int:
    return store.read(lambda c: c.execute(select(func.count()).select_from(table)).scalar())


@pytest.mark.parametrize("case", ["stored", "twice", "writer_href"])
def test_save_many_only_creates_and_a_refusal_writes_nothing(store, case):
    first = writes(store)[:2]
    store.write(lambda tx: save_many(tx, first))
    before = store.read(rows)
    alice = store.read(lambda c: collection_store.by_path(c, "alice/meetings")).id
    fresh = write("n1", "n1.ics", 7, organiser="alice")
    bad = {
        "stored": write("m2", "x.ics", 8, organiser="alice"),
        "twice": write("n1", "y.ics", 9, organiser="bob"),
        "writer_href": write("n2", "m1.ics", 9, organiser="alice", collection_id=alice),
    }[case]
    with pytest.raises(Conflict):
        store.write(lambda tx: save_many(tx, [fresh, bad]))
    assert store.read(rows) == before
