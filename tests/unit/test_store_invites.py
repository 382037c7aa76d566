"""The invites table (migration 0013) on SQLite and MariaDB: a pending row before the
remote create, then sent/held with the remote id; updates, cancel, a new invite after a
cancel replacing the row; one invite per (binding, meeting) and per remote id; limits
checked before SQL; the rows go with their binding."""

from __future__ import annotations

import pytest
import sqlalchemy
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from bridge.secret_box import Keyring
from bridge.store import Store
from bridge.store import bindings as binding_store
from bridge.store import invites as invite_store
from bridge.store import users as user_store
from bridge.store.errors import StoreError
from bridge.store.migrate import current_revision, head_revision
from bridge.store.schema import bindings


@pytest.fixture
def store(db_url: str):
    made = Store(db_url)
    yield made
    made.dispose()


def binding(store: Store) -> int:
    def setup(tx) -> int:
        user_store.sync(tx, [user_store.UserRecord("alice", "alice@example.com", "Alice")])
        record = binding_store.BindingRecord("alice", "google", "google", {})
        binding_store.sync(tx, [record], Keyring.generate())
        return binding_store.by_login(tx.conn, "alice")[0].id

    return store.write(setup)


def begin(store: Store, binding_id: int, uid: str = "m-1", key: str = "k-1"):
    return store.write(
        lambda tx: invite_store.begin(
            tx,
            binding_id,
            uid,
            idempotency_key=key,
            sent_hash="h" * 64,
            sent_fields={"subject": "Søren's review", "attendees": ["ann@partner.test"]},
            recipients=["ann@partner.test"],
            template="default",
            language="da",
        )
    )


def test_the_store_at_head_has_the_invites_table_of_0013(store):
    assert current_revision(store.engine) == head_revision(store.engine)
    assert "invites" in sqlalchemy.inspect(store.engine).get_table_names()


def test_an_invite_goes_pending_sent_updated_cancelled_and_again(store):
    bid = binding(store)
    pending = begin(store, bid)
    assert pending.state == "pending" and pending.remote_id is None and pending.sequence == 0
    assert pending.sent_fields["subject"] == "Søren's review"
    assert not store.read(lambda c: invite_store.is_invite_copy(c, bid, "ev-1"))
    store.write(
        lambda tx: invite_store.created(tx, pending.id, remote_id="ev-1", etag="e1", mailed=True)
    )
    sent = store.read(lambda c: invite_store.for_meeting(c, bid, "m-1"))
    assert (sent.state, sent.remote_id, sent.remote_etag) == ("sent", "ev-1", "e1")
    assert store.read(lambda c: invite_store.is_invite_copy(c, bid, "ev-1"))
    assert store.read(lambda c: invite_store.by_remote(c, bid, "ev-1")).meeting_uid == "m-1"
    store.write(
        lambda tx: invite_store.updated(
            tx,
            sent.id,
            etag="e2",
            mailed=False,
            sent_hash="g" * 64,
            sent_fields={"subject": "later"},
            recipients=["ann@partner.test", "dora@third.test"],
            sequence=1,
        )
    )
    held = store.read(lambda c: invite_store.for_meeting(c, bid, "m-1"))
    assert (held.state, held.sequence, held.recipients) == (
        "held",
        1,
        ("ann@partner.test", "dora@third.test"),
    )
    assert [i.meeting_uid for i in store.read(lambda c: invite_store.live_for_binding(c, bid))] == [
        "m-1"
    ]
    store.write(lambda tx: invite_store.cancelled(tx, held.id))
    assert store.read(lambda c: invite_store.live_for_binding(c, bid)) == []
    # a cancelled copy's id stays known: sync never imports it
    assert store.read(lambda c: invite_store.is_invite_copy(c, bid, "ev-1"))
    again = begin(store, bid, key="k-2")
    assert again.id == held.id and again.state == "pending" and again.idempotency_key == "k-2"
    assert again.remote_id is None and again.sequence == 0


def test_one_copy_per_remote_id(store):
    bid = binding(store)
    first, second = begin(store, bid, "m-1"), begin(store, bid, "m-2", "k-2")
    store.write(lambda tx: invite_store.created(tx, first.id, remote_id="ev", etag="", mailed=True))
    with pytest.raises(IntegrityError):
        store.write(
            lambda tx: invite_store.created(tx, second.id, remote_id="ev", etag="", mailed=True)
        )


def test_limits_are_checked_before_sql(store):
    bid = binding(store)
    with pytest.raises(StoreError):
        begin(store, bid, uid="u" * 300)
    assert store.read(lambda c: invite_store.live_for_binding(c, bid)) == []


def test_invites_go_with_their_binding(store):
    bid = binding(store)
    begin(store, bid)
    store.write(lambda tx: tx.conn.execute(delete(bindings).where(bindings.c.id == bid)))
    assert store.read(lambda c: invite_store.for_meeting(c, bid, "m-1")) is None


def test_a_second_begin_keeps_the_pending_key_and_refuses_a_live_invite(store):
    bid = binding(store)
    first = begin(store, bid, key="k-1")
    retried = begin(store, bid, key="k-other")
    assert retried.id == first.id and retried.idempotency_key == "k-1"
    store.write(
        lambda tx: invite_store.created(tx, first.id, remote_id="ev", etag="", mailed=False)
    )
    with pytest.raises(invite_store.AlreadyLive):
        begin(store, bid, key="k-3")
    assert store.read(lambda c: invite_store.for_meeting(c, bid, "m-1")).state == "held"
