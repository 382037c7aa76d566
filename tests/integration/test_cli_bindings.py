"""Bindings follow the configuration, driven over the real CLI against the Google emulator
(SQLite and MariaDB): a renamed binding is retired and pruned, a process with another
configuration refuses to sync, a new calendar starts a clean pairing matched by tag."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from bridge.config import load_config
from bridge.secret_keys import load_keyring
from bridge.store import Store, binding_secrets
from bridge.store import bindings as binding_store
from bridge.store.schema import links, meetings
from bridge.wiring import open_store
from tests.support.cli import bridge, google_binding_config
from tests.support.sync_world import crm_meeting

#: Every test here starts with `bridge db upgrade`: its MariaDB database may come migrated
#: (tests/conftest.py).
pytestmark = pytest.mark.migrated_first

CAL = "alice@example.com"
WORK = "alice-work@example.com"


def write_config(
    path: Path,
    db_url: str,
    google,
    *,
    name: str = "google",
    calendar: str = CAL,
    forward_days: int = 365,
    client_secret: str = "secret",
) -> Path:
    return google_binding_config(
        path,
        db_url,
        google,
        name=name,
        client_secret=client_secret,
        backend=f'calendar_id = "{calendar}"\nbackoff_base = 0.01',
        rules=f"[users.bindings.rules.crm_to_calendar]\nforward_days = {forward_days}",
    )


def authorize(config: Path, name: str, refresh_token: str) -> None:
    """What `bridge google authorize` stores, without the browser round trip."""
    settings = load_config(config)
    store = open_store(settings, adopt=False)
    try:
        row = store.read(lambda c: binding_store.by_login(c, "alice", name))[0]
        secret = {"refresh_token": refresh_token}
        keyring = load_keyring(settings)
        store.write(lambda tx: binding_secrets.set_secret(tx, row.id, secret, keyring))
    finally:
        store.dispose()


def stored(db_url: str, query):
    store = Store(db_url, migrate=False)
    try:
        return store.read(query)
    finally:
        store.dispose()


def bindings_by_name(db_url: str) -> dict:
    return {r.name: r for r in stored(db_url, binding_store.all_bindings)}


def link_rows(db_url: str) -> list:
    return stored(db_url, lambda c: c.execute(select(links)).all())


def meeting_count(db_url: str) -> int:
    return len(stored(db_url, lambda c: c.execute(select(meetings.c.uid)).all()))


def add_meetings(db_url: str, *uids: str) -> None:
    store = Store(db_url, migrate=False)
    try:
        for uid in uids:
            crm_meeting(store, uid, f"Meeting {uid}")
    finally:
        store.dispose()


def test_a_renamed_binding_is_retired_shown_and_pruned(tmp_path, db_url, google_emulator):
    user = google_emulator.add_user(CAL)
    config = write_config(tmp_path / "bridge.toml", db_url, google_emulator)
    assert bridge("db", "upgrade", "--config", str(config), cwd=tmp_path).returncode == 0
    authorize(config, "google", user.refresh_token)
    add_meetings(db_url, "m1")
    first = bridge("sync", "alice", "--config", str(config), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "alice/google: pulled 0, pushed 1" in first.stdout

    # The admin renames the binding; serve/db upgrade adopt the file.
    write_config(config, db_url, google_emulator, name="work")
    upgraded = bridge("db", "upgrade", "--config", str(config), cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    rows = bindings_by_name(db_url)
    assert rows["google"].retired_at is not None and rows["work"].retired_at is None
    old_links = [r for r in link_rows(db_url) if r.binding_id == rows["google"].id]
    assert len(old_links) == 1  # kept until pruned

    status = bridge("status", "--config", str(config), cwd=tmp_path)
    assert "alice/google (google)\n  not in the configuration since" in status.stdout
    assert "bridge bindings prune" in status.stdout

    # The retired binding never runs again, with any rules: asked for by name it is refused.
    refused = bridge("sync", "alice", "--binding", "google", "--config", str(config), cwd=tmp_path)
    assert refused.returncode == 1
    assert "alice/google: refused: binding alice/google is not in the configuration" in (
        refused.stderr
    )
    assert bindings_by_name(db_url)["google"].last_success_at == rows["google"].last_success_at

    # The new binding pairs afresh with the same calendar and finds the copy by its tag.
    authorize(config, "work", user.refresh_token)
    synced = bridge("sync", "alice", "--binding", "work", "--config", str(config), cwd=tmp_path)
    assert synced.returncode == 0, synced.stderr
    assert len(google_emulator.events(CAL)) == 1 and meeting_count(db_url) == 1

    dry = bridge("bindings", "prune", "--dry-run", "--config", str(config), cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "alice/google (google): would delete it and its 1 link(s)" in dry.stdout
    assert "google" in bindings_by_name(db_url)

    pruned = bridge("bindings", "prune", "--config", str(config), cwd=tmp_path)
    assert pruned.returncode == 0, pruned.stderr
    assert "alice/google (google): deleted with its 1 link(s)" in pruned.stdout
    rows = bindings_by_name(db_url)
    assert set(rows) == {"work"}
    assert {r.binding_id for r in link_rows(db_url)} == {rows["work"].id}
    assert len(google_emulator.events(CAL)) == 1  # the calendar is not touched
    again = bridge("bindings", "prune", "--config", str(config), cwd=tmp_path)
    assert "no retired bindings" in again.stdout


def test_prune_keeps_a_binding_that_is_back_in_the_file(tmp_path, db_url, google_emulator):
    google_emulator.add_user(CAL)
    config = write_config(tmp_path / "bridge.toml", db_url, google_emulator)
    bridge("db", "upgrade", "--config", str(config), cwd=tmp_path)
    renamed = write_config(tmp_path / "renamed.toml", db_url, google_emulator, name="work")
    bridge("db", "upgrade", "--config", str(renamed), cwd=tmp_path)
    # Pruning with a file that still has the binding deletes nothing.
    kept = bridge("bindings", "prune", "--config", str(config), cwd=tmp_path)
    assert kept.returncode == 0, kept.stderr
    assert "alice/google (google): kept: it is in" in kept.stdout
    assert "google" in bindings_by_name(db_url)
    # Adopting that file again brings it back to life.
    bridge("db", "upgrade", "--config", str(config), cwd=tmp_path)
    rows = bindings_by_name(db_url)
    assert rows["google"].retired_at is None and rows["work"].retired_at is not None


def test_a_process_with_another_configuration_refuses_to_sync(tmp_path, db_url, google_emulator):
    user = google_emulator.add_user(CAL)
    adopted = write_config(tmp_path / "bridge.toml", db_url, google_emulator, forward_days=180)
    other = write_config(
        tmp_path / "old.toml", db_url, google_emulator, forward_days=90, client_secret="s2"
    )
    assert bridge("db", "upgrade", "--config", str(adopted), cwd=tmp_path).returncode == 0
    authorize(adopted, "google", user.refresh_token)
    add_meetings(db_url, "m1")

    refused = bridge("sync", "alice", "--config", str(other), cwd=tmp_path)
    assert refused.returncode == 1
    message = refused.stderr
    assert "binding alice/google: this process's configuration" in message
    assert "rules.crm_to_calendar.forward_days: stored 180, this configuration 90" in message
    assert "backend.client_secret: differs (secret, not shown)" in message
    assert "s2" not in message and "'secret'" not in message
    assert "bridge db upgrade --config" in message
    assert google_emulator.events(CAL) == [] and link_rows(db_url) == []
    row = bindings_by_name(db_url)["google"]
    assert row.last_success_at is None and row.failures == 0 and row.last_error is None

    # status run with the other file says why it would refuse.
    status = bridge("status", "--config", str(other), cwd=tmp_path)
    assert "refused here: binding alice/google" in status.stdout

    # A worker started with the other file runs no round and says why, once: once said,
    # it is left 20 more passes (1 s at 0.05 s a pass) to say it again.
    said = "rules.crm_to_calendar.forward_days: stored 180"
    err_file = tmp_path / "worker.err"
    with err_file.open("wb") as err_out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "bridge.cli", "worker", "--tick", "0.05"]
            + ["--config", str(other)],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=err_out,
        )
    deadline = time.monotonic() + 60
    while said not in err_file.read_text() and worker.poll() is None:
        assert time.monotonic() < deadline, err_file.read_text()
        time.sleep(0.05)
    time.sleep(1.0)
    worker.send_signal(signal.SIGTERM)
    worker.wait(30)
    err = err_file.read_text()
    assert err.count(said) == 1, err
    assert google_emulator.events(CAL) == []
    assert bindings_by_name(db_url)["google"].last_success_at is None

    # The adopted file syncs; adopting the other one turns the tables.
    ok = bridge("sync", "alice", "--config", str(adopted), cwd=tmp_path)
    assert ok.returncode == 0 and "pushed 1" in ok.stdout, ok.stderr
    assert bridge("db", "upgrade", "--config", str(other), cwd=tmp_path).returncode == 0
    now_refused = bridge("sync", "alice", "--config", str(adopted), cwd=tmp_path)
    assert now_refused.returncode == 1
    assert "forward_days: stored 90, this configuration 180" in now_refused.stderr


def test_a_new_calendar_starts_a_clean_pairing_matched_by_tag(tmp_path, db_url, google_emulator):
    """calendar_id names the remote calendar: changing it drops the old pairing (links,
    cursor); going back to a calendar that holds tagged copies makes no duplicates."""
    user = google_emulator.add_user(CAL)
    google_emulator.add_calendar(WORK)
    config = write_config(tmp_path / "bridge.toml", db_url, google_emulator)
    bridge("db", "upgrade", "--config", str(config), cwd=tmp_path)
    authorize(config, "google", user.refresh_token)
    add_meetings(db_url, "m1", "m2")

    def sync() -> str:
        result = bridge("sync", "alice", "--config", str(config), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def remote_ids(calendar: str) -> set[str]:
        return {e["id"] for e in google_emulator.events(calendar)}

    assert "pushed 2" in sync()
    first_ids = remote_ids(CAL)
    assert len(first_ids) == 2
    assert {r.remote_id for r in link_rows(db_url)} == first_ids

    write_config(config, db_url, google_emulator, calendar=WORK)
    assert bridge("db", "upgrade", "--config", str(config), cwd=tmp_path).returncode == 0
    row = bindings_by_name(db_url)["google"]
    assert link_rows(db_url) == [] and row.remote_cursor is None and row.outbound_seq == 0
    assert "pushed 2" in sync()
    assert len(remote_ids(WORK)) == 2 and remote_ids(CAL) == first_ids
    assert {r.remote_id for r in link_rows(db_url)} == remote_ids(WORK)

    # Back to the first calendar: its copies carry the CRM id tag and are matched again.
    write_config(config, db_url, google_emulator, calendar=CAL)
    bridge("db", "upgrade", "--config", str(config), cwd=tmp_path)
    sync()
    assert remote_ids(CAL) == first_ids  # no duplicates
    assert {r.remote_id for r in link_rows(db_url)} == first_ids  # no stale links
    assert len(link_rows(db_url)) == 2 and meeting_count(db_url) == 2
    assert "pulled 0, pushed 0" in sync()  # settled
