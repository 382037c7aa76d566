"""Graph sign-ins the first engineer left untested, against the emulator over real HTTP:

- app-only with a certificate file (private key and certificate, PEM) and its thumbprint:
  msal signs a client assertion the emulator checks against the registered certificate;
- delegated with refresh-token rotation: the emulator consumes a redeemed refresh token, the
  backend reports the one Entra rotated in (``Backend.changed_secret``), the scheduler stores
  it encrypted, and a new process signs in with it (the old one refused).

SQLite and MariaDB where a store is involved.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from bridge.backends.base import RemoteEvent
from bridge.backends.graph import auth
from bridge.backends.graph.backend import GraphBackend
from bridge.backends.graph.settings import graph_settings
from bridge.backends.kinds import BindingSpec
from bridge.store import binding_secrets
from bridge.store import bindings as binding_store
from bridge.sync.rules import SyncRules
from bridge.sync.scheduler import Scheduler, Timing
from bridge.wiring import BackendMaker
from tests.emulators.graph import GraphEmulator
from tests.support.graph_delegated import (
    ALICE,
    TENANT,
    contoso,
    delegated_settings,
    device_sign_in,
)
from tests.support.sync_world import _make
from tests.unit.test_graph_emulator_auth import make_certificate

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def graph() -> Iterator[GraphEmulator]:
    with contoso() as g:
        yield g


@pytest.fixture
def new_process(monkeypatch) -> Iterator[None]:
    """The process's msal applications (token caches) start empty, as in a new process."""
    monkeypatch.setattr(auth, "_APPS", {})
    yield


def _event(subject: str) -> RemoteEvent:
    start = NOW + timedelta(days=1)
    return RemoteEvent(
        "", start, start + timedelta(hours=1), crm_meeting_id=subject, subject=subject
    )


def _sha1_hex(cert_pem: str) -> str:
    der = x509.load_pem_x509_certificate(cert_pem.encode()).public_bytes(serialization.Encoding.DER)
    return hashlib.sha1(der).hexdigest().upper()  # noqa: S324 - the thumbprint Entra shows


def _cert_backend(g: GraphEmulator, tmp: Path, key_pem: str, cert_pem: str, thumb: str):
    pem = tmp / "graph-app.pem"
    pem.write_text(key_pem + cert_pem)
    pem.chmod(0o600)
    settings = {
        "tenant": TENANT,
        "client_id": "cert-app",
        "mailbox": ALICE,
        "certificate_file": str(pem),
        "certificate_thumbprint": thumb,
        "authority_host": g.url,
        "graph_url": g.graph_url,
        "max_retries": 1,
    }
    return GraphBackend(graph_settings(BindingSpec(1, "alice", "graph", settings, {})))


def test_certificate_sign_in(graph, tmp_path, new_process) -> None:
    key_pem, cert_pem = make_certificate()
    graph.add_app(TENANT, "cert-app", certificate_pem=cert_pem)
    backend = _cert_backend(graph, tmp_path, key_pem, cert_pem, _sha1_hex(cert_pem))
    assert backend.check() is None
    made = backend.create(_event("By certificate"), idempotency_key="c1")
    assert made.crm_meeting_id == "By certificate"
    assert [e["subject"] for e in graph.mailbox(ALICE).events()] == ["By certificate"]
    forms = graph.token_requests
    assert forms and all(f.get("client_assertion") for f in forms)
    assert not any("client_secret" in f for f in forms)
    assert key_pem not in str(forms)
    backend.close()


def test_a_certificate_the_app_does_not_have_is_refused_in_words(
    graph, tmp_path, new_process
) -> None:
    key_pem, cert_pem = make_certificate()
    other_key, other_cert = make_certificate()
    graph.add_app(TENANT, "cert-app", certificate_pem=cert_pem)
    wrong = _cert_backend(graph, tmp_path, other_key, other_cert, _sha1_hex(other_cert))
    problem = wrong.check()
    assert problem is not None and "certificate was refused" in problem
    assert other_key.splitlines()[1] not in problem  # never the key
    wrong.close()


# --- delegated: rotated refresh tokens ------------------------------------------------------


def _scheduler(store, keyring) -> Scheduler:
    return Scheduler(
        store, BackendMaker(keyring), lambda row: SyncRules(), timing=Timing(), keyring=keyring
    )


def test_a_rotated_refresh_token_is_stored_and_used_after_a_restart(
    graph, db_url, monkeypatch
) -> None:
    first = device_sign_in(graph)
    graph.rotate_refresh_tokens = True
    monkeypatch.setattr(auth, "_APPS", {})
    store, binding_id, keyring = _make(
        db_url, "graph", delegated_settings(graph), {"refresh_token": first}, None
    )

    def stored() -> str:
        row = store.read(lambda c: binding_store.get(c, binding_id))
        return binding_secrets.read_secret(row, keyring)["refresh_token"]

    try:
        worker = _scheduler(store, keyring)
        worker.run_binding(binding_id)  # signs in with `first`: Entra rotates it
        rotated = stored()
        assert rotated != first
        row = store.read(lambda c: binding_store.get(c, binding_id))
        assert rotated not in (row.secret or "")  # encrypted at rest
        kept = worker.backends.get(row)
        worker.run_binding(binding_id)  # nothing new: nothing written, the backend kept
        assert stored() == rotated and worker.backends.get(row) is kept
        worker.close()

        monkeypatch.setattr(auth, "_APPS", {})  # a new process: msal's cache is empty
        before = len(graph.token_requests)
        restarted = _scheduler(store, keyring)
        report = restarted.run_binding(binding_id)
        assert report is not None
        used = [f.get("refresh_token") for f in graph.token_requests[before:]]
        assert used[:1] == [rotated]  # the new process signed in with the stored successor
        assert stored() not in (first, rotated)  # rotated again, and stored again
        restarted.close()

        # The old one is refused by the emulator: a binding still holding it cannot sign in.
        monkeypatch.setattr(auth, "_APPS", {})
        spec = BindingSpec(1, "alice", "graph", delegated_settings(graph), {"refresh_token": first})
        stale = GraphBackend(graph_settings(spec))
        problem = stale.check()
        assert problem is not None and "refused" in problem
        stale.close()
    finally:
        store.dispose()


def test_without_rotation_nothing_is_rewritten(graph, db_url, monkeypatch) -> None:
    first = device_sign_in(graph)
    monkeypatch.setattr(auth, "_APPS", {})
    store, binding_id, keyring = _make(
        db_url, "graph", delegated_settings(graph), {"refresh_token": first}, None
    )
    try:
        row = store.read(lambda c: binding_store.get(c, binding_id))
        backend = BackendMaker(keyring)(row)
        assert backend.changed_secret() is None
        backend.check()
        # The emulator answers every refresh with a new token even without strict rotation
        # (as Entra does): the backend reports it once, then nothing until the next one.
        changed = backend.changed_secret()
        assert changed is None or changed["refresh_token"] != first
        assert backend.changed_secret() is None
        backend.close()
    finally:
        store.dispose()
