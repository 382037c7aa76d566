"""`bridge api`: the HTTP API (REST, webhooks, /status, /metrics) in a process of its own,
and the key helpers.

- ``bridge api``: serve ``[api]`` alone. It needs ``api.standalone = true``, which also
  keeps `bridge serve` from serving the API: this process, not `bridge serve`, then opens
  and renews the push channels, so exactly one process does. SIGHUP reloads (bindings and
  rules; ``[api]`` itself, keys included, needs a restart), SIGTERM/SIGINT stop it.
- ``bridge api new-key``: print a fresh key and the ``hash`` line for ``[[api.keys]]``.
- ``bridge api hash-key``: read a key on stdin, print its ``sha256:`` hash.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

log = logging.getLogger("bridge")


def cmd_api(args: argparse.Namespace) -> int:
    from bridge.config import ConfigError, load_config
    from bridge.reload import Reloadable, pid_file
    from bridge.server import start_api
    from bridge.wiring import Wiring

    settings = load_config(args.config)
    if not settings.api.enabled or not settings.api.standalone:
        raise ConfigError(
            str(settings.path),
            "api.standalone",
            "`bridge api` needs api.enabled = true and api.standalone = true (without "
            "standalone, `bridge serve` serves the API and keeps the push channels)",
        )
    live = Reloadable(Wiring(settings), adopt=False)
    stop_api = start_api(live)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    live.on_sighup()
    try:
        with pid_file(settings, "api"):
            while not done.wait(1.0):
                pass
    finally:
        stop_api()
    log.info("API stopped")
    return 0


def cmd_new_key(args: argparse.Namespace) -> int:
    from bridge.api.keys import hash_key, new_key

    key = new_key()
    print(f"key (give it to the API client; it is not shown again): {key}")
    print(f'for [[api.keys]] in the configuration:  hash = "{hash_key(key)}"')
    return 0


def cmd_hash_key(args: argparse.Namespace) -> int:
    from bridge.api.keys import hash_key

    key = sys.stdin.readline().strip()
    if not key:
        print("bridge: give the key on stdin (echo -n KEY | bridge api hash-key)", file=sys.stderr)
        return 2
    print(hash_key(key))
    return 0


def add_api_commands(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    api = commands.add_parser(
        "api", parents=[common], help="serve the HTTP API alone (api.standalone = true)"
    )
    api.set_defaults(func=cmd_api)
    keys = api.add_subparsers(dest="api_command")
    keys.add_parser(
        "new-key", parents=[common], help="print a new API key and its hash"
    ).set_defaults(func=cmd_new_key)
    keys.add_parser(
        "hash-key", parents=[common], help="print the hash of the key read on stdin"
    ).set_defaults(func=cmd_hash_key)
