"""Credentials at rest, on SQLite and MariaDB: stored encrypted, plain text from before
sealed at start, keys rotated with `bridge secrets rotate`, an unreadable secret reported
by name with what to do (never a traceback), and migration 0006 on channel tokens."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import insert, select, update

from bridge.config import load_config
from bridge.secret_box import Keyring, generate_key, is_encrypted, token_digest
from bridge.secret_keys import load_keyring
from bridge.store import Store, binding_secrets
from bridge.store import bindings as binding_store
from bridge.store import channels as channel_store
from bridge.store import users as user_store
from bridge.store.schema import bindings
from bridge.wiring import open_store
from tests.support.cli import bridge, google_binding_config

CLIENT_SECRET = "client-s3cret-value"


def write_config(tmp_path: Path, db_url: str, google, *, secrets: str = "") -> Path:
    return google_binding_config(
        tmp_path / "bridge.toml", db_url, google, client_secret=CLIENT_SECRET, top=secrets
    )


def raw_binding(store: Store):
    return store.read(lambda c: c.execute(select(bindings)).one())


def authorize(config: Path, refresh_token: str) -> Store:
    """What `bridge google authorize` stores (its consent dance is in test_cli_sync)."""
    settings = load_config(config)
    store = open_store(settings)
    keyring = load_keyring(settings)
    row = store.read(lambda c: binding_store.by_login(c, "alice"))[0]
    secret = {"refresh_token": refresh_token}
    store.write(lambda tx: binding_secrets.set_secret(tx, row.id, secret, keyring))
    return store


def test_credentials_are_stored_encrypted(tmp_path, db_url, google_emulator):
    user = google_emulator.add_user("alice@example.com")
    config = write_config(tmp_path, db_url, google_emulator)
    store = authorize(config, user.refresh_token)
    raw = raw_binding(store)
    assert is_encrypted(raw.secret) and user.refresh_token not in raw.secret
    assert CLIENT_SECRET not in raw.settings
    settings = json.loads(raw.settings)
    assert settings["client_id"] == "client-id" and is_encrypted(settings["client_secret"])

    keyring = load_keyring(load_config(config))
    row = store.read(lambda c: binding_store.by_login(c, "alice"))[0]
    assert binding_secrets.read_secret(row, keyring) == {"refresh_token": user.refresh_token}
    assert binding_secrets.open_settings(row, keyring)["client_secret"] == CLIENT_SECRET
    checked = bridge("check", "--config", str(config), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "alice/google (google): ok" in checked.stdout


def test_plain_text_from_before_is_encrypted_at_start(tmp_path, db_url, google_emulator):
    user = google_emulator.add_user("alice@example.com")
    config = write_config(tmp_path, db_url, google_emulator)
    store = open_store(load_config(config))
    plain_settings = json.loads(raw_binding(store).settings)
    plain_settings["client_secret"] = CLIENT_SECRET
    store.write(  # as an older bridge left it
        lambda tx: tx.conn.execute(
            update(bindings).values(
                secret=json.dumps({"refresh_token": user.refresh_token}),
                settings=json.dumps(plain_settings),
            )
        )
    )
    row = store.read(lambda c: binding_store.by_login(c, "alice"))[0]
    keyring = load_keyring(load_config(config))
    assert binding_secrets.read_secret(row, keyring)["refresh_token"] == user.refresh_token

    synced = bridge("sync", "alice", "--config", str(config), cwd=tmp_path)  # any start
    assert synced.returncode == 0, synced.stderr
    assert "encrypted the plain-text credentials of 1 binding(s)" in synced.stderr
    raw = raw_binding(store)
    assert is_encrypted(raw.secret) and user.refresh_token not in raw.secret
    assert CLIENT_SECRET not in raw.settings


def test_rotation_and_an_unreadable_secret(tmp_path, db_url, google_emulator):
    user = google_emulator.add_user("alice@example.com")
    old, new = generate_key(), generate_key()
    keys = tmp_path / "keys"
    keys.write_text(old + "\n")
    config = write_config(tmp_path, db_url, google_emulator, secrets='[secrets]\nkey_file = "keys"')
    store = authorize(config, user.refresh_token)
    before = raw_binding(store).secret

    # The old key removed without rotating first: named, explained, no traceback.
    keys.write_text(new + "\n")
    for command in (["check"], ["sync", "alice"], ["secrets", "rotate"]):
        result = bridge(*command, "--config", str(config), cwd=tmp_path)
        output = result.stdout + result.stderr
        assert result.returncode == 1, output
        assert "binding alice/google: its stored credentials cannot be decrypted" in output
        assert "bridge google authorize alice --binding google" in output
        assert "Traceback" not in output
    assert raw_binding(store).secret == before  # nothing was changed

    # Rotation: the new key first, the old one after it; rotate; then drop the old key.
    keys.write_text(f"{new}\n{old}\n")
    rotated = bridge("secrets", "rotate", "--config", str(config), cwd=tmp_path)
    assert rotated.returncode == 0, rotated.stderr
    assert "re-encrypted the credentials of 1 binding(s)" in rotated.stdout
    keys.write_text(new + "\n")
    row = store.read(lambda c: binding_store.by_login(c, "alice"))[0]
    new_only = Keyring([new])
    assert binding_secrets.read_secret(row, new_only) == {"refresh_token": user.refresh_token}
    assert binding_secrets.open_settings(row, new_only)["client_secret"] == CLIENT_SECRET
    checked = bridge("check", "--config", str(config), cwd=tmp_path)
    assert "alice/google (google): ok" in checked.stdout, checked.stdout + checked.stderr


def test_generate_key_prints_a_usable_key(tmp_path):
    result = bridge("secrets", "generate-key", cwd=tmp_path)
    assert result.returncode == 0
    key = result.stdout.strip()
    keyring = Keyring([key])
    assert keyring.decrypt(keyring.encrypt("x")) == "x"
    assert bridge("secrets", "generate-key", cwd=tmp_path).stdout.strip() != key


def test_migration_0006_keeps_only_a_digest_of_channel_tokens(db_url):
    from alembic import command
    from sqlalchemy import Column, Double, Integer, MetaData, String, Table

    from bridge.store.migrate import alembic_config, upgrade

    store = Store(db_url)

    def setup(tx) -> int:
        user_store.sync(tx, [user_store.UserRecord("alice", "alice@example.com", "A")])
        record = binding_store.BindingRecord("alice", "google", "google", {})
        binding_store.sync(tx, [record], Keyring.generate())
        return binding_store.by_login(tx.conn, "alice")[0].id

    binding_id = store.write(setup)

    def migrate(revision: str) -> None:
        cfg = alembic_config(store.engine)
        with store.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, revision)

    migrate("0004")
    old_channels = Table(  # the table as revision 0004 made it
        "channels",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("binding_id", Integer),
        Column("channel_id", String(64)),
        Column("resource_id", String(255)),
        Column("token", String(128)),
        Column("expiration", Double),
        Column("created_at", Double),
    )
    with store.engine.begin() as conn:
        conn.execute(
            insert(old_channels).values(
                binding_id=binding_id,
                channel_id="c-1",
                resource_id="r-1",
                token="plain-token",
                expiration=4e9,
                created_at=1.0,
            )
        )
    upgrade(store.engine)
    row = store.read(lambda c: channel_store.by_channel_id(c, "c-1"))
    assert row.token_hash == token_digest("plain-token") and row.last_message == 0
    assert "token" not in row._mapping
    migrate("0004")  # a digest cannot give the token back: the channel is forgotten
    with store.engine.connect() as conn:
        assert conn.execute(select(old_channels)).all() == []
    upgrade(store.engine)
    store.dispose()
