"""The `[secrets]` table: where the keys that encrypt stored credentials come from.

```toml
[secrets]
key_file = "/etc/bridge/secret.key"   # one Fernet key a line; the first encrypts
# or
key_env = "BRIDGE_SECRET_KEY"         # the keys in an environment variable, comma-separated
```

Set one of the two. Without a ``[secrets]`` table the bridge uses ``secret.key`` in the
SQLite database's directory (with MySQL: in the config file's directory) and creates it
(0600, one new key) at first start; a ``key_file`` named explicitly must exist, so a
mistyped path never silently starts a new key. A relative ``key_file`` is resolved
against the config file's directory. bridge.secret_keys loads the keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.config.validators import _Problem, _string, table_values

DEFAULT_KEY_FILE = "secret.key"
_ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]*"


@dataclass(frozen=True)
class SecretsSettings:
    #: File holding the keys (absolute once loaded); None when the keys come from key_env.
    key_file: Path | None = None
    #: Environment variable holding the keys ("" when they come from key_file).
    key_env: str = ""
    #: Create key_file with a new key when it is missing (only for the default file).
    create_key_file: bool = False


_KEYS = {
    "key_file": _string(nonempty=True),
    "key_env": _string(pattern=_ENV_NAME, what="environment variable name"),
}


def default_key_file(store_url: str, base_dir: Path) -> Path:
    """Where the key file is made when none is configured: beside the SQLite database."""
    from bridge.store.engine import sqlite_path  # lazily: keeps `import bridge.config` light

    database = sqlite_path(store_url)
    return (database.absolute().parent if database else base_dir) / DEFAULT_KEY_FILE


def parse_secrets(data: Any, base_dir: Path, store_url: str) -> SecretsSettings:
    """Validate the ``[secrets]`` table (absent: the default key file, created if needed)."""
    values = table_values(data, "secrets", _KEYS)
    if "key_file" in values and "key_env" in values:
        raise _Problem(
            "secrets.key_env", "set either secrets.key_file or secrets.key_env, not both"
        )
    if "key_env" in values:
        return SecretsSettings(key_env=values["key_env"])
    if "key_file" not in values:
        return SecretsSettings(key_file=default_key_file(store_url, base_dir), create_key_file=True)
    path = Path(values["key_file"]).expanduser()
    path = path if path.is_absolute() else base_dir / path
    if not path.is_file():
        raise _Problem(
            "secrets.key_file",
            f"key file not found: {path} (make one: `bridge secrets generate-key > {path}` "
            f"then `chmod 600 {path}`)",
        )
    return SecretsSettings(key_file=path)
