"""The keyring of a configuration: keys read from ``[secrets]`` (bridge.config.secrets).

Problems are ConfigErrors naming the config file, the ``secrets.*`` key and the reason;
the keys themselves never appear in a message.
"""

from __future__ import annotations

import logging
import os

from bridge.config import ConfigError, Settings
from bridge.file_modes import create_private_file
from bridge.secret_box import KeyFormatError, Keyring, generate_key, parse_keys

log = logging.getLogger("bridge.secrets")


def keys_from_env(name: str) -> list[str]:
    """The keys in environment variable ``name``; KeyFormatError when unset or malformed."""
    value = os.environ.get(name, "")
    if not value.strip():
        raise KeyFormatError(f"environment variable {name} is not set or empty")
    return parse_keys(value)


def load_keyring(settings: Settings) -> Keyring:
    """The keys ``settings`` name; creates the default key file at first start."""
    secrets = settings.secrets
    file = str(settings.path)
    if secrets.key_env:
        try:
            return Keyring(keys_from_env(secrets.key_env))
        except KeyFormatError as error:
            raise ConfigError(file, "secrets.key_env", str(error)) from None
    path = secrets.key_file
    if path is None:
        raise ConfigError(file, "secrets", "no key configured: set key_file or key_env")
    if secrets.create_key_file and create_private_file(path, f"{generate_key()}\n".encode()):
        log.warning("created a new secret key in %s (keep it: stored credentials need it)", path)
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise ConfigError(file, "secrets.key_file", f"key file not found: {path}") from None
    except (OSError, UnicodeError) as error:
        reason = getattr(error, "strerror", None) or "not a text file of keys"
        raise ConfigError(file, "secrets.key_file", f"cannot read {path}: {reason}") from None
    try:
        keys = parse_keys(text)
        if not keys:
            raise KeyFormatError("it holds no key")
        return Keyring(keys)
    except KeyFormatError as error:
        raise ConfigError(file, "secrets.key_file", f"{path}: {error}") from None
