"""The sync commands of `bridge`: status, sync, worker, check, google authorize, graph
authorize."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

# Each command imports what it runs: `bridge` builds every command's parser, and a command
# should not pay for the others' imports at start-up (tests/unit/test_cli_imports.py).
if TYPE_CHECKING:
    from bridge.progress import Reporter
    from bridge.store import Store
    from bridge.store.bindings import BindingRow
    from bridge.wiring import Wiring


def _open(args: argparse.Namespace) -> tuple[Wiring, Store]:
    """The process's wiring and store; the store keeps the configuration it adopted last
    (only `serve` and `db upgrade` adopt one), new bindings are added."""
    from bridge.config import load_config
    from bridge.wiring import Wiring

    wiring = Wiring(load_config(args.config))
    return wiring, wiring.store(adopt=False)


def _when(epoch: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch)) if epoch else "never"


def cmd_status(args: argparse.Namespace) -> int:
    from bridge.sync.status import status_views

    wiring, store = _open(args)
    views = status_views(store, wiring.rules())
    if not views:
        print("no bindings configured")
        return 0
    for view in views:
        print(f"{view.login}/{view.name} ({view.kind})")
        if view.retired_at is not None:
            print(f"  not in the configuration since {_when(view.retired_at)}: it does not sync;")
            print("  `bridge bindings prune --config FILE` deletes it and its links")
        elif view.refused:
            print(f"  refused here: {view.refused}")
        print(f"  state:        {view.state}")
        print(f"  last success: {_when(view.last_success_at)}")
        print(f"  running:      {view.running}")
        if view.last_error:
            print(f"  last error:   {_when(view.last_error_at)}: {view.last_error}")
        if view.failures:
            print(f"  failures:     {view.failures} in a row, next try {_when(view.next_run_at)}")
        if view.channel_expires_at:
            print(f"  push channel: open until {_when(view.channel_expires_at)}")
        if view.quarantined:
            latest = _when(view.quarantine_at)
            print(f"  quarantined:  {view.quarantined} event(s); latest {latest}:")
            print(f"                {view.quarantine_reason}")
    return 0


def _selected(store: Store, login: str, name: str | None) -> list[BindingRow]:
    from bridge.store import bindings as binding_store

    rows = store.read(lambda conn: binding_store.by_login(conn, login, name))
    if not rows:
        what = f"binding {name!r} of user {login!r}" if name else f"bindings for user {login!r}"
        raise SystemExit(f"bridge: no {what} in the configuration")
    return rows


class Busy(Exception):
    """Another live worker kept the binding for longer than we were to wait."""


def _run_waiting(
    scheduler: Any, store: Store, row: BindingRow, wait: float, progress: Reporter
) -> Any:
    """Run one round of the binding, waiting up to ``wait`` seconds for its lease."""
    from bridge.store import bindings as binding_store
    from bridge.sync.lease import state_of

    label = f"{row.login}/{row.name}"
    deadline = time.monotonic() + wait
    told = False
    steps = {"pull": "events pulled", "push": "changes planned", "create": "copies created"}

    def told_progress(step: str, done: int, total: int) -> None:
        progress(f"{label}: {steps.get(step, step)}", done, total)

    while True:
        report = scheduler.run_binding(row.id, progress=told_progress)
        if report is not None:
            return report
        now_row = store.read(lambda conn: binding_store.get(conn, row.id))
        if now_row is None:
            raise LookupError(f"binding {label} was removed")
        held = state_of(now_row)
        if held is not None:
            busy = f"binding {label} is being synced by {held.holder_text()}"
        else:
            account, limit = now_row.account, scheduler.timing.rounds_per_account
            running = 0
            if account is not None:
                running = store.read(lambda c, a=account: binding_store.account_rounds(c, a))
            if running < limit:
                continue  # released meanwhile: try again at once
            busy = (
                f"binding {label} waits for a round of its remote account {account} "
                f"({running} running, [sync] rounds_per_account = {limit})"
            )
        left = deadline - time.monotonic()
        if left <= 0:
            raise Busy(f"{busy}; gave up after waiting {wait:g} s")
        if not told:
            print(f"{busy}; waiting up to {wait:g} s", file=sys.stderr, flush=True)
            told = True
        time.sleep(min(0.25, left))


#: Exit status when a binding stayed busy for the whole wait (EX_TEMPFAIL: try later).
EXIT_BUSY = 75


def cmd_sync(args: argparse.Namespace) -> int:
    """One round per selected binding; never exits 0 without having run them all."""
    wiring, store = _open(args)
    scheduler = wiring.scheduler(store)
    try:
        return _sync_selected(args, store, scheduler)
    finally:
        scheduler.close()


def _sync_selected(args: argparse.Namespace, store: Store, scheduler: Any) -> int:
    from bridge.progress import reporter
    from bridge.sync.adopted import BindingRefused

    status = 0
    for row in _selected(store, args.login, args.binding):
        label = f"{row.login}/{row.name}"
        try:
            with reporter("") as progress:
                report = _run_waiting(scheduler, store, row, args.wait, progress)
        except Busy as busy:
            print(f"bridge: {busy}", file=sys.stderr)
            status = status or EXIT_BUSY
            continue
        except BindingRefused as error:
            print(f"{label}: refused: {error}", file=sys.stderr)
            status = 1
            continue
        except Exception as error:  # noqa: BLE001 - reported per binding
            print(f"{label}: failed: {error}", file=sys.stderr)
            status = 1
            continue
        print(
            f"{label}: pulled {report.pulled}, pushed {report.pushed}"
            + (" (full resync)" if report.resync else "")
        )
        for problem in report.errors:
            print(f"{label}: {problem}", file=sys.stderr)
    return status


def _metrics_listener(args: argparse.Namespace, wiring: Wiring, store: Store) -> Any:
    """Start the worker's /metrics listener when asked (``--metrics-listen`` over
    ``[worker] metrics_listen``); returns its stop function, or None."""
    from bridge.config import ConfigError

    settings = wiring.settings
    flag = args.metrics_listen
    listen = settings.worker.metrics_listen if flag is None else flag[0]
    if listen is None:
        return None
    from bridge.api.worker_metrics import start_metrics

    try:
        _, stop = start_metrics(store, wiring.admin_gate(), listen)
    except OSError as error:
        where = str(settings.path) if flag is None else "(command line)"
        key = "worker.metrics_listen" if flag is None else "--metrics-listen"
        reason = f"cannot listen on {listen}: {error.strerror or error}"
        raise ConfigError(where, key, reason) from None
    return stop


def cmd_worker(args: argparse.Namespace) -> int:
    from bridge.reload import Reloadable, pid_file

    wiring, store = _open(args)
    stop_metrics = _metrics_listener(args, wiring, store)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    scheduler = wiring.scheduler(store)
    live = Reloadable(wiring, adopt=False)  # SIGHUP: rules and bindings read again
    scheduler.rules_for = live.rules()
    live.attach(scheduler)
    live.on_sighup()
    try:
        with pid_file(wiring.settings, "worker"):
            scheduler.run_forever(stop, tick_seconds=args.tick)
    finally:
        scheduler.close()  # every kept backend closed once
        if stop_metrics is not None:
            stop_metrics()
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Every binding's credentials, then the modes of the files that must stay private."""
    from bridge.backends.kinds import BindingConfigError
    from bridge.file_checks import permission_problems
    from bridge.store import bindings as binding_store

    wiring, store = _open(args)
    settings = wiring.settings
    backend_for = wiring.backends(store)
    problems = 0
    for row in store.read(binding_store.all_bindings):
        label = f"{row.login}/{row.name} ({row.kind})"
        try:
            backend = backend_for(row)
        except BindingConfigError as error:
            problem: str | None = str(error)
        else:
            try:
                problem = backend.check()
            finally:
                backend.close()
        print(f"{label}: {problem or 'ok'}")
        problems += bool(problem)
    too_open = permission_problems(settings)
    for found in too_open:
        print(f"permissions: {found}")
    if not too_open:
        print("permissions: ok")
    return 1 if problems or too_open else 0


def _authorizing(args: argparse.Namespace, kind: str) -> tuple[Wiring, Store, BindingRow, dict]:
    """The binding ``bridge <kind> authorize`` names, checked to be of ``kind``, with its
    settings opened: (wiring, store, row, settings)."""
    from bridge.store import binding_secrets

    wiring, store = _open(args)
    row = _selected(store, args.login, args.binding)[0]
    if row.kind != kind:
        raise SystemExit(f"bridge: binding {row.login}/{row.name} is {row.kind}, not {kind}")
    try:
        settings = binding_secrets.open_settings(row, wiring.keyring)
    except binding_secrets.UnreadableSecret as error:
        raise SystemExit(f"bridge: {error}") from None
    return wiring, store, row, settings


def cmd_google_authorize(args: argparse.Namespace) -> int:
    """Print the consent URL, read back the code, store the refresh token."""
    from bridge.backends.google.authorize import AuthorizeError, authorize
    from bridge.store import binding_secrets

    wiring, store, row, settings = _authorizing(args, "google")
    label = f"{row.login}/{row.name}"

    def ask(url: str) -> str:
        print("Open this address, consent, then paste the address you were sent to (or its code):")
        print(url, flush=True)
        return sys.stdin.readline()

    try:
        secret = authorize(settings, args.email or "", ask)
    except AuthorizeError as error:
        text = str(error)
        where = f"binding {label}: " if text.startswith("backend.") else ""
        raise SystemExit(f"bridge: {where}{text}") from None
    store.write(lambda tx: binding_secrets.set_secret(tx, row.id, secret, wiring.keyring))
    print(f"stored the refresh token for {label}")
    return 0


def cmd_graph_authorize(args: argparse.Namespace) -> int:
    """Device-code sign-in for a delegated graph binding; store the refresh token."""
    from bridge.backends.graph.authorize import AuthorizeError, authorize
    from bridge.store import binding_secrets

    wiring, store, row, settings = _authorizing(args, "graph")
    label = f"{row.login}/{row.name}"
    try:
        secret = authorize(settings, lambda text: print(text, flush=True))
    except AuthorizeError as error:
        text = str(error)
        where = f"binding {label}: " if text.startswith("backend.") else ""
        raise SystemExit(f"bridge: {where}{text}") from None
    store.write(lambda tx: binding_secrets.set_secret(tx, row.id, secret, wiring.keyring))
    print(f"stored the refresh token for {label}")
    return 0


#: How long `bridge sync` waits for another worker's round by default.
DEFAULT_WAIT = 60


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 86400:
        raise argparse.ArgumentTypeError(f"{text!r}: give 0 to 86400 seconds")
    return value


def _listen(text: str) -> tuple[Any]:
    """``--metrics-listen HOST:PORT`` (or "off"), checked as the config key is."""
    from bridge.config.validators import _Problem
    from bridge.config.worker import parse_listen

    try:
        return (parse_listen(text, "--metrics-listen"),)
    except _Problem as problem:
        raise argparse.ArgumentTypeError(problem.reason) from None


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    status = commands.add_parser("status", parents=[common], help="sync status per binding")
    status.set_defaults(func=cmd_status)
    sync = commands.add_parser("sync", parents=[common], help="run a sync round for a user now")
    sync.add_argument("login")
    sync.add_argument("--binding", help="only this binding of the user")
    sync.add_argument(
        "--wait",
        type=_seconds,
        default=DEFAULT_WAIT,
        metavar="SECONDS",
        help="how long to wait for a binding another worker is syncing "
        f"(default {DEFAULT_WAIT}); then exit {EXIT_BUSY}",
    )
    sync.set_defaults(func=cmd_sync)
    worker = commands.add_parser("worker", parents=[common], help="run sync rounds until stopped")
    worker.add_argument("--tick", type=float, default=1.0, help="seconds between passes")
    worker.add_argument(
        "--metrics-listen",
        type=_listen,
        metavar="HOST:PORT",
        help='serve /metrics here ("off": nowhere); default [worker] metrics_listen',
    )
    worker.set_defaults(func=cmd_worker)
    check = commands.add_parser("check", parents=[common], help="try every binding's credentials")
    check.set_defaults(func=cmd_check)
    google = commands.add_parser("google", help="Google Calendar bindings")
    google_commands = google.add_subparsers(dest="google_command", required=True)
    authorize = google_commands.add_parser(
        "authorize", parents=[common], help="obtain and store a user's refresh token"
    )
    authorize.add_argument("login")
    authorize.add_argument("--binding", help="the binding name (default: the user's first)")
    authorize.add_argument("--email", help="login hint for the consent page")
    authorize.set_defaults(func=cmd_google_authorize)
    graph = commands.add_parser("graph", help="Microsoft 365 (Graph) bindings")
    graph_commands = graph.add_subparsers(dest="graph_command", required=True)
    graph_authorize = graph_commands.add_parser(
        "authorize",
        parents=[common],
        help="sign a user in with a device code and store their refresh token",
    )
    graph_authorize.add_argument("login")
    graph_authorize.add_argument("--binding", help="the binding name (default: the user's first)")
    graph_authorize.set_defaults(func=cmd_graph_authorize)
