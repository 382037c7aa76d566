"""`bridge db migrate-to-mysql` on the real MariaDB: a store of thousands of meetings, some
synced with Google, moves whole, byte for byte; a phone's sync token and the Google
bindings' links and cursors keep working after the move; a target with data is refused; a
tampered copy is caught."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import caldav
import pytest
from sqlalchemy import create_engine, text

from tests.support import big_store
from tests.support.cli import bridge
from tests.support.databases import mysql_database
from tests.support.http import request
from tests.support.server import free_port, start, write_htpasswd

pytestmark = pytest.mark.mysql

CAROL = big_store.CRM_ONLY
WRITE_CALLS = ("events.insert", "events.import", "events.patch", "events.update", "events.delete")
MEETINGS = int(os.environ.get("BRIDGE_MOVE_MEETINGS", "2000"))
#: Of those, how many alice's and bob's Google bindings pair (the rest are carol's, who has
#: no binding): links and cursors need some, not thousands of Google round trips.
SYNCED = int(os.environ.get("BRIDGE_MOVE_SYNCED", "40"))


@pytest.fixture
def target_url():
    """An empty database of this test's own on the MariaDB server, dropped after."""
    with mysql_database() as url:
        yield url


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _phone(url: str, login: str):
    """The user's meetings calendar as a CalDAV client (the caldav library) sees it."""
    return caldav.DAVClient(url=url + "/", username=login, password=login).calendar(
        url=f"{url}/{login}/meetings/"
    )


def _names(objects) -> list[str]:
    return sorted(str(obj.url).rsplit("/", 1)[-1] for obj in objects)


def _serve(tmp_path: Path, name: str, db_url: str, google, extra: str = ""):
    port = free_port()
    config = tmp_path / name
    config.write_text(
        big_store.config_text(db_url, google, extra).replace("port = 0", f"port = {port}")
    )
    return config, start(config, port, cwd=tmp_path)


def _rows(url: str, query: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(query))]
    finally:
        engine.dispose()


def _edit(url: str, login: str, name: str, old: str, new: str) -> None:
    """The user's client changes ``old`` to ``new`` in one meeting of their calendar."""
    href = f"/{login}/meetings/{name}"
    got = request(url, "GET", href, user=login)
    assert got.status == 200 and old in got.body, got.body
    put = request(
        url,
        "PUT",
        href,
        got.body.replace(old, new),
        user=login,
        headers={"If-Match": got.headers["etag"]},
    )
    assert put.status in (201, 204), put.body


def test_a_synced_store_moves_whole(tmp_path, google_emulator, target_url):
    write_htpasswd(tmp_path / "users.htpasswd")
    source_url = f"sqlite:///{tmp_path / 'var' / 'bridge.sqlite3'}"
    config = tmp_path / "sqlite.toml"
    config.write_text(big_store.config_text(source_url, google_emulator))
    big_store.fill(config, google_emulator, MEETINGS, synced=SYNCED)

    # A phone syncs carol's meetings calendar (thousands) against the SQLite deployment.
    config, server = _serve(tmp_path, "sqlite.toml", source_url, google_emulator)
    try:
        first = _phone(server.url, CAROL).objects_by_sync_token(load_objects=False)
        assert len(_names(first)) == MEETINGS - SYNCED
        phone_token = first.sync_token
    finally:
        server.stop()
    source = tmp_path / "var" / "bridge.sqlite3"
    before = _digest(source)
    siblings = sorted(p.name for p in source.parent.iterdir())
    google_events = {
        login: len(google_emulator.events(f"{login}@example.com")) for login in big_store.USERS
    }
    assert google_events["alice"] == SYNCED // 2 + 5

    moved = bridge(
        "db",
        "migrate-to-mysql",
        "--config",
        str(config),
        "--to",
        target_url,
        cwd=tmp_path,
        timeout=900,
    )
    assert moved.returncode == 0, moved.stdout + moved.stderr
    # The source is untouched: same bytes, no new files beside it.
    assert _digest(source) == before
    assert sorted(p.name for p in source.parent.iterdir()) == siblings
    # Progress lines (not a terminal), the per-table report, the key file to keep.
    total = MEETINGS + 10
    assert f"meetings: {total}/{total} rows (100%)" in moved.stderr
    assert re.search(rf"  meetings: {MEETINGS + 10} rows, sha256 [0-9a-f]{{16}} ok", moved.stdout)
    assert "DIFFERS" not in moved.stdout
    assert f"{MEETINGS + 10} meetings' iCalendar texts identical" in moved.stdout
    key_file = tmp_path / "var" / "secret.key"
    assert f'[secrets] key_file = "{key_file}"' in moved.stdout

    # Row by row: every meeting's iCalendar text, every link, cursor and counter.
    read_only = f"sqlite:///file:{source}?mode=ro&uri=true"
    for query in (
        "SELECT uid, ical, busy_ical, etag FROM meetings ORDER BY id",
        "SELECT id, binding_id, meeting_uid, remote_id, remote_etag, synced_hash FROM links"
        " ORDER BY id",
        "SELECT id, remote_cursor, outbound_seq, secret FROM bindings ORDER BY id",
        "SELECT name, value FROM counters ORDER BY name",
        "SELECT id, seq, collection_id, href, op FROM changes ORDER BY id",
        "SELECT display_name FROM users ORDER BY id",
    ):
        assert _rows(target_url, query) == _rows(read_only, query), query
    emoji = _rows(target_url, "SELECT subject FROM meetings WHERE subject LIKE '%🚀%' LIMIT 1")
    assert emoji and "🎉🚀" in emoji[0][0]
    links = _rows(target_url, "SELECT COUNT(*) FROM links")[0][0]
    assert links == SYNCED + 10
    cursors = _rows(target_url, "SELECT COUNT(*) FROM bindings WHERE remote_cursor IS NOT NULL")
    assert cursors[0][0] == len(big_store.USERS)
    changes = _rows(target_url, "SELECT COUNT(*) FROM changes")[0][0]
    assert changes >= MEETINGS + 10

    # A second move into the filled target is refused and changes nothing.
    again = bridge(
        "db", "migrate-to-mysql", "--config", str(config), "--to", target_url, cwd=tmp_path
    )
    assert again.returncode == 1
    assert "already holds data" in again.stderr and "meetings: " in again.stderr
    assert "the SQLite store was not changed" in again.stderr
    assert _digest(source) == before

    # The bridge on MariaDB: the phone's old token answers with just what changed since.
    extra = f'[secrets]\nkey_file = "{key_file}"'
    google_emulator.reset_counters()
    maria_config, server = _serve(tmp_path, "maria.toml", target_url, google_emulator, extra)
    try:
        phone = _phone(server.url, CAROL)
        assert _names(phone.objects_by_sync_token(sync_token=phone_token)) == []
        _edit(server.url, "alice", "big-0.ics", "Réunion Zoë #0", "Réunion Zoë #0 moved 🧳")
        carols = f"big-{SYNCED}.ics"  # her first meeting
        _edit(server.url, CAROL, carols, f"#{SYNCED}", f"#{SYNCED} moved 🧳")
        delta = phone.objects_by_sync_token(sync_token=phone_token, load_objects=False)
        assert _names(delta) == [carols]
        # New rows get ids past the copied ones (auto-increment kept).
        new_seq = _rows(target_url, "SELECT MAX(id) FROM changes")[0][0]
        old_max = _rows(read_only, "SELECT MAX(id) FROM changes")[0][0]
        assert new_seq > old_max
    finally:
        server.stop()

    # The Google bindings did not re-pair: the one edit reaches Google as an update of its
    # copy, nothing is created or deleted. The server's scheduler may push it before it
    # stops (it syncs beside CalDAV); else this round does.
    synced = bridge("sync", "alice", "--config", str(maria_config), cwd=tmp_path)
    assert synced.returncode == 0, synced.stderr
    assert re.search(r"^alice/google: pulled 0, pushed [01]$", synced.stdout, re.M), synced
    writes = {k: n for k, n in google_emulator.calls.items() if k in WRITE_CALLS}
    assert writes == {"events.patch": 1}, google_emulator.calls
    assert len(google_emulator.events("alice@example.com")) == google_events["alice"]
    subjects = [e.get("summary", "") for e in google_emulator.events("alice@example.com")]
    assert "Réunion Zoë #0 moved 🧳" in subjects


def test_a_changed_copy_is_named(tmp_path, google_emulator, target_url):
    """The check compares byte for byte: one changed character of one meeting's iCalendar
    text is found and named (table, row, column)."""
    from bridge.store import to_mysql, to_mysql_check
    from bridge.store.engine import make_engine

    source_url = f"sqlite:///{tmp_path / 'var' / 'bridge.sqlite3'}"
    config = tmp_path / "bridge.toml"
    write_htpasswd(tmp_path / "users.htpasswd")
    config.write_text(big_store.config_text(source_url, google_emulator))
    big_store.fill(config, google_emulator, 40)
    snapshot = to_mysql.snapshot(tmp_path / "var" / "bridge.sqlite3", tmp_path / "snap.sqlite3")
    target = make_engine(target_url)
    source = make_engine(snapshot)
    try:
        to_mysql.prepare_target(target)
        to_mysql.copy_rows(snapshot, target_url, lambda *_: None)
        assert all(check.ok for check in to_mysql_check.check_all(source, target))
        with target.begin() as conn:
            conn.execute(
                text("UPDATE meetings SET ical = REPLACE(ical, 'Zoë', 'Zoe') WHERE uid = :u"),
                {"u": "big-0-ü"},
            )
        checks = {c.table: c for c in to_mysql_check.check_all(source, target)}
        assert not checks["meetings"].ok
        assert "differs in ical" in checks["meetings"].problem
        assert checks["meetings"].source_sum != checks["meetings"].target_sum
        assert all(c.ok for name, c in checks.items() if name != "meetings")
    finally:
        source.dispose()
        target.dispose()


def test_what_failed_is_said(tmp_path, target_url):
    """A source that is not SQLite, an unreachable target, a URL that is not MySQL: each
    named, with the password never shown."""
    mysql_config = tmp_path / "maria.toml"
    mysql_config.write_text(f'[server]\nauth = "none"\n[store]\nurl = "{target_url}"\n')
    not_sqlite = bridge(
        "db", "migrate-to-mysql", "--config", str(mysql_config), "--to", target_url, cwd=tmp_path
    )
    assert not_sqlite.returncode == 2
    assert "is not a SQLite file: nothing to move" in not_sqlite.stderr

    config = tmp_path / "bridge.toml"
    config.write_text(f'[server]\nauth = "none"\n[store]\nurl = "sqlite:///{tmp_path}/b.db"\n')
    assert bridge("db", "upgrade", "--config", str(config), cwd=tmp_path).returncode == 0
    down = bridge(
        "db",
        "migrate-to-mysql",
        "--config",
        str(config),
        "--to",
        "mysql+pymysql://someone:hunter2-secret@127.0.0.1:9/bridge",
        cwd=tmp_path,
    )
    assert down.returncode == 1
    assert "failed while preparing the target database" in down.stderr
    assert "the SQLite store was not changed" in down.stderr
    assert "hunter2" not in down.stdout + down.stderr
    assert "mysql+pymysql://someone:***@127.0.0.1:9/bridge" in down.stdout

    wrong = bridge(
        "db", "migrate-to-mysql", "--config", str(config), "--to", "postgresql://x/y", cwd=tmp_path
    )
    assert wrong.returncode == 1 and "give a mysql+pymysql://" in wrong.stderr


def test_a_progress_bar_on_a_terminal(tmp_path, google_emulator, target_url):
    write_htpasswd(tmp_path / "users.htpasswd")
    config = tmp_path / "bridge.toml"
    config.write_text(
        big_store.config_text(f"sqlite:///{tmp_path / 'var' / 'b.sqlite3'}", google_emulator)
    )
    big_store.fill(config, google_emulator, 40)
    leader, follower = os.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge.cli", "db", "migrate-to-mysql"]
        + ["--config", str(config), "--to", target_url],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"},
    )
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    shown = output.decode(errors="replace")
    assert process.wait(120) == 0, shown
    plain = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", shown)  # colours and cursor moves
    assert "━" in plain and re.search(r"meetings\s+━+\s+50/50 rows", plain), plain
    assert "(100%)" not in shown  # a bar, not the plain lines
    assert "moved and checked" in shown
