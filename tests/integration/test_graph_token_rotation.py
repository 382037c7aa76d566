"""Delegated refresh tokens rotated strictly (the emulator consumes a redeemed one) while
several processes sign in for one binding: ``bridge serve``'s short-lived push-channel
backends and ``bridge worker``'s kept ones, on one store.

Each process is a real one (tests/support/graph_sign_in.py) making its backends from the
store as the wiring does. Every sign-in must use the newest stored refresh token, store its
successor by compare-and-set, and on ``invalid_grant`` read the stored one again once.
SQLite and MariaDB.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from bridge.backends.graph import auth
from bridge.store import binding_secrets
from bridge.store import bindings as binding_store
from bridge.sync.stored_secret import StoredSecret
from bridge.wiring import BackendMaker
from tests.emulators.graph import GraphEmulator
from tests.support.graph_delegated import ALICE, contoso, delegated_settings, device_sign_in
from tests.support.sync_world import _make


@pytest.fixture
def graph() -> Iterator[GraphEmulator]:
    with contoso() as g:
        yield g


@pytest.fixture
def bound(graph, db_url, monkeypatch):
    """(store, binding id, keyring, the first refresh token), rotation strict."""
    first = device_sign_in(graph)
    graph.rotate_refresh_tokens = True
    monkeypatch.setattr(auth, "_APPS", {})
    store, binding_id, keyring = _make(
        db_url, "graph", delegated_settings(graph), {"refresh_token": first}, None
    )
    try:
        yield store, binding_id, keyring, first
    finally:
        store.dispose()


class Process:
    """A separate process signing in for the binding on demand."""

    def __init__(self, store, binding_id: int, keyring) -> None:
        env = {**os.environ, "BRIDGE_SECRET_KEY": keyring.keys[0]}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.graph_sign_in",
                store.url,
                str(binding_id),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    def sign_in(self) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().strip()
        assert line, self.proc.stderr.read() if self.proc.stderr else ""
        return line

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)
        assert self.proc.returncode == 0, self.proc.stderr.read() if self.proc.stderr else ""


def _stored(store, binding_id, keyring) -> str:
    row = store.read(lambda c: binding_store.get(c, binding_id))
    return binding_secrets.read_secret(row, keyring)["refresh_token"]


def _used(graph, since: int) -> list[str]:
    return [f["refresh_token"] for f in graph.token_requests[since:] if "refresh_token" in f]


def test_serve_and_worker_processes_take_turns_with_the_newest_stored_token(graph, bound) -> None:
    store, binding_id, keyring, first = bound
    serve, worker = Process(store, binding_id, keyring), Process(store, binding_id, keyring)
    try:
        seen = [first]
        for process in (serve, worker, serve, serve, worker, serve):
            before = len(graph.token_requests)
            assert process.sign_in() == "ok"
            # one refresh each, with the token the previous sign-in (any process) stored
            assert _used(graph, before) == [seen[-1]]
            newest = _stored(store, binding_id, keyring)
            assert newest not in seen  # the successor was stored
            seen.append(newest)
    finally:
        serve.close()
        worker.close()


def test_a_process_refused_a_consumed_token_reads_the_stored_one_again(graph, bound) -> None:
    """The worker reads the stored token; before it redeems it, serve redeems and rotates it
    (Entra answers the worker invalid_grant): the worker reads the store once more and signs
    in with serve's successor, which it replaces in the store."""
    store, binding_id, keyring, first = bound
    serve = Process(store, binding_id, keyring)

    class Raced(StoredSecret):
        raced = False

        def read(self):  # the worker's read; then serve signs in first
            secret = super().read()
            if not self.raced:
                self.raced = True
                assert serve.sign_in() == "ok"
            return secret

    try:
        row = store.read(lambda c: binding_store.get(c, binding_id))
        maker = BackendMaker(keyring, store)
        backend = maker(row)
        backend.tokens.cell = Raced(store, binding_id, keyring)
        before = len(graph.token_requests)
        assert backend.check() is None
        used = _used(graph, before)
        assert used[:2] == [first, first]  # serve's (good) and the worker's (refused)
        rotated_by_serve = used[2]
        assert len(used) == 3 and rotated_by_serve != first
        final = _stored(store, binding_id, keyring)
        assert final not in (first, rotated_by_serve)
        assert backend.changed_secret() is None  # stored by the backend itself
        backend.close()
        assert serve.sign_in() == "ok"  # serve goes on with the worker's successor
        assert _used(graph, before)[-1] == final
    finally:
        serve.close()


def test_a_stale_process_never_overwrites_a_newer_stored_token(bound) -> None:
    store, binding_id, keyring, first = bound
    cell = StoredSecret(store, binding_id, keyring)
    assert cell.swap({"refresh_token": first}, {"refresh_token": "second"})
    assert not cell.swap({"refresh_token": first}, {"refresh_token": "stale successor"})
    assert _stored(store, binding_id, keyring) == "second"
    assert cell.read() == {"refresh_token": "second"}


def test_without_a_newer_stored_token_invalid_grant_fails_in_words(graph, bound) -> None:
    store, binding_id, keyring, first = bound
    graph.revoke_refresh_tokens(ALICE)
    row = store.read(lambda c: binding_store.get(c, binding_id))
    backend = BackendMaker(keyring, store)(row)
    before = len(graph.token_requests)
    problem = backend.check()
    assert problem is not None and "revoked" in problem
    assert _used(graph, before) == [first]  # the stored one, read again: the same, not retried
    assert _stored(store, binding_id, keyring) == first  # untouched
    backend.close()
