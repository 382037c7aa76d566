"""A CalDAV write that InnoDB aborts in a deadlock is run again by the server, not lost.

On MariaDB write requests lock only the calendars they touch, so two writers can each
hold what the other wants. Here the test holds bob's calendar in a transaction of its
own (with a lot written, so InnoDB picks the request as the victim), a real `bridge
serve` gets alice's PUT of a meeting with bob and waits for bob's calendar while holding
alice's, and then the test asks for alice's: a deadlock. The request is rolled back and
answered only after its second run, which succeeds once the test commits.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, text

from bridge.meeting_service import save_from_sync
from bridge.model import Meeting
from bridge.store import Store
from bridge.store import collections as collection_store
from bridge.store.schema import users
from tests.support import server as support
from tests.support.databases import database
from tests.support.http import request, vevent

pytestmark = pytest.mark.mysql


WAITING = "SELECT COUNT(*) FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT'"


def waiting_for_a_lock(store: Store) -> bool:
    """Whether some transaction (the server's request) waits for a row lock now (asked on
    a connection of its own: the test's transaction is open in this thread). InnoDB
    refreshes this table only when it was not read for 0.1 s: ask less often."""
    with store.engine.connect() as conn:
        return bool(conn.execute(text(WAITING)).scalar())


def test_a_deadlocked_put_is_run_again_and_lands(tmp_path):
    with database("mysql", tmp_path, at_head=True) as db_url:
        port = support.free_port()
        server = support.start(support.write_config(tmp_path, db_url, port), port, cwd=tmp_path)
        store = Store(db_url, migrate=False)
        try:
            ids = {
                login: store.read(
                    lambda c, login=login: collection_store.by_path(c, f"{login}/meetings").id
                )
                for login in ("alice", "bob")
            }
            answer: dict[str, object] = {}

            def put() -> None:
                answer["put"] = request(
                    server.url,
                    "PUT",
                    "/alice/meetings/with-bob.ics",
                    vevent(
                        "with-bob",
                        "With Bob",
                        extra="ORGANIZER:mailto:alice@example.com\nATTENDEE:mailto:bob@example.com",
                    ),
                )

            putter = threading.Thread(target=put)
            with store.request_transaction(origin="test") as tx:
                tx.lock_collections([ids["bob"]])
                start = datetime(2026, 12, 1, 9, tzinfo=UTC)
                for n in range(10):  # a big transaction: InnoDB rolls back the small one
                    meeting = Meeting(
                        uid=f"bob-{n}",
                        start=start + timedelta(hours=n),
                        end=start + timedelta(hours=n, minutes=30),
                        organiser="bob",
                        subject=f"Bob {n}",
                    )
                    save_from_sync(
                        tx, meeting, href=f"bob-{n}.ics", horizon_days=30, max_occurrences=10
                    )
                putter.start()
                deadline = time.monotonic() + 30
                while not waiting_for_a_lock(store):  # the PUT holds alice's, wants bob's
                    assert time.monotonic() < deadline, server.output()[-3000:]
                    time.sleep(0.25)
                tx.lock_collections([ids["alice"]])  # the deadlock: the PUT is its victim
                assert "put" not in answer  # its second run waits for our commit
            putter.join(60)
            assert answer["put"].status == 201, (answer["put"], server.output()[-3000:])
            assert "PUT: lock conflict, running it again" in server.output()
            for login in ("alice", "bob"):
                listed = request(server.url, "GET", f"/{login}/meetings/with-bob.ics", user=login)
                assert listed.status == 200 and "With Bob" in listed.body, (login, listed)
            bobs = request(server.url, "GET", "/bob/meetings/bob-9.ics", user="bob")
            assert bobs.status == 200 and "Bob 9" in bobs.body
        finally:
            store.dispose()
            server.stop()


def test_a_put_that_loses_a_same_uid_race_answers_as_the_second_would(tmp_path):
    """Bob's new meeting and alice's PUT of a meeting with the same UID lock different
    calendars, so on MariaDB they meet only at the UID: alice's locking read of the UID
    waits for the test's uncommitted insert and then sees it, and her PUT gets the answer
    a PUT arriving second gets (400 naming the UID in use by bob's meeting), not a 500;
    bob's meeting is untouched."""
    with database("mysql", tmp_path, at_head=True) as db_url:
        port = support.free_port()
        server = support.start(support.write_config(tmp_path, db_url, port), port, cwd=tmp_path)
        store = Store(db_url, migrate=False)
        try:
            answer: dict[str, object] = {}
            body = vevent("same-uid", "Alice's", extra="ORGANIZER:mailto:alice@example.com")

            def put() -> None:
                answer["put"] = request(server.url, "PUT", "/alice/meetings/mine.ics", body)

            putter = threading.Thread(target=put)
            with store.request_transaction(origin="test") as tx:
                start = datetime(2026, 12, 1, 9, tzinfo=UTC)
                bobs = Meeting(
                    uid="same-uid",
                    start=start,
                    end=start + timedelta(minutes=30),
                    organiser="bob",
                    subject="Bob's",
                )
                save_from_sync(tx, bobs, href="bobs.ics", horizon_days=30, max_occurrences=10)
                putter.start()
                deadline = time.monotonic() + 30
                while not waiting_for_a_lock(store):  # alice's insert waits on the UID
                    assert time.monotonic() < deadline, server.output()[-3000:]
                    time.sleep(0.25)
            putter.join(60)
            second = request(server.url, "PUT", "/alice/meetings/again.ics", body)
            # what a PUT arriving second gets
            assert second.status == 400 and "'same-uid' is already in use" in second.body, second
            assert answer["put"].status == second.status, (answer["put"], server.output()[-3000:])
            mine = request(server.url, "GET", "/alice/meetings/mine.ics")
            assert mine.status == 404, mine
            theirs = request(server.url, "GET", "/bob/meetings/bobs.ics", user="bob")
            assert theirs.status == 200 and "Bob's" in theirs.body, theirs
        finally:
            store.dispose()
            server.stop()


def test_a_transaction_that_loses_an_insert_race_is_run_again(tmp_path):
    """The race the locking read cannot stop (READ COMMITTED takes no gap locks): this
    transaction reads no user "racer", another commits one, and this one's insert hits the
    duplicate key (MariaDB 1062). The store runs the transaction again whole, and the second
    run finds the row, as a writer arriving second would."""
    with database("mysql", tmp_path, at_head=True) as db_url:
        store = Store(db_url, migrate=False)
        runs: list[str] = []
        racer = {"login": "racer", "email": "racer@example.com", "display_name": "R"}
        try:

            def work(tx) -> str:
                found = tx.conn.execute(select(users.c.id).where(users.c.login == "racer"))
                if found.first() is not None:
                    runs.append("found")
                    return "found"
                if not runs:  # the other writer commits between our read and our insert
                    other = threading.Thread(
                        target=lambda: store.write(lambda t: t.conn.execute(insert(users), racer))
                    )
                    other.start()
                    other.join(30)
                runs.append("inserting")
                tx.conn.execute(insert(users), racer)
                return "inserted"

            assert store.write(work) == "found"
            assert runs == ["inserting", "found"]
            count = store.read(lambda c: c.execute(select(users).where(users.c.login == "racer")))
            assert len(count.all()) == 1
        finally:
            store.dispose()
