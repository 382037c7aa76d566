"""Two-way sync between the store and users' own calendars.

This package module holds the vocabulary of sync: the two sides and the link plan.py
decides from, and the actions it returns (run by engine.py). rules.py holds the settings,
plan.py the pure decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from bridge.backends.base import Change, Deleted, RemoteEvent, RemoteOverride
from bridge.model import Meeting


class State(StrEnum):
    UNCHANGED = "unchanged"
    CREATED = "created"
    CHANGED = "changed"
    DELETED = "deleted"
    ABSENT = "absent"  # known not to exist on that side


@dataclass(frozen=True)
class Link:
    meeting_uid: str
    remote_id: str
    remote_etag: str = ""
    synced_hash: str | None = None
    synced_at: datetime | None = None


@dataclass(frozen=True)
class LocalSide:
    """The meeting in the store. ``meeting`` is required when created/changed, optional when
    unchanged, the last known state (if any) when deleted. ``origin`` is the binding that
    last wrote it; ``overrides`` the overridden instances' contents for outbound writes."""

    state: State
    meeting: Meeting | None = None
    modified_at: datetime | None = None
    origin: str = ""
    overrides: tuple[RemoteOverride, ...] = ()

    def __post_init__(self) -> None:
        if self.state in (State.CREATED, State.CHANGED) and self.meeting is None:
            raise ValueError(f"a {self.state} local side needs its meeting")
        if self.state is State.ABSENT and self.meeting is not None:
            raise ValueError("an absent local side has no meeting")


@dataclass(frozen=True)
class RemoteSide:
    """The remote event: a RemoteEvent when created or changed; when deleted, the Deleted
    the pull reported (or None when only the link knows it is gone). ``known_invite``: the
    engine found its id among the invites. ``seen_at``: when it was read (the list call),
    which dates a deletion without a time."""

    state: State
    event: Change | None = None
    known_invite: bool = False
    seen_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.state in (State.CREATED, State.CHANGED) and not isinstance(self.event, RemoteEvent):
            raise ValueError(f"a {self.state} remote side needs its event")
        if isinstance(self.event, Deleted) and self.state is not State.DELETED:
            raise ValueError("a Deleted event is a deleted remote side")
        if isinstance(self.event, RemoteEvent) and self.state is State.DELETED:
            raise ValueError("a deleted remote side carries a Deleted, not a RemoteEvent")
        if self.state is State.ABSENT and self.event is not None:
            raise ValueError("an absent remote side has no event")


@dataclass(frozen=True)
class PushCreate:
    """Create the calendar copy; the engine then records the link from the result."""

    meeting_uid: str
    event: RemoteEvent
    idempotency_key: str
    reason: str


@dataclass(frozen=True)
class PushUpdate:
    meeting_uid: str
    remote_id: str
    etag: str
    event: RemoteEvent
    reason: str


@dataclass(frozen=True)
class PushDelete:
    meeting_uid: str
    remote_id: str
    etag: str
    reason: str


@dataclass(frozen=True)
class PullCreate:
    """Create a meeting from the remote event, and its link, in one store transaction.
    ``uid`` set: restore the deleted meeting under that uid (its link stays)."""

    remote_id: str
    etag: str
    synced_hash: str
    fields: dict[str, Any]
    reason: str
    uid: str | None = None


@dataclass(frozen=True)
class PullUpdate:
    """Set ``fields`` on the meeting and refresh its link, in one store transaction."""

    meeting_uid: str
    remote_id: str
    etag: str
    synced_hash: str
    fields: dict[str, Any]
    reason: str


@dataclass(frozen=True)
class PullDelete:
    meeting_uid: str
    reason: str


@dataclass(frozen=True)
class RecordLink:
    meeting_uid: str
    remote_id: str
    etag: str
    synced_hash: str | None
    reason: str


@dataclass(frozen=True)
class DropLink:
    meeting_uid: str
    remote_id: str
    reason: str


@dataclass(frozen=True)
class Skip:
    reason: str


Action = (
    PushCreate
    | PushUpdate
    | PushDelete
    | PullCreate
    | PullUpdate
    | PullDelete
    | RecordLink
    | DropLink
    | Skip
)
PUSHES = (PushCreate, PushUpdate, PushDelete)
PULLS = (PullCreate, PullUpdate, PullDelete)
