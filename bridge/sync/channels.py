"""Push channels: one per binding whose backend offers push, opened and renewed in time.

A channel (a subscription at the service) makes it POST to the bridge's webhook
``/webhooks/<kind>`` (bridge.api.webhooks) whenever the user's calendar changes; the
webhook only marks the binding due, and the scheduler runs the round. Polling stays on:
a binding whose channel cannot be opened is still synced every polling interval, so
every failure here is logged and otherwise harmless.

Any kind takes part whose registry entry reads webhooks (``BackendKind.receiver``) and
whose backend's ``push()`` is not None. A channel lives min(configured, the kind's
``max_lifetime``). Renewal extends it in place when the service can (``renew``), else
opens the new channel before stopping the old one. The binding's row names the new
channel (id and token digest) before the open call, so a first message that beats the
answer is recognised; when the service chooses the id itself (``Subscription.id``), the
row takes that id once the answer is in. A notification on the old channel in the swap's
short gap is answered 404, and to lose nothing the binding is made due once the new
channel is open. A channel's stored resource id is the service's name for what is
watched; a service that names none (its receiver then reports the subscription id as
the notice's resource id) gets the subscription id. A channel with no resource id yet is
one still being opened.

A notice may ask for more than a round (bridge.backends.base.PushNotice): ``renew`` puts
the binding in the process's :class:`RenewRequests`, which wakes ``keep_channels`` to
renew that channel at once whatever its expiry (Graph's reauthorizationRequired); the
webhook handles ``resync`` itself by dropping the binding's cursor.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from bridge.backends import kinds
from bridge.backends.base import Backend, NotFound, PushChannel, Subscription
from bridge.secret_box import token_digest
from bridge.store import Store
from bridge.store import bindings as binding_store
from bridge.store import channels as channel_store
from bridge.store.bindings import BindingRow
from bridge.store.changes import Tx
from bridge.store.channels import ChannelRow
from bridge.sync.pool import close_quietly

log = logging.getLogger("bridge.sync.channels")

BackendMaker = Callable[[BindingRow], Backend]


def webhook_path(kind: str) -> str:
    """Where a kind's notifications are received, under the API's public URL."""
    return f"/webhooks/{kind}"


def new_token() -> str:
    """A random channel token (the service echoes it; we keep its digest)."""
    return secrets.token_urlsafe(32)


def subscription_of(row: ChannelRow) -> Subscription:
    return Subscription(row.channel_id, None, row.resource_id)


class RenewRequests:
    """Bindings whose channel this process wants renewed now, and the channel keeper's
    wake-up (``poke``: a renewal was asked in the store, by a notice this process took)."""

    def __init__(self) -> None:
        self._ids: set[int] = set()
        self._lock = threading.Lock()
        self.wake = threading.Event()

    def ask(self, binding_id: int) -> None:
        with self._lock:
            self._ids.add(binding_id)
        self.wake.set()

    def poke(self) -> None:
        self.wake.set()

    def take(self) -> set[int]:
        """The bindings asked for since the last take (and clears the wake-up)."""
        with self._lock:
            ids, self._ids = self._ids, set()
            self.wake.clear()
        return ids


def offers_push(kind: str) -> bool:
    """Whether ``kind`` is registered with a webhook reader (its backends may push)."""
    try:
        return kinds.kind_of(kind).receiver is not None
    except KeyError:
        return False


def _needs_channel(current: ChannelRow | None, now: float, renew_before: float) -> bool:
    if current is None or not current.resource_id:  # none, or left half-open by a crash
        return True
    return current.expiration < now + renew_before


def _stop_old(push: PushChannel, binding_id: int, old: ChannelRow) -> None:
    if not old.resource_id:
        return  # never confirmed: nothing known to stop; it expires on its own
    try:
        push.stop(subscription_of(old))
    except NotFound:
        pass  # already gone
    except Exception as error:  # noqa: BLE001 - it expires on its own; its pushes get 404
        log.warning("binding %s: stopping channel %s failed: %s", binding_id, old.channel_id, error)


def _expires(subscription: Subscription, lifetime: timedelta) -> float:
    if subscription.expires_at is None:
        return time.time() + lifetime.total_seconds()
    return subscription.expires_at.timestamp()


def open_channel(
    store: Store,
    binding_id: int,
    push: PushChannel,
    address: str,
    *,
    lifetime: timedelta = timedelta(days=1),
    old: ChannelRow | None = None,
) -> bool:
    """Open a new channel for the binding (replacing ``old``, stopped afterwards).

    Returns False, leaving ``old`` in place, when the open call failed.
    """
    channel_id = uuid.uuid4().hex
    token = new_token()
    digest = token_digest(token)
    replacing = None if old is None else old.channel_id

    def claim(tx: Tx) -> bool:
        return channel_store.upsert(
            tx,
            binding_id,
            channel_id=channel_id,
            resource_id="",
            token_hash=digest,
            expiration=time.time() + lifetime.total_seconds(),
            replacing=replacing,
        )

    if not store.write(claim):
        log.info("binding %s: channel changed meanwhile; not renewing", binding_id)
        return False
    try:
        subscription = push.open(address, channel_id, token, lifetime)
    except Exception as error:  # noqa: BLE001 - polling goes on; retried at the next renewal
        log.warning(
            "binding %s: opening a push channel failed, polling only: %s", binding_id, error
        )
        store.write(lambda tx: _restore(tx, binding_id, channel_id, old))
        return False
    expires = _expires(subscription, lifetime)

    def confirm(tx: Tx) -> None:
        channel_store.upsert(
            tx,
            binding_id,
            channel_id=subscription.id,  # ours, or the one the service chose
            resource_id=subscription.resource_id or subscription.id,
            token_hash=digest,
            expiration=expires,
            replacing=channel_id,
        )
        binding_store.request_run(tx, [binding_id])  # covers the gap of the swap

    store.write(confirm)
    log.info("binding %s: push channel %s open until %.0f", binding_id, subscription.id, expires)
    if old is not None:
        _stop_old(push, binding_id, old)
    return True


def renew_channel(
    store: Store, binding_id: int, push: PushChannel, current: ChannelRow, lifetime: timedelta
) -> bool | None:
    """Extend ``current`` in place; None when the service cannot (open a new one)."""
    try:
        renewed = push.renew(subscription_of(current), lifetime)
    except Exception as error:  # noqa: BLE001 - a new channel is opened instead
        log.warning(
            "binding %s: renewing channel %s failed: %s", binding_id, current.channel_id, error
        )
        return None
    if renewed is None:
        return None
    done = store.write(
        lambda tx: channel_store.upsert(
            tx,
            binding_id,
            channel_id=current.channel_id,
            resource_id=renewed.resource_id or current.resource_id,
            token_hash=current.token_hash,
            expiration=_expires(renewed, lifetime),
            replacing=current.channel_id,
        )
    )
    if done:
        log.info("binding %s: push channel %s renewed", binding_id, current.channel_id)
    return done


def _restore(tx: Tx, binding_id: int, channel_id: str, old: ChannelRow | None) -> None:
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
    backend_for: BackendMaker,
    base_url: str,
    *,
    ttl_seconds: int = 86400,
    renew_before: float = 3600,
    now_for: frozenset[int] | set[int] = frozenset(),
) -> int:
    """Give every binding that offers push a channel that lives past now + ``renew_before``.

    ``base_url`` is the API's public URL; a kind's channels point at
    ``base_url + webhook_path(kind)``. The bindings in ``now_for`` (a notice asked for it)
    are renewed whatever their channel's expiry. Returns how many channels were opened or
    renewed. Failures are logged; those bindings keep polling.
    """
    now = time.time()
    done = 0
    for row in store.read(binding_store.all_bindings):
        if row.retired_at is not None or not offers_push(row.kind):
            continue
        current = store.read(lambda conn, b=row.id: channel_store.for_binding(conn, b))
        if row.id not in now_for and not _needs_channel(current, now, renew_before):
            continue
        if row.id in now_for:
            log.info("binding %s: the service asked to renew its push channel now", row.id)
        try:
            backend = backend_for(row)
        except Exception as error:  # noqa: BLE001 - e.g. no refresh token yet
            log.warning("binding %s: no backend for push (%s); polling only", row.id, error)
            continue
        try:
            push = backend.push()
            if push is None:
                continue
            lifetime = min(timedelta(seconds=ttl_seconds), push.max_lifetime)
            if current is not None and current.resource_id:
                renewed = renew_channel(store, row.id, push, current, lifetime)
                if renewed is not None:
                    done += renewed
                    continue
            address = base_url + webhook_path(row.kind)
            done += open_channel(store, row.id, push, address, lifetime=lifetime, old=current)
        finally:
            close_quietly(backend, row.id)
    return done


def stop_channel(backend: Backend, channel: ChannelRow) -> None:
    """Stop ``channel`` at the service (NotFound when it is gone already)."""
    push = backend.push()
    if push is not None and channel.resource_id:
        push.stop(subscription_of(channel))


def stop_all(store: Store, backend_for: BackendMaker) -> int:
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
                stop_channel(backend, channel)
        except NotFound:
            pass
        except Exception as error:  # noqa: BLE001 - it expires on its own
            log.warning("channel %s: stop failed: %s", channel.channel_id, error)
            continue
        finally:
            if backend is not None:
                close_quietly(backend, channel.binding_id)
        store.write(lambda tx, c=channel.channel_id: channel_store.delete_channel(tx, c))
        stopped += 1
    return stopped


def keep_channels(
    store: Store,
    backend_for: BackendMaker,
    base_url: str,
    stop: threading.Event,
    *,
    interval: float = 300,
    ttl_seconds: int = 86400,
    renew_before: float = 3600,
    requests: RenewRequests | None = None,
    ask_poll: float = 5.0,
) -> None:
    """Run renew_channels every ``interval`` seconds until ``stop`` is set (a thread's body),
    and at once when a renewal is asked: in ``requests`` (this process) or in the store (a
    notice any process took: looked for every ``ask_poll`` seconds, and when poked)."""
    requests = requests or RenewRequests()
    while not stop.is_set():
        asked = requests.take()
        try:
            asked |= set(store.write(channel_store.take_renew_requests))
            renew_channels(
                store,
                backend_for,
                base_url,
                ttl_seconds=ttl_seconds,
                renew_before=renew_before,
                now_for=asked,
            )
        except Exception:  # noqa: BLE001 - the store may be briefly away; try again later
            log.exception("renewing push channels failed")
            for binding_id in asked:  # asked again at the next pass
                requests.ask(binding_id)
            stop.wait(min(interval, 30))
            continue
        _wait(store, stop, requests, interval, ask_poll)


def _wait(
    store: Store, stop: threading.Event, requests: RenewRequests, interval: float, poll: float
) -> None:
    """Until ``interval`` passed, ``stop`` is set, or a renewal is asked (here or stored)."""
    until = time.monotonic() + interval
    look = time.monotonic() + poll
    while not stop.is_set() and not requests.wake.is_set() and time.monotonic() < until:
        requests.wake.wait(min(1.0, poll, max(0.0, until - time.monotonic())))
        if time.monotonic() >= look:
            look = time.monotonic() + poll
            try:
                if store.read(channel_store.renew_asked):
                    return
            except Exception:  # noqa: BLE001 - the store may be briefly away
                log.debug("looking for stored renewal requests failed", exc_info=True)
