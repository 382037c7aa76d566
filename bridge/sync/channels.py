"""Google push channels (events.watch): open one per Google binding and renew it in time.

A channel makes Google POST to the bridge's webhook (bridge.api.webhooks) whenever the
user's calendar changes; the webhook only marks the binding due, and the scheduler runs
the round. Polling stays on: a binding whose channel cannot be opened is still synced
every polling interval, so every failure here is logged and otherwise harmless.

Renewal opens the new channel before stopping the old one. The binding's row names the
new channel (id and token digest) before the watch call, so Google's first "sync" message is
recognised; a notification on the old channel in that short gap is answered 404, and to
lose nothing the binding is made due once the new channel is open.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import Row

from bridge.backends.base import NotFound
from bridge.secret_box import token_digest
from bridge.store import Store
from bridge.store import bindings as binding_store
from bridge.store import channels as channel_store

log = logging.getLogger("bridge.sync.channels")

PUSH_KINDS = ("google",)


@runtime_checkable
class PushBackend(Protocol):
    """What a backend offers for push: GoogleBackend.watch / stop_channel."""

    def watch(self, address: str, channel_id: str, token: str, ttl_seconds: int) -> Any: ...

    def stop_channel(self, channel_id: str, resource_id: str) -> None: ...


BackendFactory = Callable[[Row], Any]


def new_token() -> str:
    """A random channel token (Google echoes it in X-Goog-Channel-Token; we keep its digest)."""
    return secrets.token_urlsafe(32)


def _close(backend: Any) -> None:
    close = getattr(backend, "close", None)
    if close is not None:
        try:
            close()
        except Exception:  # noqa: BLE001 - closing is best effort
            log.debug("closing backend failed", exc_info=True)


def _needs_channel(current: Row | None, now: float, renew_before: float) -> bool:
    if current is None or not current.resource_id:  # none, or left half-open by a crash
        return True
    return current.expiration < now + renew_before


def _stop_old(backend: PushBackend, binding_id: int, old: Row) -> None:
    if not old.resource_id:
        return  # never confirmed: nothing known to stop; it expires on its own
    try:
        backend.stop_channel(old.channel_id, old.resource_id)
    except NotFound:
        pass  # already gone
    except Exception as error:  # noqa: BLE001 - it expires on its own; its pushes get 404
        log.warning("binding %s: stopping channel %s failed: %s", binding_id, old.channel_id, error)


def open_channel(
    store: Store,
    binding_id: int,
    backend: PushBackend,
    address: str,
    *,
    ttl_seconds: int = 86400,
    old: Row | None = None,
) -> bool:
    """Open a new channel for the binding (replacing ``old``, stopped afterwards).

    Returns False, leaving ``old`` in place, when the watch call failed.
    """
    channel_id = uuid.uuid4().hex
    token = new_token()
    replacing = None if old is None else old.channel_id

    def claim(tx: Any) -> bool:
        return channel_store.upsert(
            tx,
            binding_id,
            channel_id=channel_id,
            resource_id="",
            token_hash=token_digest(token),
            expiration=time.time() + ttl_seconds,
            replacing=replacing,
        )

    if not store.write(claim):
        log.info("binding %s: channel changed meanwhile; not renewing", binding_id)
        return False
    try:
        channel = backend.watch(address, channel_id, token, ttl_seconds)
    except Exception as error:  # noqa: BLE001 - polling goes on; retried at the next renewal
        log.warning("binding %s: events.watch failed, polling only: %s", binding_id, error)
        store.write(lambda tx: _restore(tx, binding_id, channel_id, old))
        return False
    expiration = channel.expiration
    expires = (
        expiration.timestamp() if isinstance(expiration, datetime) else time.time() + ttl_seconds
    )

    def confirm(tx: Any) -> None:
        channel_store.upsert(
            tx,
            binding_id,
            channel_id=channel_id,
            resource_id=channel.resource_id,
            token_hash=token_digest(token),
            expiration=expires,
            replacing=channel_id,
        )
        binding_store.request_run(tx, [binding_id])  # covers the gap of the swap

    store.write(confirm)
    log.info("binding %s: push channel %s open until %.0f", binding_id, channel_id, expires)
    if old is not None:
        _stop_old(backend, binding_id, old)
    return True


def _restore(tx: Any, binding_id: int, channel_id: str, old: Row | None) -> None:
    if old is None:
        channel_store.delete_channel(tx, channel_id)
        return
    channel_store.upsert(
        tx,
        binding_id,
        channel_id=old.channel_id,
        resource_id=old.resource_id,
        token_hash=old.token_hash,
        expiration=old.expiration,
        replacing=channel_id,
        last_message=old.last_message,
    )


def renew_channels(
    store: Store,
    backend_for: BackendFactory,
    address: str,
    *,
    ttl_seconds: int = 86400,
    renew_before: float = 3600,
) -> int:
    """Give every Google binding a channel that lives past now + ``renew_before``.

    ``address`` is the webhook's public URL (…/webhooks/google). Returns how many
    channels were opened. Failures are logged; those bindings keep polling.
    """
    now = time.time()
    rows = store.read(binding_store.all_bindings)
    opened = 0
    for row in rows:
        if row.kind not in PUSH_KINDS or row.retired_at is not None:
            continue
        current = store.read(lambda conn, b=row.id: channel_store.for_binding(conn, b))
        if not _needs_channel(current, now, renew_before):
            continue
        try:
            backend = backend_for(row)
        except Exception as error:  # noqa: BLE001 - e.g. no refresh token yet
            log.warning("binding %s: no backend for push (%s); polling only", row.id, error)
            continue
        try:
            if not isinstance(backend, PushBackend):
                continue
            if open_channel(store, row.id, backend, address, ttl_seconds=ttl_seconds, old=current):
                opened += 1
        finally:
            _close(backend)
    return opened


def stop_all(store: Store, backend_for: BackendFactory) -> int:
    """Stop every stored channel (at shutdown) and forget it; returns how many were stopped.

    A channel whose stop fails for another reason than "not found" is kept, so a restart
    at the same address keeps receiving on it until it is renewed.
    """
    stopped = 0
    for channel in store.read(channel_store.all_channels):
        binding = store.read(lambda conn, b=channel.binding_id: binding_store.get(conn, b))
        backend = None
        try:
            if binding is not None and channel.resource_id:
                backend = backend_for(binding)
                backend.stop_channel(channel.channel_id, channel.resource_id)
        except NotFound:
            pass
        except Exception as error:  # noqa: BLE001 - it expires on its own
            log.warning("channel %s: stop failed: %s", channel.channel_id, error)
            continue
        finally:
            if backend is not None:
                _close(backend)
        store.write(lambda tx, c=channel.channel_id: channel_store.delete_channel(tx, c))
        stopped += 1
    return stopped


def keep_channels(
    store: Store,
    backend_for: BackendFactory,
    address: str,
    stop: threading.Event,
    *,
    interval: float = 300,
    ttl_seconds: int = 86400,
    renew_before: float = 3600,
) -> None:
    """Run renew_channels every ``interval`` seconds until ``stop`` is set (a thread's body)."""
    while not stop.is_set():
        try:
            renew_channels(
                store, backend_for, address, ttl_seconds=ttl_seconds, renew_before=renew_before
            )
        except Exception:  # noqa: BLE001 - the store may be briefly away; try again later
            log.exception("renewing push channels failed")
        stop.wait(interval)
