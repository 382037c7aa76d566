"""Size limits of the store: read from the schema, checked before SQL, the same on SQLite and
MariaDB; values the bridge accepts fit after migration 0005."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bridge.store import Store, limits
from bridge.store import collections as collection_store
from bridge.store import items as item_store
from bridge.store import users as user_store
from bridge.store.items import ItemData, ObjectIndex
from bridge.store.schema import bindings, changes, collections, items, meetings

LOGIN = "l" * limits.LOGIN


def test_limits_come_from_the_schema_as_mysql_creates_it():
    assert limits._limit(items.c.href) == (limits.HREF, "characters")
    assert limits._limit(meetings.c.exdates) == (limits.LONG_TEXT_BYTES, "bytes")
    assert limits._limit(bindings.c.settings) == (limits.TEXT_BYTES, "bytes")
    assert limits._limit(changes.c.origin)[0] >= len("caldav:") + limits.LOGIN


def test_check_names_the_field_and_counts_bytes_for_texts():
    with pytest.raises(limits.TooLong, match=r"UID is too long: 256 characters, the limit is 255"):
        limits.check(items, {"uid": "u" * 256})
    limits.check(items, {"uid": "é" * 255})  # characters, not bytes, for strings
    with pytest.raises(limits.TooLong, match=r"bindings.settings .* 80000 bytes"):
        limits.check(bindings, {"settings": "é" * 40_000})
    limits.check(collections, {"props": "x" * 1_000_000})


def test_a_64_character_login_can_be_recorded_as_origin(db_url):
    store = Store(db_url)
    try:
        store.write(
            lambda tx: user_store.sync(tx, [user_store.UserRecord(LOGIN, "l@example.com", "L")])
        )

        def write(tx):
            cid = collection_store.create(tx, f"{LOGIN}/cal", {"tag": "VCALENDAR"})
            item_store.upsert(
                tx,
                cid,
                ItemData("a.ics", "a", "VEVENT", ObjectIndex(0, 10), text="x", etag='"e"'),
            )

        store.write(write, origin=f"caldav:{LOGIN}")
        origins = store.read(lambda c: list(c.execute(select(changes.c.origin)).scalars()))
        assert f"caldav:{LOGIN}" in origins
    finally:
        store.dispose()


def test_a_too_long_href_changes_nothing(db_url):
    store = Store(db_url)
    try:
        store.write(
            lambda tx: user_store.sync(tx, [user_store.UserRecord("al", "al@example.com", "A")])
        )
        cid = store.write(lambda tx: collection_store.create(tx, "al/cal", {}))
        data = ItemData("h" * 256, "a", "VEVENT", ObjectIndex(0, 10), text="x", etag='"e"')
        with pytest.raises(limits.TooLong, match="href"):
            store.write(lambda tx: item_store.upsert(tx, cid, data))
        assert store.read(lambda c: item_store.all_in(c, cid)) == []
    finally:
        store.dispose()
