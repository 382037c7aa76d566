"""Bindings follow the configuration: create, adopt, re-pair, retire and prune.

- ``sync(..., adopt=True)`` (`bridge serve`, `bridge db upgrade`): the store takes the
  configuration's settings and rules for every binding; a binding whose kind or remote
  identity (the calendar it names) changed starts a clean pairing (links, remote cursor,
  outbound position and push channel dropped: the next round lists everything and matches
  by the CRM id tag); a binding gone from the configuration is retired (it stops syncing,
  its links are kept until ``prune``).
- ``sync(..., adopt=False)`` (every other command): only bindings the store does not know
  yet are created (and rules filled in where none are stored); nothing stored changes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Row, delete, select, update

from bridge.secret_box import Keyring
from bridge.store.binding_secrets import seal_settings, seal_settings_as
from bridge.store.changes import Tx
from bridge.store.schema import bindings, channels, links, users


@dataclass(frozen=True)
class BindingRecord:
    """A binding as the config file declares it. ``rules``: the canonical mapping of its
    SyncRules; ``identity_keys``: the settings that name the remote calendar; ``account``:
    the remote account they name (the kind's ``account_of``), None for none."""

    login: str
    name: str
    kind: str
    settings: Mapping[str, Any]
    rules: Mapping[str, Any] = field(default_factory=dict)
    identity_keys: tuple[str, ...] = ()
    account: str | None = None


def rules_json(rules: Mapping[str, Any]) -> str | None:
    """The stored form of the rules; None (not known yet) for a record without any."""
    return json.dumps(rules, sort_keys=True) if rules else None


def _identity(settings: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    return {k: settings.get(k) for k in keys}


def sync(
    tx: Tx, records: Iterable[BindingRecord], keyring: Keyring, *, adopt: bool = True
) -> list[str]:
    """Bring the stored bindings in line with ``records`` (see the module). Returns what
    happened, one line per binding that was re-paired or retired."""
    conn = tx.conn
    ids = {row.login: row.id for row in conn.execute(select(users.c.login, users.c.id))}
    stored = {(row.user_id, row.name): row for row in conn.execute(select(bindings))}
    events: list[str] = []
    configured: set[tuple[int, str]] = set()
    new_rows: list[dict[str, Any]] = []
    for rec in records:
        user_id = ids[rec.login]
        configured.add((user_id, rec.name))
        row = stored.get((user_id, rec.name))
        if row is None:
            sealed = seal_settings(rec.settings, keyring)
            new_rows.append(
                {
                    "user_id": user_id,
                    "name": rec.name,
                    "kind": rec.kind,
                    "settings": json.dumps(sealed, sort_keys=True, default=str),
                    "rules": rules_json(rec.rules),
                    "account": rec.account,
                    "outbound_seq": 0,
                    "failures": 0,
                    "next_run_at": 0,
                }
            )
            continue
        if not adopt:
            filled: dict[str, Any] = {}  # what none stored yet: take this configuration's
            if row.rules is None and rec.rules:
                filled["rules"] = rules_json(rec.rules)
            if row.account is None and rec.account is not None and row.kind == rec.kind:
                filled["account"] = rec.account
            if filled:
                conn.execute(update(bindings).where(bindings.c.id == row.id).values(**filled))
            continue
        was = json.loads(row.settings or "{}")
        sealed = seal_settings_as(rec.settings, was, keyring)
        values: dict[str, Any] = {
            "settings": json.dumps(sealed, sort_keys=True, default=str),
            "rules": rules_json(rec.rules),
            "account": rec.account,
            "retired_at": None,
        }
        if row.kind != rec.kind or _identity(was, rec.identity_keys) != _identity(
            rec.settings, rec.identity_keys
        ):
            _forget_pairing(conn, row.id)
            values.update(
                kind=rec.kind, remote_cursor=None, outbound_seq=0, failures=0, next_run_at=0
            )
            values.update(last_error=None, last_error_at=None)
            if row.kind != rec.kind:  # another kind's credentials mean nothing here
                values["secret"] = None
            events.append(f"{rec.login}/{rec.name}: new pairing ({row.kind} -> {rec.kind})")
        if any(getattr(row, column) != value for column, value in values.items()):
            conn.execute(update(bindings).where(bindings.c.id == row.id).values(**values))
    if new_rows:
        conn.execute(bindings.insert(), new_rows)
    if adopt:
        events += _retire_missing(conn, configured)
    return events


def _forget_pairing(conn: Connection, binding_id: int) -> None:
    """Drop the links and push channel of the old pairing (the remote copies stay where
    they are; a channel left open at the old calendar expires, its notifications 404)."""
    conn.execute(delete(links).where(links.c.binding_id == binding_id))
    conn.execute(delete(channels).where(channels.c.binding_id == binding_id))


def _retire_missing(conn: Connection, configured: set[tuple[int, str]]) -> list[str]:
    rows = conn.execute(
        select(bindings.c.id, bindings.c.user_id, bindings.c.name, users.c.login)
        .join(users, users.c.id == bindings.c.user_id)
        .where(bindings.c.retired_at.is_(None))
    ).all()
    gone = [r for r in rows if (r.user_id, r.name) not in configured]
    if gone:
        conn.execute(
            update(bindings)
            .where(bindings.c.id.in_([r.id for r in gone]))
            .values(retired_at=time.time(), lease_owner=None, lease_until=None)
        )
    return [f"{r.login}/{r.name}: retired (not in the configuration)" for r in gone]


def retired(conn: Connection) -> list[Row]:
    """Retired bindings with their login and how many links they keep."""
    query = (
        select(
            bindings.c.id, bindings.c.name, bindings.c.kind, bindings.c.retired_at, users.c.login
        )
        .join(users, users.c.id == bindings.c.user_id)
        .where(bindings.c.retired_at.isnot(None))
        .order_by(users.c.login, bindings.c.name)
    )
    return list(conn.execute(query))


def link_count(conn: Connection, binding_id: int) -> int:
    return len(conn.execute(select(links.c.id).where(links.c.binding_id == binding_id)).all())


def delete_retired(tx: Tx, binding_id: int) -> bool:
    """Delete a retired binding with its links and channel; False if it is not retired
    (any more: a `serve` may have adopted a configuration that has it again)."""
    conn = tx.conn
    row = conn.execute(
        select(bindings.c.id).where(bindings.c.id == binding_id, bindings.c.retired_at.isnot(None))
    ).first()
    if row is None:
        return False
    conn.execute(delete(links).where(links.c.binding_id == binding_id))
    conn.execute(delete(channels).where(channels.c.binding_id == binding_id))
    conn.execute(delete(bindings).where(bindings.c.id == binding_id))
    return True
