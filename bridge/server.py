"""`bridge serve`: Radicale with the bridge storage and rights, behind waitress."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import radicale
from radicale import config as radicale_config
from radicale import log as radicale_log

from bridge.backends import kinds
from bridge.backends.factory import BackendFactory
from bridge.config import Settings
from bridge.file_checks import permission_problems
from bridge.rights import refusal_reason
from bridge.secret_keys import load_keyring
from bridge.store import Store, binding_secrets, shared_store
from bridge.store import bindings as binding_store
from bridge.store import users as user_store
from bridge.store.changes import Tx
from bridge.wsgi import ErrorDetails, WSGIApp, utf8_paths
from bridge.wsgi_commit import commit_on_success
from bridge.wsgi_guard import RequestGuard
from bridge.wsgi_status import RefusalStatus

log = logging.getLogger("bridge")


def radicale_configuration(settings: Settings) -> radicale_config.Configuration:
    """Radicale's configuration for the bridge: our storage, rights and auth, and the limits."""
    server, store = settings.server, settings.store
    values: dict[str, dict[str, str]] = {
        "server": {
            "hosts": f"{server.host}:{server.port}",
            "max_content_length": str(server.max_body_bytes),
            "max_resource_size": str(server.max_resource_bytes),
        },
        "rights": {"type": "bridge.rights"},
        "storage": {
            "type": "bridge.storage_plugin",
            "url": store.url,
            "max_occurrences": str(store.max_occurrences),
            "index_horizon_days": str(store.index_horizon_days),
            "change_retention_days": str(store.change_retention_days),
        },
        "web": {"type": "none"},
    }
    if server.auth == "none":
        values["auth"] = {"type": "none"}
    else:
        values["auth"] = {
            "type": "htpasswd",
            "htpasswd_filename": str(server.htpasswd),
            "htpasswd_encryption": "bcrypt",
        }
    for section, options in server.radicale_extra.items():
        values.setdefault(section, {}).update(options)
    configuration = radicale_config.load()
    configuration.update(values, str(settings.path))
    return configuration


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


def backend_factory(settings: Settings) -> BackendFactory:
    """Backends for the bindings of ``settings`` (one per process: it caches credentials)."""
    return BackendFactory(load_keyring(settings))


def make_app(settings: Settings) -> WSGIApp:
    """The WSGI application: Radicale with the bridge storage, hostile requests refused
    before any lock, refusals explained, and a request's writes committed only with a
    success answer."""
    open_store(settings)
    configuration = radicale_configuration(settings)
    radicale_app = commit_on_success(radicale.Application(configuration))
    app = ErrorDetails(RefusalStatus(radicale_app), explain=refusal_reason)
    guarded = RequestGuard(
        app,
        configuration=configuration,
        max_occurrences=settings.store.max_occurrences,
        horizon_days=settings.store.index_horizon_days,
    )
    return utf8_paths(guarded)


def start_sync_worker(settings: Settings, backend_for: BackendFactory) -> threading.Thread | None:
    """Run the sync scheduler beside the CalDAV server when bindings are configured."""
    if not any(user.bindings for user in settings.users):
        return None
    from bridge.cli_sync import scheduler_timing
    from bridge.sync.adopted import ConfiguredRules
    from bridge.sync.scheduler import Scheduler

    store = open_store(settings)
    scheduler = Scheduler(
        store,
        backend_for,
        ConfiguredRules(settings, load_keyring(settings)),
        timing=scheduler_timing(settings),
    )
    thread = threading.Thread(
        target=scheduler.run_forever, args=(threading.Event(),), name="sync", daemon=True
    )
    thread.start()
    log.info("sync worker started for %d binding(s)", sum(len(u.bindings) for u in settings.users))
    return thread


def start_api(settings: Settings, backend_for: BackendFactory) -> Callable[[], None]:
    """Serve the webhooks and /health ([api]); open and renew Google push channels.

    Channels are kept by this process only (the one that receives the webhooks), never by
    `bridge worker`. Returns the function that stops it all.
    """
    if not settings.api.enabled:
        return lambda: None
    from bridge.api.runner import start_in_thread
    from bridge.api.webhooks import webhook_app

    store = open_store(settings)
    app = webhook_app(store, coalesce_seconds=settings.api.push_coalesce_seconds)
    _, url, stop_http = start_in_thread(app, settings.api.host, settings.api.port)
    log.info("API on %s/", url)
    address = settings.api.google_webhook_url
    if not address or not any(b.kind == "google" for u in settings.users for b in u.bindings):
        return stop_http
    from bridge.sync.channels import keep_channels, stop_all

    done = threading.Event()
    threading.Thread(
        target=keep_channels,
        args=(store, backend_for, address, done),
        kwargs={
            "ttl_seconds": settings.api.channel_ttl_seconds,
            "renew_before": settings.api.renew_before_seconds,
        },
        name="push-channels",
        daemon=True,
    ).start()

    def stop() -> None:
        done.set()
        stop_all(store, backend_for)
        stop_http()

    return stop


def serve(settings: Settings, *, threads: int = 8) -> None:
    import waitress

    radicale_log.setup()
    radicale_log.set_level("info", False)
    app = make_app(settings)
    for problem in permission_problems(settings):
        log.warning("%s", problem)
    backends = backend_factory(settings)
    start_sync_worker(settings, backends)
    stop_api = start_api(settings, backends)
    log.info("CalDAV on http://%s:%d/", settings.server.host, settings.server.port)
    try:
        waitress.serve(
            app,
            host=settings.server.host,
            port=settings.server.port,
            threads=threads,
            max_request_body_size=settings.server.max_body_bytes,
            ident="crm-calendar-bridge",
        )
    finally:
        stop_api()
