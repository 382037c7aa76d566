"""The `bridge` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bridge.cli_api import add_api_commands
from bridge.cli_bindings import add_commands as add_bindings_commands
from bridge.cli_invite import add_commands as add_invite_commands
from bridge.cli_move import add_commands as add_move_commands
from bridge.cli_secrets import add_commands as add_secrets_commands
from bridge.cli_sync import add_commands as add_sync_commands
from bridge.cli_wait import add_commands as add_wait_commands
from bridge.config import ConfigError, Settings, load_config

DEFAULT_CONFIG = "config/bridge.toml"


def _settings(args: argparse.Namespace) -> Settings:
    return load_config(args.config)


def cmd_serve(args: argparse.Namespace) -> int:
    from bridge.server import serve

    serve(_settings(args), threads=args.threads)
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from bridge.store.migrate import current_revision
    from bridge.wiring import open_store

    store = open_store(_settings(args))
    print(f"database at revision {current_revision(store.engine)}")
    return 0


def cmd_db_prune(args: argparse.Namespace) -> int:
    from bridge.wiring import open_store

    floor = open_store(_settings(args)).prune_changes()
    print(f"change log pruned; sync tokens older than position {floor} are now invalid")
    return 0


def cmd_reload(args: argparse.Namespace) -> int:
    """Signal the running `bridge serve` / `bridge worker` of this configuration to read it
    again; a file with a mistake is refused here, before anything is signalled."""
    from bridge.reload import signal_running

    settings = _settings(args)
    signalled = signal_running(settings)
    if not signalled:
        where = settings.server.run_dir or settings.path.parent
        print(f"bridge: no running bridge serve or worker found (pid files in {where})")
        return 1
    for role, pid in signalled:
        print(f"asked bridge {role} (pid {pid}) to reload {settings.path}")
    return 0


def _long_running() -> tuple[object, ...]:
    from bridge.cli_api import cmd_api
    from bridge.cli_sync import cmd_worker

    return (cmd_serve, cmd_worker, cmd_api)


def _setup_logging(args: argparse.Namespace) -> None:
    """The log of ``[logging]`` for every command that reads a configuration (a broken file
    is reported by the command itself)."""
    from bridge import log_setup

    if getattr(args, "config", None) is None:
        return
    try:
        settings = load_config(args.config)
        log_setup.setup(settings, one_shot=args.func not in _long_running())
    except ConfigError:
        pass


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", default=DEFAULT_CONFIG, help=f"TOML settings file (default {DEFAULT_CONFIG})"
    )
    parser = argparse.ArgumentParser(prog="bridge", description="CRM calendar bridge")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", parents=[common], help="run the CalDAV server")
    serve.add_argument("--threads", type=int, default=8, help="worker threads (default 8)")
    serve.set_defaults(func=cmd_serve)
    db = commands.add_parser("db", help="database schema and maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser(
        "upgrade", parents=[common], help="migrate the schema to the newest revision"
    ).set_defaults(func=cmd_db_upgrade)
    db_commands.add_parser(
        "prune", parents=[common], help="drop change-log rows past retention"
    ).set_defaults(func=cmd_db_prune)
    commands.add_parser(
        "reload", parents=[common], help="make the running serve and workers re-read the config"
    ).set_defaults(func=cmd_reload)
    add_move_commands(db_commands, common)
    add_wait_commands(db_commands, common)
    add_sync_commands(commands, common)
    add_secrets_commands(commands, common)
    add_bindings_commands(commands, common)
    add_api_commands(commands, common)
    add_invite_commands(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _setup_logging(args)
        return args.func(args)
    except ConfigError as error:
        print(f"bridge: configuration error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
