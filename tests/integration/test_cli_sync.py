"""`bridge google authorize`, `check`, `sync` and `status` with a Google binding (check,
sync and status for every backend kind: tests/contract/test_cli_check.py)."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.cli import bridge, google_binding_config
from tests.support.databases import database


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def write_config(tmp_path: Path, db_url: str, google) -> Path:
    return google_binding_config(
        tmp_path / "bridge.toml",
        db_url,
        google,
        backend=f'auth_uri = "{google.url}/o/oauth2/auth"\n'
        'redirect_uri = "http://127.0.0.1:9/callback"',
        rules='[users.bindings.rules]\nconflict_policy = "newest"',
    )


@pytest.fixture
def db(tmp_path):
    with database("sqlite", tmp_path) as url:
        yield url


def test_authorize_then_check(tmp_path, db, google_emulator):
    google_emulator.add_user("alice@example.com")
    config = write_config(tmp_path, db, google_emulator)

    # Before authorizing, check says what is missing.
    before = bridge("check", "--config", str(config), cwd=tmp_path)
    assert before.returncode == 1
    assert "alice/google (google): no refresh token stored" in before.stdout

    # authorize prints the consent URL; the "browser" follows it and pastes the redirect.
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bridge.cli",
            "google",
            "authorize",
            "alice",
            "--email",
            "alice@example.com",
            "--config",
            str(config),
        ],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process.stdout.readline()
    consent_url = process.stdout.readline().strip()
    assert consent_url.startswith(google_emulator.url + "/o/oauth2/auth?")
    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(consent_url)
        raise AssertionError("the consent page should redirect")
    except urllib.error.HTTPError as redirect:
        landed = redirect.headers["Location"]
    out, err = process.communicate(landed + "\n", timeout=60)
    assert process.returncode == 0, err
    assert "stored the refresh token for alice/google" in out

    ok = bridge("check", "--config", str(config), cwd=tmp_path)
    assert ok.returncode == 0 and "alice/google (google): ok" in ok.stdout


def test_revoked_token_is_reported_by_check(tmp_path, db, google_emulator):
    from bridge.config import load_config
    from bridge.secret_keys import load_keyring
    from bridge.store import binding_secrets
    from bridge.store import bindings as binding_store
    from bridge.wiring import open_store

    user = google_emulator.add_user("alice@example.com")
    config = write_config(tmp_path, db, google_emulator)
    settings = load_config(config)
    store = open_store(settings)
    row = store.read(lambda c: binding_store.by_login(c, "alice"))[0]
    secret = {"refresh_token": user.refresh_token}
    store.write(lambda tx: binding_secrets.set_secret(tx, row.id, secret, load_keyring(settings)))
    google_emulator.oauth.revoke(user.refresh_token)
    result = bridge("check", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 1
    assert "refresh token revoked" in result.stdout


def test_status_shows_quarantined_events(tmp_path, db, google_emulator):
    """One meeting Google refuses (400) is quarantined: `sync` succeeds and names it,
    `status` shows the count and the latest reason."""
    from datetime import UTC, datetime, timedelta

    from bridge.config import load_config
    from bridge.meeting_service import save_from_sync
    from bridge.model import Meeting
    from bridge.secret_keys import load_keyring
    from bridge.store import binding_secrets
    from bridge.store import bindings as binding_store
    from bridge.wiring import open_store

    user = google_emulator.add_user("alice@example.com")
    config = write_config(tmp_path, db, google_emulator)
    settings = load_config(config)
    store = open_store(settings)
    row = store.read(lambda c: binding_store.by_login(c, "alice"))[0]
    secret = {"refresh_token": user.refresh_token}
    store.write(lambda tx: binding_secrets.set_secret(tx, row.id, secret, load_keyring(settings)))
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    for uid, subject in (("poison", "Poison"), ("fine", "Fine")):
        meeting = Meeting(
            uid=uid,
            start=start,
            end=start + timedelta(hours=1),
            organiser="alice",
            subject=subject,
            activity_type="meeting",
        )
        store.write(
            lambda tx, m=meeting: save_from_sync(
                tx, m, href=f"{m.uid}.ics", horizon_days=400, max_occurrences=500
            ),
            origin="crm",
        )
    store.dispose()
    google_emulator.faults.error(
        400, "invalid", times=10, api="events.insert", when=lambda call: b"Poison" in call.body
    )

    synced = bridge("sync", "alice", "--config", str(config), cwd=tmp_path)
    assert synced.returncode == 0, synced.stderr
    assert "alice/google: pulled 0, pushed 1" in synced.stdout
    assert "poison: quarantined, failure 1" in synced.stderr
    assert [e["summary"] for e in google_emulator.events("alice@example.com")] == ["Fine"]

    status = bridge("status", "--config", str(config), cwd=tmp_path)
    assert "quarantined:  1 event(s)" in status.stdout
    assert "HTTP 400 invalid" in status.stdout
    assert "last error" not in status.stdout  # the binding itself is fine
