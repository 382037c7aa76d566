"""The registry of binding kinds: each kind's settings schema, its constructor and its push
receiver, declared in the kind's own package (bridge/backends/<kind>/).

The constructor takes a typed ``BindingSpec`` (what the config file and the store say of
one binding, secrets opened), never a database row. A kind joins by registering a
``BackendKind`` here; tests may ``register`` a kind of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from bridge.backends.base import Backend, PushReceiver
from bridge.backends.caldav.settings import CALDAV
from bridge.backends.caldav.settings import make as make_caldav
from bridge.backends.exchange.settings import EXCHANGE
from bridge.backends.exchange.settings import make as make_exchange
from bridge.backends.google.settings import GOOGLE
from bridge.backends.graph.settings import GRAPH
from bridge.backends.graph.settings import make as make_graph
from bridge.backends.settings_schema import KindSchema


class BindingConfigError(ValueError):
    """The binding's settings or stored credentials cannot make a backend."""


class SecretCell(Protocol):
    """The binding's stored secret as it is now (bridge.sync.stored_secret): for a backend
    whose service rotates credentials on use (a refresh token), shared by processes."""

    def read(self) -> Mapping[str, Any]:
        """The stored secret now ({} when none)."""
        ...

    def swap(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
        """Store ``new`` only while the stored secret is ``old``; whether it was stored."""
        ...


@dataclass(frozen=True)
class BindingSpec:
    """One binding as a backend constructor needs it: its id and user, its kind, its
    ``[users.bindings.backend]`` settings and its stored secret (both decrypted).
    ``cell``: the stored secret itself, when the backend is made with a store at hand."""

    id: int
    login: str
    kind: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    secret: Mapping[str, Any] = field(default_factory=dict)
    cell: SecretCell | None = None


@dataclass(frozen=True)
class BackendKind:
    """A kind of binding: its settings schema, how to make its backend (raising
    BindingConfigError naming the problem) and, when it offers push, how its webhook
    requests are read."""

    schema: KindSchema
    make: Callable[[BindingSpec], Backend] | None = None
    receiver: PushReceiver | None = None

    @property
    def kind(self) -> str:
        return self.schema.kind


def _google(spec: BindingSpec) -> Backend:
    from bridge.backends.google.make import make_google  # the client library loads on use

    return make_google(spec)


def _builtin() -> dict[str, BackendKind]:
    from bridge.backends.exchange.push import ExchangeReceiver
    from bridge.backends.google.push import GoogleReceiver
    from bridge.backends.graph.push import GraphReceiver

    return {
        GOOGLE.kind: BackendKind(GOOGLE, make=_google, receiver=GoogleReceiver()),
        CALDAV.kind: BackendKind(CALDAV, make=make_caldav),
        GRAPH.kind: BackendKind(GRAPH, make=make_graph, receiver=GraphReceiver()),
        # exchangelib loads on use (the receiver reads SOAP with defusedxml alone)
        EXCHANGE.kind: BackendKind(EXCHANGE, make=make_exchange, receiver=ExchangeReceiver()),
    }


_KINDS: dict[str, BackendKind] = _builtin()


def register(entry: BackendKind | KindSchema) -> None:
    """Make ``entry``'s kind a valid binding kind (replacing one of the same name)."""
    if isinstance(entry, KindSchema):
        entry = BackendKind(entry)
    _KINDS[entry.kind] = entry


def kinds() -> tuple[str, ...]:
    return tuple(sorted(_KINDS))


def kind_of(kind: str) -> BackendKind:
    """The registered ``kind``; KeyError if no such kind is registered."""
    return _KINDS[kind]


def schema_for(kind: str) -> KindSchema:
    """The schema of ``kind``; KeyError if no such kind is registered."""
    return _KINDS[kind].schema
