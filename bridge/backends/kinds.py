"""The registry of binding kinds: each kind's settings schema, declared next to its backend.

A kind joins by adding its schema here (exchange, graph and caldav will). Tests may
``register`` a kind of their own.
"""

from __future__ import annotations

from bridge.backends.google.settings import GOOGLE
from bridge.backends.settings_schema import KindSchema

_SCHEMAS: dict[str, KindSchema] = {GOOGLE.kind: GOOGLE}


def register(schema: KindSchema) -> None:
    """Make ``schema.kind`` a valid binding kind (replacing one of the same name)."""
    _SCHEMAS[schema.kind] = schema


def kinds() -> tuple[str, ...]:
    return tuple(sorted(_SCHEMAS))


def schema_for(kind: str) -> KindSchema:
    """The schema of ``kind``; KeyError if no such kind is registered."""
    return _SCHEMAS[kind]
