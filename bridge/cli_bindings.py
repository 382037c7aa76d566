"""`bridge bindings prune`: delete the bindings that left the configuration, with their links."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the command imports the store when it runs (bridge.cli starts light)
    from bridge.store import Store

log = logging.getLogger("bridge")


def _stop_channel(store: Store, backend_for: Any, binding_id: int) -> None:
    """Stop the binding's push channel at the service, if it has one (best effort: an
    unstopped channel expires on its own and its notifications are answered 404 once it
    is gone)."""
    from bridge.store import bindings as binding_store
    from bridge.store import channels as channel_store

    channel = store.read(lambda conn: channel_store.for_binding(conn, binding_id))
    row = store.read(lambda conn: binding_store.get(conn, binding_id))
    if channel is None or row is None or not channel.resource_id:
        return
    from bridge.sync.channels import stop_channel
    from bridge.sync.pool import close_quietly

    try:
        backend = backend_for(row)
    except Exception as error:  # noqa: BLE001 - reported, the prune goes on
        print(f"  push channel not stopped ({error}); it expires on its own")
        return
    try:
        stop_channel(backend, channel)
    except Exception as error:  # noqa: BLE001 - reported, the prune goes on
        print(f"  push channel not stopped ({error}); it expires on its own")
    finally:
        close_quietly(backend, binding_id)


def cmd_prune(args: argparse.Namespace) -> int:
    from bridge.config import load_config
    from bridge.store import binding_config
    from bridge.wiring import Wiring

    wiring = Wiring(load_config(args.config))
    settings = wiring.settings
    store = wiring.store(adopt=False)
    configured = {(u.login, b.name) for u in settings.users for b in u.bindings}
    retired = store.read(binding_config.retired)
    if not retired:
        print("no retired bindings")
        return 0
    backend_for = wiring.backends(store)
    for row in retired:
        label = f"{row.login}/{row.name} ({row.kind})"
        if (row.login, row.name) in configured:
            print(
                f"{label}: kept: it is in {args.config} again; "
                f"`bridge db upgrade --config {args.config}` makes it sync again"
            )
            continue
        count = store.read(lambda conn, b=row.id: binding_config.link_count(conn, b))
        if args.dry_run:
            print(f"{label}: would delete it and its {count} link(s)")
            continue
        _stop_channel(store, backend_for, row.id)  # a remote call: before, not inside, the write
        if store.write(lambda tx, b=row.id: binding_config.delete_retired(tx, b)):
            print(f"{label}: deleted with its {count} link(s)")
        else:
            print(f"{label}: kept: it was adopted again meanwhile")
    return 0


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    group = commands.add_parser("bindings", help="bindings stored from the configuration")
    group_commands = group.add_subparsers(dest="bindings_command", required=True)
    prune = group_commands.add_parser(
        "prune",
        parents=[common],
        help="delete the bindings no longer in the configuration, with their links",
    )
    prune.add_argument("--dry-run", action="store_true", help="only say what would go")
    prune.set_defaults(func=cmd_prune)
