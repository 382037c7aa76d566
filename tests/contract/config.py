"""Alice's binding of the driver's kind in a config file, as an admin writes it, and its
secret stored as `authorize` (or the admin's command) stores it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bridge.config import load_config
from bridge.secret_keys import load_keyring
from bridge.store import binding_secrets
from bridge.store import bindings as binding_store
from bridge.wiring import open_store
from tests.contract.driver import Driver


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))  # a TOML basic string


def binding_toml(driver: Driver, rules: str = "") -> str:
    """The [[users.bindings]] table of alice's binding, named after its kind; ``rules``:
    lines of its [users.bindings.rules] table."""
    lines = ["[[users.bindings]]", f'name = "{driver.kind}"', f'kind = "{driver.kind}"']
    lines.append("[users.bindings.backend]")
    lines += [f"{k} = {toml_value(v)}" for k, v in driver.binding_backend_settings().items()]
    if rules:
        lines += ["[users.bindings.rules]", rules]
    return "\n".join(lines) + "\n"


def store_secret(config: Path, driver: Driver) -> None:
    """Store the binding's secret in the store ``config`` names (tables made first)."""
    secret = driver.binding_secret()
    settings = load_config(config)
    store = open_store(settings)
    try:
        if secret:
            row = store.read(lambda c: binding_store.by_login(c, "alice", driver.kind))[0]
            keyring = load_keyring(settings)
            store.write(lambda tx: binding_secrets.set_secret(tx, row.id, secret, keyring))
    finally:
        store.dispose()
