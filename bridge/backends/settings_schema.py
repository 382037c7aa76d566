"""The vocabulary of a backend kind's settings schema: which keys ``[users.bindings.backend]``
may hold for that kind, their types, and which of them name the remote calendar.

Each kind declares its schema next to its backend (``google_settings.py`` for Google) and
registers it in ``bridge/backends/kinds.py``; the config loader asks the kind's schema, so a
misspelt key is refused when the file loads instead of being dropped when a round runs.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "a boolean"}
_VALUE_NAMES = {str: "string", int: "integer", float: "float"}


@dataclass(frozen=True)
class Setting:
    """One key: its type (an int is accepted where a float is asked), whether it names the
    remote calendar or account (``identity``: changing it starts a new pairing), and
    whether it is secret (encrypted at rest, never shown in a message), and whether it
    names a file that must stay private (``private_file``: ``bridge check`` reports it when
    its group or others can read it), and what else a value must satisfy (``validate``)."""

    type: type = str
    identity: bool = False
    secret: bool = False
    private_file: str = ""  # what the file is, in words ("" = not a private file)
    #: A further check of a value of the right type: why it cannot work, or None (the
    #: Exchange URL refuses an Exchange Online host, naming the graph kind).
    validate: Callable[[Any], str | None] | None = None

    def check(self, value: Any) -> str | None:
        """Why ``value`` does not fit, or None."""
        wanted = (int, float) if self.type is float else (self.type,)
        if isinstance(value, bool) and self.type is not bool:
            return f"expected {_TYPE_NAMES[self.type]}, got boolean {str(value).lower()}"
        if not isinstance(value, wanted):
            got = _VALUE_NAMES.get(type(value), type(value).__name__)
            return f"expected {_TYPE_NAMES[self.type]}, got {got} {value!r}"
        return self.validate(value) if self.validate is not None else None


@dataclass(frozen=True)
class KindSchema:
    """The settings a kind of binding accepts."""

    kind: str
    settings: Mapping[str, Setting] = field(default_factory=dict)
    #: The remote account a binding's settings name: what the service counts its limits
    #: against (a Google user, a Graph tenant and app ...), or None when they name none
    #: (the binding is an account of its own). See ``account_of``.
    account: Callable[[Mapping[str, Any]], str | None] | None = None

    def problem(self, key: str, value: Any) -> str | None:
        """Why ``key = value`` is not a setting of this kind, or None."""
        setting = self.settings.get(key)
        if setting is None:
            close = difflib.get_close_matches(key, list(self.settings), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            return f"unknown key for a {self.kind} binding{hint}"
        return setting.check(value)

    def identity(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """The settings that name the remote calendar (a change means a new pairing)."""
        return {k: settings.get(k) for k, s in sorted(self.settings.items()) if s.identity}

    def private_files(self, settings: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(path, what it is) of every private file ``settings`` name."""
        return [
            (value, setting.private_file)
            for key, setting in sorted(self.settings.items())
            if setting.private_file and isinstance(value := settings.get(key), str)
        ]

    def account_of(self, settings: Mapping[str, Any]) -> str | None:
        """``kind:account`` of a binding with ``settings`` (at most 255 characters: a long
        one is hashed), or None: bindings of one account share ``[sync] rounds_per_account``.
        """
        name = self.account(settings) if self.account is not None else None
        if not name:
            return None
        text = f"{self.kind}:{name}"
        if len(text) > 255:
            text = f"{self.kind}:sha256:{hashlib.sha256(name.encode()).hexdigest()}"
        return text

    def is_secret(self, key: str) -> bool:
        setting = self.settings.get(key)
        return setting is not None and setting.secret
