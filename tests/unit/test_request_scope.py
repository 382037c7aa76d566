"""A request's write transaction is held until its answer is known (SQLite and MariaDB)."""

from __future__ import annotations

import pytest

from bridge.store import Store
from bridge.store import collections as collection_store
from bridge.store.request_scope import answer_decides
from tests.unit.test_store import store  # noqa: F401 - the fixture


def exists(store: Store, path: str) -> bool:  # noqa: F811
    return store.read(lambda conn: collection_store.by_path(conn, path)) is not None


def make(store: Store, path: str) -> None:  # noqa: F811
    store.write(lambda tx: collection_store.create(tx, path, {}))


@pytest.mark.parametrize("success", [True, False])
def test_the_answer_decides_commit_or_rollback(store, success):  # noqa: F811
    with answer_decides() as scope:
        with store.request_transaction():
            make(store, "alice/decided")
        # The lock is released, the transaction is not: this thread still sees its write.
        assert exists(store, "alice/decided")
        scope.finish(commit=success)
    assert exists(store, "alice/decided") is success


def test_a_second_lock_in_the_same_request_joins_the_held_transaction(store):  # noqa: F811
    with answer_decides() as scope:
        with store.request_transaction():
            make(store, "alice/first")
        with store.request_transaction():  # would wait for itself if it opened another
            make(store, "alice/second")
        scope.finish(commit=True)
    assert exists(store, "alice/first") and exists(store, "alice/second")


def test_leaving_the_scope_without_an_answer_rolls_back(store):  # noqa: F811
    with pytest.raises(RuntimeError), answer_decides():
        with store.request_transaction():
            make(store, "alice/abandoned")
        raise RuntimeError("the application failed")
    assert not exists(store, "alice/abandoned")


def test_a_failing_request_block_rolls_back_at_once(store):  # noqa: F811
    with answer_decides() as scope:
        with pytest.raises(ValueError), store.request_transaction():
            make(store, "alice/failed")
            raise ValueError("refused")
        scope.finish(commit=True)
    assert not exists(store, "alice/failed")


def test_without_a_scope_the_lock_release_commits(store):  # noqa: F811
    with store.request_transaction():
        make(store, "alice/plain")
    assert exists(store, "alice/plain")
