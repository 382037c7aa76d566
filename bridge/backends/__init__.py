"""Calendar backends: each translates one service's wire to RemoteEvent and back."""

from bridge.backends.base import (
    Backend,
    BackendError,
    NotFound,
    PreconditionFailed,
    RemoteAttendee,
    RemoteEvent,
    RemoteOverride,
    ResyncRequired,
    inbound_fields,
    meeting_to_remote,
)

__all__ = [
    "Backend",
    "BackendError",
    "NotFound",
    "PreconditionFailed",
    "RemoteAttendee",
    "RemoteEvent",
    "RemoteOverride",
    "ResyncRequired",
    "inbound_fields",
    "meeting_to_remote",
]
