"""`bridge serve`'s start-up does not cost a round trip per user or per binding.

Adopting a configuration the store already holds (every start of `bridge serve`) reads what
is stored in bulk and writes nothing; a change writes only what changed; the parts of one
process open the store once. Counted in statements sent to SQLite and MariaDB, with
USERS users and as many Google bindings (issue 12: 26-79 s to listen on MariaDB with 2,000
users and 1,000 bindings, ~54,000 statements, before).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, select

from bridge.config import load_config
from bridge.secret_keys import load_keyring
from bridge.store import Store
from bridge.store.schema import bindings, booking_rights, collections, users, visibility
from bridge.wiring import Wiring, open_store

USERS = 150
#: Statements of adopting an unchanged configuration, whatever USERS is (migration check,
#: the bulk reads of users, homes, pairs and bindings, the write lock and the change log).
AT_MOST = 40


def config_text(
    db_url: str,
    *,
    email_of: Callable[[int], str] = lambda n: f"u{n}@example.com",
    secret_of: Callable[[int], str] = lambda n: "s3cret",
    can_see: Callable[[int], str] = lambda n: f"u{(n + 1) % USERS:04d}",
) -> str:
    lines = [f'[server]\nauth = "none"\n[store]\nurl = "{db_url}"\n']
    for n in range(USERS):
        lines.append(
            f'[[users]]\nlogin = "u{n:04d}"\nemail = "{email_of(n)}"\n'
            f'can_see = ["{can_see(n)}"]\ncan_book_for = ["u{(n + 2) % USERS:04d}"]\n'
            '[[users.bindings]]\nname = "google"\nkind = "google"\n'
            '[users.bindings.backend]\nclient_id = "client-id"\n'
            f'client_secret = "{secret_of(n)}"\n'
            'api_endpoint = "http://127.0.0.1:9/calendar/v3/"\n'
        )
    return "\n".join(lines)


def settings_for(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "bridge.toml"
    path.write_text(text)
    return load_config(path)


@contextmanager
def counted(store: Store) -> Iterator[list[str]]:
    """Every statement sent on the store's engine while the block runs."""
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        sent.append(statement.lstrip().split(None, 1)[0].upper())

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(store.engine, "before_cursor_execute", record)


def writes(sent: list[str]) -> list[str]:
    return [s for s in sent if s in ("INSERT", "UPDATE", "DELETE")]


def snapshot(store: Store) -> dict[str, list]:
    def read(conn) -> dict[str, list]:  # noqa: ANN001
        return {
            "users": [dict(r._mapping) for r in conn.execute(select(users).order_by(users.c.id))],
            "bindings": [
                dict(r._mapping) for r in conn.execute(select(bindings).order_by(bindings.c.id))
            ],
            "collections": [
                dict(r._mapping)
                for r in conn.execute(select(collections).order_by(collections.c.id))
            ],
            "visibility": sorted(tuple(r) for r in conn.execute(select(visibility))),
            "booking": sorted(tuple(r) for r in conn.execute(select(booking_rights))),
        }

    return store.read(read)


def test_adopting_the_stored_configuration_again_is_a_few_statements_and_no_write(tmp_path, db_url):
    settings = settings_for(tmp_path, config_text(db_url))
    store = open_store(settings)
    before = snapshot(store)
    assert len(before["bindings"]) == USERS and len(before["visibility"]) == USERS
    with counted(store) as sent:
        open_store(settings)
    assert len(sent) <= AT_MOST, sent
    assert writes(sent) == []
    # nothing changed: not even the sealed client_secret (its fingerprint keeps the
    # backends the other processes keep)
    assert snapshot(store) == before


def test_a_changed_configuration_writes_only_what_changed(tmp_path, db_url):
    store = open_store(settings_for(tmp_path, config_text(db_url)))
    before = snapshot(store)
    changed = config_text(
        db_url,
        email_of=lambda n: "new@example.com" if n == 3 else f"u{n}@example.com",
        secret_of=lambda n: "rotated" if n == 5 else "s3cret",
        can_see=lambda n: f"u{(n + 7) % USERS:04d}" if n == 9 else f"u{(n + 1) % USERS:04d}",
    )
    with counted(store) as sent:
        open_store(settings_for(tmp_path, changed))
    after = snapshot(store)
    # the user's email, the binding's settings, one pair deleted and one inserted
    assert len(writes(sent)) == 4, writes(sent)
    ids = {r["login"]: r["id"] for r in after["users"]}
    assert [r["login"] for r in after["users"] if r not in before["users"]] == ["u0003"]
    assert [r["email"] for r in after["users"] if r["login"] == "u0003"] == ["new@example.com"]
    changed_bindings = [r for r in after["bindings"] if r not in before["bindings"]]
    assert [r["user_id"] for r in changed_bindings] == [ids["u0005"]]
    keyring = load_keyring(settings_for(tmp_path, changed))
    stored = json.loads(changed_bindings[0]["settings"])
    assert keyring.decrypt(stored["client_secret"]) == "rotated"
    assert stored["client_id"] == "client-id"
    assert [o for v, o in after["visibility"] if v == ids["u0009"]] == [ids["u0016"]]
    assert len(after["visibility"]) == USERS and after["booking"] == before["booking"]
    assert after["collections"] == before["collections"]


def test_the_parts_of_one_serve_open_the_store_once(tmp_path, db_url):
    wiring = Wiring(settings_for(tmp_path, config_text(db_url)))
    store = wiring.store()
    with counted(store) as sent:
        assert wiring.store() is store
        assert wiring.store() is store
    assert sent == []


def test_two_processes_adopting_the_same_change_at_once_both_succeed(tmp_path, db_url):
    """serve and a worker re-read the same edited file at once (`bridge reload`): the
    second's insert of a new visibility pair waits for the first's and then finds it
    there (no duplicate-key failure, no reload refused)."""
    import threading

    from bridge.store import users as user_store

    open_store(settings_for(tmp_path, config_text(db_url)))
    records = [
        user_store.UserRecord(
            f"u{n:04d}", f"u{n}@example.com", can_see=(f"u{(n + 5) % USERS:04d}",)
        )
        for n in range(USERS)
    ]
    first, second = Store(db_url), Store(db_url)
    inserted = threading.Event()
    failures: list[BaseException] = []

    def slow(tx) -> None:  # noqa: ANN001
        user_store.sync(tx, records)
        inserted.set()
        time.sleep(1.0)  # holds its new pairs uncommitted while the other adopts

    def run(store: Store, work) -> None:  # noqa: ANN001
        try:
            store.write(work, origin="config")
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    one = threading.Thread(target=run, args=(first, slow))
    one.start()
    assert inserted.wait(10)
    run(second, lambda tx: user_store.sync(tx, records))
    one.join(30)
    assert failures == []
    pairs = snapshot(first)["visibility"]
    assert len(pairs) == USERS
    first.dispose()
    second.dispose()
