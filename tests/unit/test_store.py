"""The store on SQLite and MariaDB: change log, time index, meeting fan-out, transactions."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bridge.model import Meeting
from bridge.store import Store
from bridge.store import changes as change_log
from bridge.store import collections as collection_store
from bridge.store import items as item_store
from bridge.store import meetings as meeting_store
from bridge.store import users as user_store
from bridge.store.errors import Conflict
from bridge.store.items import ItemData, ObjectIndex
from bridge.store.meetings import MeetingWrite
from bridge.store.migrate import current_revision, head_revision
from bridge.store.schema import changes, meetings

USERS = [
    user_store.UserRecord("alice", "Alice@Example.com", "Alice", ("bob",)),
    user_store.UserRecord("bob", "bob@example.com", "Bob", ("alice",)),
    user_store.UserRecord("carol", "carol@example.com", "Carol"),
]


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    s.write(lambda tx: user_store.sync(tx, USERS))
    yield s
    s.dispose()


def cid(store: Store, path: str) -> int:
    return store.read(lambda c: collection_store.by_path(c, path)).id


def event(href: str, start: int, end: int, *, exact=True, occurrences=None, open_from=None):
    index = ObjectIndex(
        start=start,
        end=end,
        exact=exact,
        open_from=open_from,
        occurrences=tuple(occurrences if occurrences is not None else [(start, end)]),
    )
    return ItemData(href=href, uid=href, component="VEVENT", index=index, text="T", etag='"e"')


def test_migrations_reach_head_and_are_idempotent(store, db_url):
    assert current_revision(store.engine) == head_revision(store.engine)
    Store(db_url).dispose()  # a second start migrates nothing and fails nothing
    assert current_revision(store.engine) == head_revision(store.engine)


def test_migrations_downgrade_and_upgrade_again(store):
    from alembic import command

    from bridge.store.migrate import alembic_config, upgrade

    cfg = alembic_config(store.engine)
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    assert current_revision(store.engine) == "0001"
    upgrade(store.engine)
    assert current_revision(store.engine) == head_revision(store.engine)


def test_user_sync_creates_homes_and_visibility(store):
    assert cid(store, "alice/meetings") != cid(store, "bob/meetings")
    seen = store.read(lambda c: user_store.colleagues(c, "alice"))
    assert [s.login for s in seen] == ["bob"]
    assert store.read(user_store.login_by_email)["alice@example.com"] == "alice"
    # Running it again changes nothing and fails nothing.
    store.write(lambda tx: user_store.sync(tx, USERS))
    assert [s.login for s in store.read(lambda c: user_store.colleagues(c, "alice"))] == ["bob"]


def test_change_log_is_ordered_and_one_seq_per_transaction(store):
    home = cid(store, "carol/meetings")

    def two(tx):
        item_store.upsert(tx, home, event("a.ics", 0, 10))
        item_store.upsert(tx, home, event("b.ics", 0, 10))
        assert tx.seq is None  # allocated only when the transaction is about to commit

    store.write(two)
    first = store.read(change_log.max_seq)
    store.write(lambda tx: item_store.remove(tx, home, "a.ics"))
    second = store.read(change_log.max_seq)
    assert second == first + 1
    assert store.read(lambda c: change_log.latest_seq(c, home)) == second
    rows = store.read(lambda c: change_log.latest_changes(c, home, 0))
    assert [(r.seq, r.href, r.op) for r in rows] == [
        (first, "b.ics", "put"),
        (second, "a.ics", "delete"),
    ]
    assert sorted(store.read(lambda c: change_log.changed_hrefs(c, home, 0))) == ["a.ics", "b.ics"]
    assert store.read(lambda c: change_log.changed_hrefs(c, home, first)) == ["a.ics"]
    assert store.read(lambda c: change_log.changed_hrefs(c, home, second)) == []


def test_prune_raises_the_floor(store):
    home = cid(store, "carol/meetings")
    store.write(lambda tx: item_store.upsert(tx, home, event("a.ics", 0, 10)))
    seq = store.read(lambda c: change_log.latest_seq(c, home))
    assert store.read(change_log.floor) == 0
    store.change_retention_days = 0
    floor = store.prune_changes(now=10**12)
    assert floor == seq
    # A collection whose rows were all pruned stands at the floor, not at 0.
    assert store.read(lambda c: change_log.position(c, home)) == floor
    assert store.read(lambda c: change_log.latest_seq(c, home)) == 0
    assert store.read(lambda c: c.execute(select(func.count()).select_from(changes)).scalar()) == 0


def test_time_range_answers_from_occurrences(store):
    home = cid(store, "carol/meetings")
    day = 86400

    def fill(tx):
        item_store.upsert(tx, home, event("one.ics", 10 * day, 10 * day + 3600))
        item_store.upsert(tx, home, event("zero.ics", 20 * day, 20 * day))  # zero length
        series = [(d * day, d * day + 600) for d in range(0, 70, 7)]
        item_store.upsert(tx, home, event("weekly.ics", 0, 63 * day + 600, occurrences=series))
        item_store.upsert(
            tx, home, event("open.ics", 0, 2**40, occurrences=[(0, 60)], open_from=100 * day)
        )
        item_store.upsert(tx, home, event("todo.ics", 5 * day, 6 * day, exact=False))

    store.write(fill)

    def hits(start, end):
        found = store.read(lambda c: item_store.in_range(c, home, start, end))
        return {row.href: exact for row, exact in found}

    assert hits(10 * day, 11 * day) == {"one.ics": True}
    assert hits(8 * day, 9 * day) == {}  # between weekly occurrences
    assert hits(14 * day, 14 * day + 1) == {"weekly.ics": True}
    # DTEND = DTSTART: [s, s] overlaps a window only strictly inside it (Radicale's rule).
    assert hits(20 * day - 1, 20 * day + 1) == {"zero.ics": True}
    assert hits(20 * day, 21 * day) == {}
    assert hits(19 * day, 20 * day) == {}
    assert hits(200 * day, 201 * day) == {"open.ics": False}  # past its expansion
    assert hits(5 * day, 5 * day + 10) == {"todo.ics": False}


def meeting_write(uid: str, href: str, collection_id: int | None = None, **fields) -> MeetingWrite:
    start = datetime(2026, 12, 1, 10, tzinfo=UTC)
    end = datetime(2026, 12, 1, 11, tzinfo=UTC)
    meeting = Meeting(uid=uid, start=start, end=end, **fields)
    s, e = int(start.timestamp()), int(end.timestamp())
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261201T100000Z\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    return MeetingWrite(
        meeting=meeting,
        href=href,
        ical=text,
        etag='"x"',
        busy_ical="B",
        busy_etag='"b"',
        index=ObjectIndex(s, e, True, None, ((s, e),)),
        collection_id=collection_id,
    )


def hrefs(store: Store, path: str) -> list[str]:
    return sorted(r.href for r in store.read(lambda c: item_store.all_in(c, cid(store, path))))


def test_meeting_fans_out_to_members_and_moves_with_them(store):
    store.write(
        lambda tx: meeting_store.save(
            tx, meeting_write("m1", "m1.ics", organiser="alice", internal_users=["bob"])
        )
    )
    assert hrefs(store, "alice/meetings") == ["m1.ics"]
    assert hrefs(store, "bob/meetings") == ["m1.ics"]
    assert hrefs(store, "carol/meetings") == []
    bob_seq = store.read(lambda c: change_log.latest_seq(c, cid(store, "bob/meetings")))

    # Bob is replaced by Carol: Bob's calendar logs a delete, Carol's a put.
    store.write(
        lambda tx: meeting_store.save(
            tx, meeting_write("m1", "m1.ics", organiser="alice", internal_users=["carol"])
        )
    )
    assert hrefs(store, "bob/meetings") == []
    assert hrefs(store, "carol/meetings") == ["m1.ics"]
    bob_changes = store.read(
        lambda c: change_log.changed_hrefs(c, cid(store, "bob/meetings"), bob_seq)
    )
    assert bob_changes == ["m1.ics"]

    meeting_id = store.read(lambda c: meeting_store.by_uid(c, "m1")).id
    store.write(lambda tx: meeting_store.delete_meeting(tx, meeting_id))
    assert hrefs(store, "alice/meetings") == hrefs(store, "carol/meetings") == []


def test_booked_on_behalf_is_not_in_the_bookers_calendar(store):
    store.write(
        lambda tx: meeting_store.save(
            tx, meeting_write("m2", "m2.ics", organiser="bob", booked_by="alice")
        )
    )
    assert hrefs(store, "alice/meetings") == []
    assert hrefs(store, "bob/meetings") == ["m2.ics"]


def test_hrefs_belong_to_calendars_not_to_the_store(store):
    """Two users' meetings may share an href; a member's entry gets a free one."""
    bob_cal, alice_cal = cid(store, "bob/meetings"), cid(store, "alice/meetings")
    store.write(
        lambda tx: meeting_store.save(tx, meeting_write("m3", "x.ics", bob_cal, organiser="bob"))
    )
    store.write(
        lambda tx: meeting_store.save(
            tx, meeting_write("m4", "x.ics", alice_cal, organiser="alice")
        )
    )
    assert hrefs(store, "alice/meetings") == hrefs(store, "bob/meetings") == ["x.ics"]
    # Alice invites Bob: his x.ics is taken by m3, so m4 gets its own href there.
    store.write(
        lambda tx: meeting_store.save(
            tx, meeting_write("m4", "x.ics", alice_cal, organiser="alice", internal_users=["bob"])
        )
    )
    bob_rows = store.read(lambda c: item_store.all_in(c, bob_cal))
    assert {row.uid: row.href for row in bob_rows}["m3"] == "x.ics"
    assert {row.uid: row.href for row in bob_rows}["m4"] != "x.ics"


def test_href_clash_inside_the_written_calendar_is_refused_and_changes_nothing(store):
    alice_cal = cid(store, "alice/meetings")
    store.write(
        lambda tx: meeting_store.save(
            tx, meeting_write("m5", "y.ics", alice_cal, organiser="alice")
        )
    )
    with pytest.raises(Conflict, match="y.ics"):
        store.write(
            lambda tx: meeting_store.save(
                tx, meeting_write("m6", "y.ics", alice_cal, organiser="alice")
            )
        )
    count = store.read(lambda c: c.execute(select(func.count()).select_from(meetings)).scalar())
    assert count == 1
    assert hrefs(store, "alice/meetings") == ["y.ics"]


def test_failed_write_in_a_request_rolls_back_only_itself(store):
    home = cid(store, "carol/meetings")
    with store.request_transaction():
        store.write(lambda tx: item_store.upsert(tx, home, event("kept.ics", 0, 10)))
        with pytest.raises(RuntimeError):

            def broken(tx):
                item_store.upsert(tx, home, event("lost.ics", 0, 10))
                raise RuntimeError("boom")

            store.write(broken)
    assert hrefs(store, "carol/meetings") == ["kept.ics"]


def test_concurrent_writers_get_distinct_ordered_seqs(store):
    home = cid(store, "carol/meetings")

    def writer(n: int) -> None:
        for i in range(10):
            store.write(lambda tx, i=i: item_store.upsert(tx, home, event(f"{n}-{i}.ics", 0, 10)))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seqs = [c.seq for c in store.read(lambda c: change_log.latest_changes(c, home, 0))]
    assert len(set(seqs)) == 40
    assert len(hrefs(store, "carol/meetings")) == 40


def test_reserved_collection_names():
    assert collection_store.is_reserved("alice/meetings")
    assert collection_store.is_reserved("alice/meetings-bob")
    assert not collection_store.is_reserved("alice/calendar")
    assert not collection_store.is_reserved("alice/meetings/x")


def test_timestamps_keep_sub_second_precision(store):
    """MySQL's 4-byte FLOAT rounded epoch times to minutes; they are doubles now."""
    import time as clock

    from bridge.secret_box import Keyring
    from bridge.store import bindings as binding_store

    record = binding_store.BindingRecord("alice", "google", "google", {})
    store.write(lambda tx: binding_store.sync(tx, [record], Keyring.generate()))
    row = store.read(lambda c: binding_store.by_login(c, "alice"))[0]
    now = clock.time()
    store.write(lambda tx: binding_store.take_lease(tx, row.id, "me", 0.25))
    held = store.read(lambda c: binding_store.get(c, row.id)).lease_until
    assert abs(held - (now + 0.25)) < 0.2
    home = cid(store, "carol/meetings")
    store.write(lambda tx: item_store.upsert(tx, home, event("t.ics", 0, 10)))
    stored = store.read(lambda c: item_store.all_in(c, home))[0].last_modified
    assert abs(stored - clock.time()) < 5


def test_booking_rights_follow_the_config(store):
    def rights():
        return store.read(
            lambda c: {
                (b, o)
                for b in ("alice", "bob", "carol")
                for o in ("alice", "bob", "carol")
                if user_store.can_book_for(c, b, o)
            }
        )

    assert rights() == set()
    with_rights = [
        *USERS[:2],
        user_store.UserRecord("carol", "carol@example.com", "Carol", (), ("bob", "alice")),
    ]
    store.write(lambda tx: user_store.sync(tx, with_rights))
    assert rights() == {("carol", "bob"), ("carol", "alice")}
    store.write(lambda tx: user_store.sync(tx, USERS))  # taken away again
    assert rights() == set()
