"""`bridge sync LOGIN` on a first pairing shows its progress: a rich bar on a terminal, plain
lines otherwise (the plain lines at scale: tests/support/big_store.py, 1000 meetings)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from tests.support.cli import bridge, google_binding_config

MEETINGS = 250


def _store_with_meetings(tmp_path, google_emulator):
    from bridge.config import load_config
    from bridge.meeting_service import save_from_sync
    from bridge.model import Meeting
    from bridge.secret_keys import load_keyring
    from bridge.store import binding_secrets
    from bridge.store import bindings as binding_store
    from bridge.wiring import open_store

    user = google_emulator.add_user("alice@example.com")
    # Unpaced: Google's default pace (5 requests a second) would spend ~45 s on 250
    # creates; what these tests prove is the reporting, not the pacing
    # (test_google_backend proves that).
    config = google_binding_config(
        tmp_path / "bridge.toml",
        f"sqlite:///{tmp_path / 'bridge.sqlite3'}",
        google_emulator,
        backend="requests_per_second = 1000",
    )
    settings = load_config(config)
    store = open_store(settings)
    row = store.read(lambda c: binding_store.by_login(c, "alice"))[0]
    secret = {"refresh_token": user.refresh_token}
    store.write(lambda tx: binding_secrets.set_secret(tx, row.id, secret, load_keyring(settings)))
    first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)

    def write(tx) -> None:
        for n in range(MEETINGS):
            begin = first + timedelta(hours=n)
            meeting = Meeting(
                uid=f"p-{n}",
                start=begin,
                end=begin + timedelta(minutes=30),
                organiser="alice",
                subject=f"Progress {n}",
                activity_type="meeting",
            )
            save_from_sync(tx, meeting, href=f"p-{n}.ics", horizon_days=400, max_occurrences=50)

    store.write(write, origin="crm")
    store.dispose()
    return config


def test_plain_lines_when_not_a_terminal(tmp_path, google_emulator):
    config = _store_with_meetings(tmp_path, google_emulator)
    synced = bridge("sync", "alice", "--config", str(config), cwd=tmp_path)
    assert synced.returncode == 0, synced.stderr
    lines = synced.stderr.splitlines()
    created = [line for line in lines if line.startswith("alice/google: copies created:")]
    # Sliced creates report as they go, not only at the end.
    assert created[0] == f"alice/google: copies created: 0/{MEETINGS} (0%)"
    assert f"alice/google: copies created: 200/{MEETINGS} (80%)" in created
    assert created[-1] == f"alice/google: copies created: {MEETINGS}/{MEETINGS} (100%)"
    assert f"alice/google: changes planned: {MEETINGS}/{MEETINGS} (100%)" in lines
    assert "\x1b[" not in synced.stderr  # no terminal codes in a log
    assert f"alice/google: pulled 0, pushed {MEETINGS}" in synced.stdout


def test_a_progress_bar_on_a_terminal(tmp_path, google_emulator):
    config = _store_with_meetings(tmp_path, google_emulator)
    leader, follower = os.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge.cli", "sync", "alice", "--config", str(config)],
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
    assert process.wait(120) == 0, output.decode(errors="replace")
    shown = output.decode(errors="replace")
    assert "━" in shown  # rich's bar
    assert re.search(rf"alice/google: copies created\s.*{MEETINGS}/{MEETINGS}", shown), shown
    assert "(100%)" not in shown  # not the plain lines
    assert f"alice/google: pulled 0, pushed {MEETINGS}" in shown
