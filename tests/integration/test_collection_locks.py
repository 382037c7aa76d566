"""Write locks per collection on MariaDB, the single writer on SQLite, and a change log
whose positions (CalDAV sync tokens, outbound cursors, the scheduler's watcher) never
pass a change that commits later.

The storage is the plugin under Radicale's own Application, in process; writes go
through ``acquire_lock("w")`` and the collections Radicale discovers, as a PUT does.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from radicale import Application
from radicale import item as radicale_item

from bridge.config import parse_config
from bridge.meeting_service import save_from_sync
from bridge.model import Meeting
from bridge.server import radicale_configuration
from bridge.store import changes as change_log
from bridge.store import collections as collection_store
from bridge.store.schema import changes
from bridge.wiring import open_store
from tests.support.http import vevent

USERS = [f"u{n}" for n in range(6)]


@pytest.fixture
def storage(db_url: str, tmp_path: Path):
    settings = parse_config(
        {
            "server": {"auth": "none"},
            "store": {"url": db_url},
            "users": [{"login": login, "email": f"{login}@example.com"} for login in USERS],
        },
        file="test",
        base_dir=tmp_path,
    )
    store = open_store(settings)
    app = Application(radicale_configuration(settings))
    yield app._storage
    store.dispose()


def _upload(storage, login: str, uid: str) -> None:
    collection = next(iter(storage.discover(f"/{login}/meetings/")))
    item = radicale_item.Item(
        collection_path=collection.path,
        vobject_item=radicale_item.read_components(vevent(uid))[0],
    )
    item.prepare()
    collection.upload(f"{uid}.ics", item)


def put(storage, login: str, uid: str) -> None:
    """A PUT of a one-person meeting into ``login``'s calendar, as Radicale makes it."""
    with storage.acquire_lock("w", login):
        _upload(storage, login, uid)


def slow_put(storage, login: str, uid: str, holding: threading.Event, go: threading.Event):
    """A PUT that keeps its transaction (and so its locks) open until ``go``."""
    with storage.acquire_lock("w", login):
        _upload(storage, login, uid)
        holding.set()
        assert go.wait(60)


def hrefs(storage, login: str) -> set[str]:
    collection = next(iter(storage.discover(f"/{login}/meetings/")))
    return {item.href for item in collection.get_all()}


def test_a_slow_write_to_one_calendar_does_not_delay_another_on_mariadb(storage, db_url):
    on_sqlite = db_url.startswith("sqlite")
    order: list[str] = []
    holding, go = threading.Event(), threading.Event()

    def slow() -> None:
        slow_put(storage, "u0", "slow", holding, go)
        order.append("slow committed")

    def other(login: str, uid: str, done: threading.Event) -> None:
        put(storage, login, uid)
        order.append(f"{uid} done")
        done.set()

    slow_thread = threading.Thread(target=slow)
    slow_thread.start()
    assert holding.wait(60)
    other_done, same_done = threading.Event(), threading.Event()
    other_thread = threading.Thread(target=other, args=("u1", "other", other_done))
    same_thread = threading.Thread(target=other, args=("u0", "same", same_done))
    other_thread.start()
    try:
        if on_sqlite:
            # One writer: the other calendar's write waits for the slow one.
            assert not other_done.wait(1.0)
        else:
            # The other calendar's write completes while the slow one still holds u0.
            assert other_done.wait(30)
            assert order == ["other done"]
            # ... but a second write to u0's calendar waits for it.
            same_thread.start()
            assert not same_done.wait(1.0)
    finally:
        go.set()
        slow_thread.join(60)
        other_thread.join(60)
        if same_thread.ident is not None:  # started (MariaDB)
            same_thread.join(60)
    if on_sqlite:
        assert order == ["slow committed", "other done"]
    else:
        assert order[:2] == ["other done", "slow committed"] and order[2] == "same done"
        assert hrefs(storage, "u0") == {"slow.ics", "same.ics"}
    assert "other.ics" in hrefs(storage, "u1")


def _meeting(uid: str, organiser: str, attendee: str | None, n: int) -> Meeting:
    start = datetime(2026, 12, 1, 9, tzinfo=UTC) + timedelta(hours=n)
    return Meeting(
        uid=uid,
        start=start,
        end=start + timedelta(minutes=30),
        organiser=organiser,
        internal_users=[attendee] if attendee else [],
        subject=uid,
    )


def test_concurrent_writers_lose_no_change_and_positions_never_skip_one(storage):
    """Writers to many calendars at once (PUTs, and meetings fanned out to two calendars,
    locked together) while readers follow every calendar's sync token, an outbound cursor
    per calendar and the scheduler's watcher over the whole log: each reader sees every
    change exactly once, however the commits interleave."""
    store = storage.store
    ids = {
        login: store.read(
            lambda c, login=login: collection_store.by_path(c, f"{login}/meetings").id
        )
        for login in USERS
    }
    start_seq = store.read(change_log.max_seq)
    writers_done = threading.Event()
    failures: list[BaseException] = []

    def put_writer(n: int) -> None:
        rng = random.Random(n)
        for i in range(12):
            put(storage, rng.choice(USERS), f"p{n}-{i}")

    def fan_out_writer(n: int) -> None:
        rng = random.Random(100 + n)
        for i in range(12):
            organiser, attendee = rng.sample(USERS, 2)
            meeting = _meeting(f"m{n}-{i}", organiser, attendee, i)
            store.write(
                lambda tx, m=meeting: save_from_sync(
                    tx, m, href=f"{m.uid}.ics", horizon_days=30, max_occurrences=10
                ),
                origin="api:test",
            )

    # Per calendar: hrefs seen through sync tokens and through a cursor, every delta.
    by_token: dict[str, Counter] = {login: Counter() for login in USERS}
    by_cursor: dict[str, Counter] = {login: Counter() for login in USERS}
    by_watcher: Counter = Counter()
    tokens = {login: "" for login in USERS}
    cursors = {login: start_seq for login in USERS}
    watched = [start_seq]

    def follow_once() -> None:
        for login in USERS:
            collection = next(iter(storage.discover(f"/{login}/meetings/")))
            token, changed = collection.sync(tokens[login])
            if tokens[login]:
                by_token[login].update(changed)
            tokens[login] = token
            since = cursors[login]
            found = store.read(
                lambda c, cid=ids[login], s=since: change_log.latest_changes(c, cid, s)
            )
            by_cursor[login].update(change.href for change in found)
            if found:
                cursors[login] = found[-1].seq

        def watch(conn) -> tuple[int, list[tuple[int, str, int]]]:
            top = change_log.max_seq(conn)
            rows = conn.execute(
                changes.select().where(changes.c.seq > watched[0], changes.c.seq <= top)
            )
            return top, [(r.seq, r.href, r.collection_id) for r in rows]

        top, rows = store.read(watch)
        by_watcher.update(rows)
        watched[0] = top

    def reader() -> None:
        try:
            while not writers_done.is_set():
                follow_once()
            follow_once()  # after the last commit
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    for login in USERS:  # the starting tokens
        collection = next(iter(storage.discover(f"/{login}/meetings/")))
        tokens[login] = collection.sync("")[0]

    def guarded(target, n: int) -> None:
        try:
            target(n)
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    writers = [threading.Thread(target=guarded, args=(put_writer, n)) for n in range(3)]
    writers += [threading.Thread(target=guarded, args=(fan_out_writer, n)) for n in range(3)]
    follower = threading.Thread(target=reader)
    follower.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join(120)
    writers_done.set()
    follower.join(120)
    assert not failures, failures

    every_href = {login: hrefs(storage, login) for login in USERS}
    assert sum(len(found) for found in every_href.values()) == 3 * 12 + 3 * 12 * 2
    for login in USERS:
        # Every write landed, was seen once through sync tokens and once by the cursor.
        assert set(by_token[login]) == every_href[login], login
        assert set(by_token[login].values()) <= {1}, login
        assert set(by_cursor[login]) == every_href[login], login
        assert set(by_cursor[login].values()) <= {1}, login
    logged = store.read(
        lambda c: [
            (r.seq, r.href, r.collection_id)
            for r in c.execute(changes.select().where(changes.c.seq > start_seq))
        ]
    )
    assert Counter(logged) == by_watcher  # the watcher saw each row once, none skipped
    assert len({seq for seq, _, _ in logged}) == 3 * 12 + 3 * 12  # one seq per transaction
