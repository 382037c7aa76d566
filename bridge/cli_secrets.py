"""`bridge secrets generate-key` and `bridge secrets rotate`.

Rotating keys: put a new key (``generate-key``) first in the key file or variable, keep
the old ones after it, run ``rotate`` (every stored credential is re-encrypted with the
first key), then remove the old keys.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def cmd_generate_key(args: argparse.Namespace) -> int:
    from bridge.secret_box import generate_key

    print(generate_key())
    return 0


def cmd_rotate(args: argparse.Namespace) -> int:
    from bridge.config import load_config
    from bridge.secret_keys import load_keyring
    from bridge.store import binding_secrets
    from bridge.wiring import open_store

    settings = load_config(args.config)
    keyring = load_keyring(settings)
    store = open_store(settings)
    rotated, problems = store.write(lambda tx: binding_secrets.rotate(tx, keyring))
    print(f"re-encrypted the credentials of {rotated} binding(s) with the first key")
    for problem in problems:
        print(f"bridge: {problem}", file=sys.stderr)
    if problems:
        print(
            "bridge: keep the old keys until these bindings are fixed; the others no longer "
            "need them",
            file=sys.stderr,
        )
    return 1 if problems else 0


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    secrets = commands.add_parser("secrets", help="keys that encrypt stored credentials")
    secret_commands = secrets.add_subparsers(dest="secrets_command", required=True)
    secret_commands.add_parser(
        "generate-key", help="print a new random key (for [secrets] key_file or key_env)"
    ).set_defaults(func=cmd_generate_key)
    secret_commands.add_parser(
        "rotate", parents=[common], help="re-encrypt every stored credential with the first key"
    ).set_defaults(func=cmd_rotate)
