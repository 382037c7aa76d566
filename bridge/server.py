"""`bridge serve`: Radicale with the bridge storage and rights, behind waitress."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from radicale import config as radicale_config
from radicale import log as radicale_log

from bridge import log_setup
from bridge.config import Settings
from bridge.fastpath import FastApplication
from bridge.file_checks import permission_problems
from bridge.reload import Reloadable, pid_file
from bridge.rights import refusal_reason
from bridge.wiring import Wiring
from bridge.wsgi import ErrorDetails, WSGIApp, utf8_paths
from bridge.wsgi_commit import commit_on_success
from bridge.wsgi_guard import RequestGuard
from bridge.wsgi_metrics import measured
from bridge.wsgi_status import RefusalStatus

log = logging.getLogger("bridge")

#: How long a checked htpasswd login (or refusal) is remembered by the process.
LOGIN_CACHE_SECONDS = 15


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
        # A bcrypt check costs tens of ms and Radicale runs one on every request: keep a
        # login for a short time, as Radicale can (by login, with a salted SHA3-512 digest
        # of the password; refusals by that digest), and re-read the file only when its
        # size or mtime changes. A changed or removed password stops working within 15 s.
        values["auth"] = {
            "type": "htpasswd",
            "htpasswd_filename": str(server.htpasswd),
            "htpasswd_encryption": "bcrypt",
            "htpasswd_cache": "True",
            "cache_logins": "True",
            "cache_successful_logins_expiry": str(LOGIN_CACHE_SECONDS),
            "cache_failed_logins_expiry": str(LOGIN_CACHE_SECONDS),
        }
    for section, options in server.radicale_extra.items():
        values.setdefault(section, {}).update(options)
    configuration = radicale_config.load()
    configuration.update(values, str(settings.path))
    return configuration


def make_app(settings: Settings, wiring: Wiring | None = None) -> WSGIApp:
    """The WSGI application: Radicale with the bridge storage, hostile requests refused
    before any lock, refusals explained, and a request's writes committed only with a
    success answer. The store is opened through ``wiring`` (once per process)."""
    (wiring or Wiring(settings)).store()
    configuration = radicale_configuration(settings)
    radicale_app = commit_on_success(FastApplication(configuration))
    app = ErrorDetails(RefusalStatus(radicale_app), explain=refusal_reason)
    guarded = RequestGuard(
        app,
        configuration=configuration,
        max_occurrences=settings.store.max_occurrences,
        horizon_days=settings.store.index_horizon_days,
    )
    return measured(utf8_paths(guarded))


def start_sync_worker(live: Reloadable) -> Callable[[], None]:
    """Run the sync scheduler beside the CalDAV server (always: a reload may add the
    first binding; with none, a pass is one query).

    Returns the function that stops it and closes the backends it kept."""
    wiring = live.wiring
    scheduler = wiring.scheduler(wiring.store())
    scheduler.rules_for = live.rules()
    live.attach(scheduler)
    done = threading.Event()
    thread = threading.Thread(target=scheduler.run_forever, args=(done,), name="sync", daemon=True)
    thread.start()
    bindings = sum(len(u.bindings) for u in wiring.settings.users)
    log.info("sync worker started for %d binding(s)", bindings)

    def stop() -> None:
        done.set()
        thread.join(30)
        scheduler.close()

    return stop


def start_api(live: Reloadable) -> Callable[[], None]:
    """Serve the webhooks and /health ([api]); open and renew the push channels of the
    bindings whose backend offers push.

    Channels are kept by this process only (the one that receives the webhooks), never by
    `bridge worker`. Returns the function that stops it all.
    """
    wiring = live.wiring
    settings = wiring.settings
    if not settings.api.enabled:
        return lambda: None
    from bridge.api.runner import start_in_thread

    store = wiring.store()
    app = wiring.api_app(store, live.rules)
    _, url, stop_http = start_in_thread(app, settings.api.host, settings.api.port)
    log.info("API on %s/", url)
    base_url = wiring.push_base_url()
    if not base_url:
        return stop_http
    from bridge.api.webhooks import RENEWALS
    from bridge.sync.channels import keep_channels, stop_all

    backends = wiring.backends(store)
    done = threading.Event()
    threading.Thread(
        target=keep_channels,
        args=(store, backends, base_url, done),
        kwargs={
            "ttl_seconds": settings.api.channel_ttl_seconds,
            "renew_before": settings.api.renew_before_seconds,
            "requests": app[RENEWALS],
        },
        name="push-channels",
        daemon=True,
    ).start()

    def stop() -> None:
        done.set()
        stop_all(store, backends)
        stop_http()

    return stop


def _no_api() -> None:
    return None


def serve(settings: Settings, *, threads: int = 8) -> None:
    import waitress

    radicale_log.setup()
    radicale_log.set_level(settings.logging.level, False)
    log_setup.setup(settings)
    wiring = Wiring(settings)
    app = make_app(settings, wiring)
    for problem in permission_problems(settings):
        log.warning("%s", problem)
    live = Reloadable(wiring, adopt=True)
    stop_sync = start_sync_worker(live)
    stop_api = _no_api
    if settings.api.standalone:  # `bridge api` serves it and keeps the push channels
        log.info("API not served here: api.standalone = true (run `bridge api`)")
    else:
        stop_api = start_api(live)
    live.on_sighup()
    log.info("CalDAV on http://%s:%d/", settings.server.host, settings.server.port)
    try:
        with pid_file(settings, "serve"):
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
        stop_sync()
