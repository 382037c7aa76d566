"""A binding's credentials at rest: encrypted with the configured keyring (bridge.secret_box).

Two places hold them: ``bindings.secret`` (JSON of what `bridge google authorize` stored,
e.g. the refresh token) is encrypted whole; in ``bindings.settings`` (JSON copied from the
config file) the values of SECRET_SETTINGS are encrypted one by one, so the rest stays
readable for an admin. Values written before encryption existed are plain text until
:func:`seal_plaintext` (run at every start) encrypts them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, Row, select, update

from bridge.secret_box import Keyring, UndecryptableSecret, is_encrypted
from bridge.store.changes import Tx
from bridge.store.schema import bindings, users

#: Backend settings whose values are credentials (encrypted in the store).
SECRET_SETTINGS = frozenset({"client_secret", "password"})


class UnreadableSecret(Exception):
    """A binding's stored credentials cannot be decrypted; the message says what to do."""


def _label(row: Row) -> str:
    return f"{row.login}/{row.name}"


def _advice(row: Row, reason: object) -> str:
    return (
        f"binding {_label(row)}: its stored credentials cannot be decrypted: "
        f"{reason}. Put the key that encrypted them back into the keys of [secrets] (after the "
        f"first one), or store new ones (`bridge google authorize {row.login} --binding "
        f"{row.name}`)"
    )


def seal_settings(settings: Mapping[str, Any], keyring: Keyring) -> dict[str, Any]:
    """``settings`` with every credential value encrypted (already encrypted ones kept)."""
    sealed = dict(settings)
    for key in SECRET_SETTINGS & sealed.keys():
        value = sealed[key]
        if not is_encrypted(value):
            sealed[key] = keyring.encrypt(str(value))
    return sealed


def seal_settings_as(
    settings: Mapping[str, Any], stored: Mapping[str, Any], keyring: Keyring
) -> dict[str, Any]:
    """As :func:`seal_settings`, keeping a ``stored`` value where the keyring's first key
    opens it to the same credential: settings adopted again unchanged store the same text."""
    sealed = dict(settings)
    for key in SECRET_SETTINGS & sealed.keys():
        value = sealed[key]
        if is_encrypted(value):
            continue
        kept = stored.get(key)
        if kept is not None and keyring.current_plaintext(kept) == str(value):
            sealed[key] = kept
        else:
            sealed[key] = keyring.encrypt(str(value))
    return sealed


def open_settings(row: Row, keyring: Keyring) -> dict[str, Any]:
    """The binding's settings with credential values decrypted."""
    settings = json.loads(row.settings or "{}")
    for key in SECRET_SETTINGS & settings.keys():
        value = settings[key]
        if is_encrypted(value):
            try:
                settings[key] = keyring.decrypt(value)
            except UndecryptableSecret as error:
                raise UnreadableSecret(_advice(row, f"backend.{key}: {error}")) from None
    return settings


def read_secret(row: Row, keyring: Keyring) -> dict[str, Any]:
    """The binding's stored credentials ({} when none)."""
    stored = row.secret
    if not stored:
        return {}
    if not is_encrypted(stored):  # written before encryption; sealed at the next start
        return json.loads(stored)
    try:
        return json.loads(keyring.decrypt(stored))
    except UndecryptableSecret as error:
        raise UnreadableSecret(_advice(row, error)) from None


def set_secret(tx: Tx, binding_id: int, secret: Mapping[str, Any] | None, keyring: Keyring) -> None:
    """Store (encrypted) or forget the binding's credentials."""
    value = None if secret is None else keyring.encrypt(json.dumps(dict(secret)))
    tx.conn.execute(update(bindings).where(bindings.c.id == binding_id).values(secret=value))


def _secret_row(binding_id: int) -> Any:
    query = select(bindings.c.id, bindings.c.name, bindings.c.secret, users.c.login)
    return query.join(users, users.c.id == bindings.c.user_id).where(bindings.c.id == binding_id)


def stored_secret(conn: Connection, binding_id: int, keyring: Keyring) -> dict[str, Any] | None:
    """The binding's credentials as stored now ({} when none; None when the binding is gone)."""
    query = _secret_row(binding_id)
    row = conn.execute(query).first()
    return None if row is None else read_secret(row, keyring)


def swap_secret(
    tx: Tx,
    binding_id: int,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    keyring: Keyring,
) -> bool:
    """Store ``new`` (encrypted) only while the stored credentials are still ``old``
    (compare-and-set: a process holding a stale one never overwrites a newer one). The row
    is locked for the comparison (SELECT ... FOR UPDATE; SQLite's write lock covers it)."""
    query = _secret_row(binding_id)
    row = tx.conn.execute(query.with_for_update(of=bindings)).first()
    if row is None or read_secret(row, keyring) != dict(old):
        return False
    set_secret(tx, binding_id, new, keyring)
    return True


def _rows(tx: Tx) -> list[Row]:
    query = select(bindings.c.id, bindings.c.name, bindings.c.settings, bindings.c.secret)
    query = query.add_columns(users.c.login).join(users, users.c.id == bindings.c.user_id)
    return list(tx.conn.execute(query.order_by(bindings.c.id)))


def _settings_values(row: Row, change: Callable[[Any], Any]) -> str | None:
    """The settings JSON with ``change`` applied to each credential value, or None if same."""
    settings = json.loads(row.settings or "{}")
    changed = False
    for key in SECRET_SETTINGS & settings.keys():
        new = change(settings[key])
        changed = changed or new != settings[key]
        settings[key] = new
    return json.dumps(settings, sort_keys=True) if changed else None


def seal_plaintext(tx: Tx, keyring: Keyring) -> int:
    """Encrypt every credential still stored as plain text; returns how many bindings."""

    def seal(value: Any) -> Any:
        return value if is_encrypted(value) else keyring.encrypt(str(value))

    sealed = 0
    for row in _rows(tx):
        values: dict[str, Any] = {}
        if row.secret and not is_encrypted(row.secret):
            values["secret"] = keyring.encrypt(row.secret)
        settings = _settings_values(row, seal)
        if settings is not None:
            values["settings"] = settings
        if values:
            tx.conn.execute(update(bindings).where(bindings.c.id == row.id).values(**values))
            sealed += 1
    return sealed


def rotate(tx: Tx, keyring: Keyring) -> tuple[int, list[str]]:
    """Re-encrypt every stored credential with the keyring's first key.

    Returns (bindings rewritten, problems). A binding whose credentials no configured key
    decrypts is left untouched and named in ``problems`` with what to do.
    """
    rotated, problems = 0, []
    for row in _rows(tx):
        try:
            values: dict[str, Any] = {}
            if row.secret:
                plain = keyring.decrypt(row.secret) if is_encrypted(row.secret) else row.secret
                values["secret"] = keyring.encrypt(plain)
            settings = _settings_values(
                row, lambda v: keyring.rotate(v) if is_encrypted(v) else keyring.encrypt(str(v))
            )
        except UndecryptableSecret as error:
            problems.append(_advice(row, error))
            continue
        if settings is not None:
            values["settings"] = settings
        if values:
            tx.conn.execute(update(bindings).where(bindings.c.id == row.id).values(**values))
            rotated += 1
    return rotated, problems
