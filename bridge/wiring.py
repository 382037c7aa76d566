"""The composition root: store, keyring, rules, backends, scheduler and API built from one
configuration, for `bridge serve`, `bridge worker` and the other commands.

Nothing else wires these parts together: bridge.server runs the CalDAV server and
bridge.cli_sync the sync commands, each taking what it needs from here.

Backends are made through the kind registry (bridge.backends.kinds): the binding row and
its opened settings and secret become a typed ``BindingSpec``, and the kind's ``make``
turns it into a backend. The scheduler keeps what it makes (bridge.sync.pool).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from bridge import log_setup
from bridge.backends import kinds
from bridge.backends.base import Backend
from bridge.backends.kinds import BindingConfigError, BindingSpec
from bridge.config import Settings
from bridge.secret_box import Keyring
from bridge.secret_keys import load_keyring
from bridge.store import Store, binding_secrets, shared_store
from bridge.store import bindings as binding_store
from bridge.store import users as user_store
from bridge.store.bindings import BindingRow
from bridge.store.changes import Tx
from bridge.sync.adopted import ConfiguredRules
from bridge.sync.scheduler import Scheduler, Timing
from bridge.sync.stored_secret import StoredSecret

if TYPE_CHECKING:
    from aiohttp import web

    from bridge.api.keys import ApiKeys
    from bridge.api.login import Gate
    from bridge.invite import Invites

log = logging.getLogger("bridge")


def open_store(settings: Settings, *, adopt: bool = True) -> Store:
    """The store of ``settings``, migrated, with the configured users in it.

    ``adopt`` (`bridge serve`, `bridge db upgrade`): the store takes this configuration's
    binding settings and rules, re-pairs bindings whose kind or calendar changed and
    retires bindings gone from it (bridge.store.binding_config). Other commands only add
    bindings the store does not know yet, and compare before each round
    (bridge.sync.adopted).

    Binding credentials are stored encrypted with the keys of ``[secrets]``; any still
    in plain text (written before encryption existed) are encrypted now.
    """
    keyring = load_keyring(settings)
    s = settings.store
    store = shared_store(
        s.url,
        max_occurrences=s.max_occurrences,
        index_horizon_days=s.index_horizon_days,
        change_retention_days=s.change_retention_days,
        migrate=True,
    )
    records = [
        user_store.UserRecord(
            u.login, u.email, u.display_name, tuple(u.can_see), tuple(u.can_book_for)
        )
        for u in settings.users
    ]
    links = [
        binding_store.BindingRecord(
            u.login,
            b.name,
            b.kind,
            b.backend,
            b.rules.to_mapping(),
            tuple(kinds.schema_for(b.kind).identity(b.backend)),
            kinds.schema_for(b.kind).account_of(b.backend),
        )
        for u in settings.users
        for b in u.bindings
    ]

    def write(tx: Tx) -> tuple[int, list[str]]:
        user_store.sync(tx, records)
        events = binding_store.sync(tx, links, keyring, adopt=adopt)
        return binding_secrets.seal_plaintext(tx, keyring), events

    sealed, events = store.write(write, origin="config")
    for event in events:
        log.warning("binding %s", event)
    if sealed:
        log.warning("encrypted the plain-text credentials of %d binding(s)", sealed)
    return store


def spec_of(row: BindingRow, keyring: Keyring, store: Store | None = None) -> BindingSpec:
    """The typed binding a backend is made from: the row, its settings and secret opened
    (with ``store``: and the stored secret as a cell, read and swapped when it rotates)."""
    try:
        settings = binding_secrets.open_settings(row, keyring)
        secret = binding_secrets.read_secret(row, keyring)
    except binding_secrets.UnreadableSecret as error:
        raise BindingConfigError(str(error)) from None
    log_setup.remember(secret)  # stored credentials (refresh tokens) never reach the log
    cell = None if store is None else StoredSecret(store, row.id, keyring)
    return BindingSpec(row.id, row.login, row.kind, settings, secret, cell)


class BackendMaker:
    """``maker(row)``: a new backend for a binding row, made by its kind's ``make``;
    BindingConfigError when the kind is unknown or has no constructor."""

    def __init__(self, keyring: Keyring, store: Store | None = None) -> None:
        self.keyring, self.store = keyring, store

    def __call__(self, row: BindingRow) -> Backend:
        try:
            make = kinds.kind_of(row.kind).make
        except KeyError:
            make = None
        if make is None:
            raise BindingConfigError(f"backend kind {row.kind!r} is not available")
        return make(spec_of(row, self.keyring, self.store))


def scheduler_timing(settings: Settings) -> Timing:
    """The scheduler's polling interval, lease timing and pace from ``[sync]``."""
    return Timing(
        poll_seconds=settings.sync.poll_seconds,
        heartbeat_seconds=settings.sync.heartbeat_seconds,
        lease_seconds=settings.sync.lease_seconds,
        rounds_at_once=settings.sync.rounds_at_once,
        rounds_per_account=settings.sync.rounds_per_account,
        pass_size=settings.sync.pass_size,
    )


class Wiring:
    """The parts of one process, built from ``settings`` (the keyring loaded once)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.keyring = load_keyring(settings)
        self._keys: ApiKeys | None = None
        self._stores: dict[bool, Store] = {}

    def store(self, *, adopt: bool = True) -> Store:
        """The store, opened (migrated, the configuration adopted or added) on the first
        call only: the parts of one process share it."""
        store = self._stores.get(adopt)
        if store is None:
            store = self._stores[adopt] = open_store(self.settings, adopt=adopt)
        return store

    def rules(self) -> ConfiguredRules:
        """The rules a stored binding may sync with in this process (bridge.sync.adopted)."""
        return ConfiguredRules(self.settings, self.keyring)

    def backends(self, store: Store | None = None) -> BackendMaker:
        """Makes backends; with ``store``, backends store rotated secrets themselves."""
        return BackendMaker(self.keyring, store)

    def scheduler(self, store: Store) -> Scheduler:
        """The sync scheduler; its owner calls ``close()`` when it stops."""
        return Scheduler(
            store,
            self.backends(store),
            self.rules(),
            timing=scheduler_timing(self.settings),
            keyring=self.keyring,
        )

    def api_app(
        self, store: Store, rules: Callable[[], ConfiguredRules] | None = None
    ) -> web.Application:
        """The app of ``[api]``: webhooks, /health, the status page, /metrics and the
        REST API (meetings, sync status, /api/openapi.json).

        ``rules`` gives the rules check of the configuration in force (a reload swaps
        it); by default this wiring's."""
        from bridge.api import (
            invite_routes,
            meetings,
            metrics_route,
            openapi,
            status_page,
            sync_routes,
        )
        from bridge.api.rest_common import KEYS
        from bridge.api.webhooks import webhook_app

        api = self.settings.api
        app = webhook_app(
            store,
            coalesce_seconds=api.push_coalesce_seconds,
            request_seconds=api.request_seconds,
        )
        app[KEYS] = self.api_keys()
        gate = self.admin_gate()
        mine = self.rules()
        current = rules or (lambda: mine)
        source = status_page.StatusSource(store, gate, current)
        status_page.add_routes(app, source)
        metrics_route.add_routes(app, store, gate)
        meetings.add_routes(app, store)
        invite_routes.add_routes(app, store, self.invites(store))
        sync_routes.add_routes(app, store, current)
        openapi.add_routes(app)
        return app

    def invites(self, store: Store) -> Invites:
        """The Invite action (bridge.invite) over ``store`` with ``[invite]``."""
        from bridge.invite import Invites

        return Invites(store, self.settings.invite, self.backends())

    def api_keys(self) -> ApiKeys:
        """The REST API's keys (``[[api.keys]]``), made once per process."""
        from bridge.api.keys import ApiKeys

        if self._keys is None:
            self._keys = ApiKeys(self.settings.api.keys)
        return self._keys

    def admin_gate(self) -> Gate:
        """Who may open /status and /metrics: ``[api] admins``, logged in against the
        CalDAV server's htpasswd file, or an API key scoped to every user ("*")
        (bridge.api.login, bridge.api.keys)."""
        from bridge.api.keys import admin_logins
        from bridge.api.login import Gate, htpasswd_login

        server = self.settings.server
        if server.auth == "none" or server.htpasswd is None:
            return Gate([], (), open=True)
        keys = self.api_keys()
        admins = (*self.settings.api.admins, *admin_logins(self.settings.api.keys))
        return Gate([htpasswd_login(server.htpasswd), keys.admin_login], admins, open=False)

    def push_base_url(self) -> str:
        """Where the services send push notifications (…/webhooks/<kind>), or "" for none."""
        return self.settings.api.push_base_url
