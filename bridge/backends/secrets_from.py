"""Where a binding's password comes from, for every kind that logs in with one (caldav,
exchange): never the config file itself.

``password_file`` names a file holding it (whitespace around it dropped), ``password_env``
an environment variable; a password stored with the binding's secret
(``{"password": ...}``) is used when neither key is given. Errors name the key and the
file or variable, never the value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any


def password_from(settings: Mapping[str, Any], secret: Mapping[str, Any]) -> str:
    """The password ``settings`` point to (or the secret's); BindingConfigError naming what
    is missing or unreadable."""
    from bridge.backends.kinds import BindingConfigError

    if settings.get("password_file"):
        path = settings["password_file"]
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read().strip()
        except OSError as error:
            raise BindingConfigError(f"password_file {path!r}: {error.strerror}") from None
        if not text:
            raise BindingConfigError(f"password_file {path!r} is empty")
        return text
    if settings.get("password_env"):
        name = settings["password_env"]
        value = os.environ.get(name)
        if not value:
            raise BindingConfigError(f"password_env: environment variable {name} is not set")
        return value
    if secret.get("password"):
        return str(secret["password"])
    raise BindingConfigError("password_file or password_env is missing")
