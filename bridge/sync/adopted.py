"""Which rules a process may sync a binding with: those of its own configuration, and only
while they agree with what the store holds for that binding (the configuration last
adopted by `bridge serve` or `bridge db upgrade`).

A process whose configuration disagrees (another file, an older copy) refuses to run the
binding, naming it and every difference; a binding not in its configuration, or retired
in the store, is refused too. Nothing ever syncs with rules it did not get from a
configuration.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bridge.backends import kinds
from bridge.config import Settings
from bridge.config.bindings import BindingSettings
from bridge.secret_box import Keyring
from bridge.store.binding_secrets import UnreadableSecret, open_settings
from bridge.store.bindings import BindingRow
from bridge.sync.rules import SyncRules

FIX = (
    "restart the other bridge processes with the same configuration, or run "
    "`bridge db upgrade --config FILE` with the configuration to adopt"
)


class BindingRefused(Exception):
    """This process may not run the binding; the message names it, the reason and the fix."""


def _flat(value: Any, prefix: str) -> dict[str, Any]:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flat(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def differences(
    row: BindingRow, stored_settings: Mapping[str, Any], binding: BindingSettings
) -> list[str]:
    """What the stored binding and this configuration's ``binding`` disagree on."""
    found: list[str] = []
    if row.kind != binding.kind:
        found.append(f"kind: stored {row.kind!r}, this configuration {binding.kind!r}")
    secret = kinds.schema_for(binding.kind).is_secret if binding.kind in kinds.kinds() else None
    for key in sorted(set(stored_settings) | set(binding.backend)):
        old, new = stored_settings.get(key), binding.backend.get(key)
        if old == new:
            continue
        if secret is not None and secret(key):
            found.append(f"backend.{key}: differs (secret, not shown)")
        else:
            found.append(f"backend.{key}: stored {old!r}, this configuration {new!r}")
    stored_rules = _flat(json.loads(row.rules), "rules") if row.rules else {}
    mine = _flat(binding.rules.to_mapping(), "rules")
    for key in sorted(set(stored_rules) | set(mine)):
        if stored_rules.get(key) != mine.get(key):
            found.append(
                f"{key}: stored {stored_rules.get(key)!r}, this configuration {mine.get(key)!r}"
            )
    return found


class ConfiguredRules:
    """``rules(row)``: the SyncRules this process may run the binding with, or
    BindingRefused."""

    def __init__(self, settings: Settings, keyring: Keyring) -> None:
        self.keyring = keyring
        self.file = str(settings.path)
        self.bindings = {(u.login, b.name): b for u in settings.users for b in u.bindings}

    def __call__(self, row: BindingRow) -> SyncRules:
        label = f"binding {row.login}/{row.name}"
        if row.retired_at is not None:
            raise BindingRefused(
                f"{label} is not in the configuration (retired); "
                "`bridge bindings prune --config FILE` deletes it"
            )
        binding = self.bindings.get((row.login, row.name))
        if binding is None:
            raise BindingRefused(f"{label} is not in this process's configuration {self.file}")
        try:
            stored = open_settings(row, self.keyring)
        except UnreadableSecret as error:
            raise BindingRefused(f"{label}: {error}") from None
        found = differences(row, stored, binding)
        if found:
            raise BindingRefused(
                f"{label}: this process's configuration ({self.file}) differs from the one "
                f"the store holds: {'; '.join(found)}; fix: {FIX}"
            )
        return binding.rules
