"""The `[[users.bindings]]` tables of the config file: a user's calendar backends and rules.

```toml
[[users.bindings]]
name = "google"            # unique per user
kind = "google"            # a registered kind (bridge/backends/kinds.py): google
[users.bindings.backend]   # backend settings (calendar, endpoints, credentials file ...)
calendar_id = "primary"
[users.bindings.rules]     # bridge.sync.rules.SyncRules: both directions, conflict policy
conflict_policy = "newest"
[users.bindings.rules.crm_to_calendar]
forward_days = 180
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bridge.backends import kinds
from bridge.config.validators import _choice, _Problem, _string, _unknown_message, _wrong_type
from bridge.sync.rules import SyncRules

_KEYS = ("name", "kind", "backend", "rules")
_SCALARS = (str, int, float, bool)


@dataclass(frozen=True)
class BindingSettings:
    name: str
    kind: str
    backend: dict[str, Any] = field(default_factory=dict)
    rules: SyncRules = field(default_factory=SyncRules)


def _backend_table(value: Any, key: str, kind: str) -> dict[str, Any]:
    """The backend settings, each key checked against the kind's declared schema."""
    if not isinstance(value, dict):
        raise _wrong_type("a table", value, key)
    schema = kinds.schema_for(kind)
    for name, item in value.items():
        if not isinstance(item, _SCALARS):
            raise _wrong_type("a string, number or boolean", item, f"{key}.{name}")
        problem = schema.problem(name, item)
        if problem:
            raise _Problem(f"{key}.{name}", problem)
    return dict(value)


def _rules(value: Any, key: str) -> SyncRules:
    try:
        return SyncRules.from_mapping(value, where=key)
    except ValueError as error:
        where, _, reason = str(error).partition(": ")
        if not reason:
            where, reason = key, str(error)
        raise _Problem(where if where.startswith(key) else f"{key}.{where}", reason) from None


def bindings(value: Any, key: str) -> tuple[BindingSettings, ...]:
    """Validate a user's array of binding tables."""
    if not isinstance(value, list):
        raise _wrong_type("an array of tables ([[users.bindings]])", value, key)
    found: list[BindingSettings] = []
    for i, entry in enumerate(value):
        where = f"{key}[{i}]"
        if not isinstance(entry, dict):
            raise _wrong_type("a table", entry, where)
        for name in entry:
            if name not in _KEYS:
                raise _Problem(f"{where}.{name}", _unknown_message("key", name, _KEYS))
        for required in ("name", "kind"):
            if required not in entry:
                raise _Problem(f"{where}.{required}", "missing required key")
        name = _string(pattern=r"[a-z0-9][a-z0-9._-]{0,63}", what="binding name")(
            entry["name"], f"{where}.name"
        )
        if any(b.name == name for b in found):
            raise _Problem(f"{where}.name", f"duplicate binding name {name!r}")
        kind = _choice(*kinds.kinds())(entry["kind"], f"{where}.kind")
        found.append(
            BindingSettings(
                name=name,
                kind=kind,
                backend=_backend_table(entry.get("backend", {}), f"{where}.backend", kind),
                rules=_rules(entry.get("rules", {}), f"{where}.rules"),
            )
        )
    return tuple(found)
