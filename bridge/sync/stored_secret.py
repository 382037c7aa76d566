"""A binding's stored credentials as a backend sees them (``kinds.SecretCell``): the newest
one in the store, read when the backend needs it, and compare-and-set writes.

Several processes (``bridge serve`` with its push channels, ``bridge worker``) sign in for
one binding. When the service rotates a refresh token on use, each of them must sign in
with the newest stored one and store its successor only while the stored one is still
the one it used: a stale process never overwrites a newer token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge import log_setup
from bridge.secret_box import Keyring
from bridge.store import Store, binding_secrets


class StoredSecret:
    """The credentials of binding ``binding_id`` in ``store``, encrypted with ``keyring``."""

    def __init__(self, store: Store, binding_id: int, keyring: Keyring) -> None:
        self.store, self.binding_id, self.keyring = store, binding_id, keyring

    def read(self) -> Mapping[str, Any]:
        """The stored credentials now ({} when none or the binding is gone)."""
        secret = self.store.read(
            lambda conn: binding_secrets.stored_secret(conn, self.binding_id, self.keyring)
        )
        log_setup.remember(secret or {})
        return secret or {}

    def swap(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
        """Store ``new`` if the stored credentials are still ``old``; whether it did."""
        log_setup.remember(new)
        return self.store.write(
            lambda tx: binding_secrets.swap_secret(tx, self.binding_id, old, new, self.keyring)
        )
