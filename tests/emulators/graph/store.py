"""Mailboxes and their events (masters, singles, exceptions), ids, change sequence, records."""

from __future__ import annotations

import base64
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .errors import GraphError, item_not_found

IMMUTABLE_PREFIX = "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A"
REST_PREFIX = (
    "AAMkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OABGAAAAAAAiQ8W967B7TKBjgx9rVEURBwAi"
)
OCCURRENCE_PREFIX = "AAMkOcc"


def new_id(prefix: str) -> str:
    return prefix + base64.urlsafe_b64encode(secrets.token_bytes(24)).decode()


def occurrence_id(master_id: str, key: str) -> str:
    raw = f"{master_id}|{key}".encode()
    return OCCURRENCE_PREFIX + base64.urlsafe_b64encode(raw).decode()


def split_occurrence(event_id: str) -> tuple[str, str] | None:
    if not event_id.startswith(OCCURRENCE_PREFIX):
        return None
    try:
        raw = base64.urlsafe_b64decode(event_id[len(OCCURRENCE_PREFIX) :].encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    master, _, key = raw.rpartition("|")
    return (master, key) if master else None


@dataclass
class Stored:
    """One stored event: a single instance, a series master, or (in `overrides`) an exception."""

    immutable_id: str
    rest_id: str
    fields: dict[str, Any]  # writable Graph properties as written (subject, body, recurrence...)
    start: datetime  # aware, UTC
    end: datetime
    start_zone: str
    end_zone: str
    all_day: bool
    created: datetime
    modified: datetime
    organizer: dict[str, Any]
    is_organizer: bool
    ical_uid: str
    change: int = 1
    seq: int = 0  # mailbox change sequence of the last change to this record
    deleted: bool = False
    ext: dict[str, tuple[str, str]] = field(default_factory=dict)  # lower(id) -> (id, value)
    overrides: dict[str, Stored] = field(default_factory=dict)  # originalStart key -> exception
    cancelled: dict[str, int] = field(default_factory=dict)  # originalStart key -> seq
    instance_seq: dict[str, int] = field(default_factory=dict)  # per-occurrence change seq
    sequence: int = 0  # the meeting's iCalendar SEQUENCE: +1 per update mailed to attendees

    @property
    def recurring(self) -> bool:
        return bool(self.fields.get("recurrence"))

    @property
    def attendees(self) -> list[dict[str, Any]]:
        return list(self.fields.get("attendees") or [])

    def etag(self) -> str:
        return f'W/"{self.change_key()}"'

    def change_key(self) -> str:
        raw = f"{self.immutable_id}:{self.change}".encode()
        return "DwAAABYAAAA" + base64.urlsafe_b64encode(raw[-18:]).decode()


@dataclass
class Mailbox:
    upn: str
    user_id: str
    tenant_id: str
    enabled: bool = True  # False: user without an Exchange Online mailbox
    events: dict[str, Stored] = field(default_factory=dict)  # by immutable id
    rest: dict[str, str] = field(default_factory=dict)  # rest id -> immutable id
    transactions: dict[str, str] = field(default_factory=dict)  # transactionId -> immutable id
    seq: int = 0
    generation: int = 0  # bumped by expire_delta(): older delta/skip tokens answer 410

    def bump(self) -> int:
        self.seq += 1
        return self.seq

    def lookup(self, event_id: str) -> Stored | None:
        immutable = self.rest.get(event_id, event_id)
        stored = self.events.get(immutable)
        return stored

    def find_any(self, event_id: str) -> tuple[Stored, str | None]:
        """As find, a deleted event included (what a cancel or decline just removed)."""
        parts = split_occurrence(event_id)
        stored = self.lookup(parts[0] if parts is not None else event_id)
        if stored is None:
            raise item_not_found()
        return stored, parts[1] if parts is not None else None

    def find(self, event_id: str) -> tuple[Stored, str | None]:
        """(master or single, occurrence key or None) for any id kind; 404 when unknown/deleted."""
        parts = split_occurrence(event_id)
        if parts is not None:
            master = self.lookup(parts[0])
            if master is None or master.deleted or not master.recurring:
                raise item_not_found()
            if parts[1] in master.cancelled:
                raise item_not_found()
            return master, parts[1]
        stored = self.lookup(event_id)
        if stored is None or stored.deleted:
            raise item_not_found()
        return stored, None


@dataclass(frozen=True)
class Mail:
    """A write for which Exchange would have sent mail to attendees."""

    mailbox: str
    method: str
    event_id: str
    reason: str
    recipients: tuple[str, ...]


@dataclass(frozen=True)
class EventWrite:
    """One write of the API to an event (POST create, PATCH, DELETE, POST cancel|accept|...)."""

    mailbox: str
    method: str
    event_id: str  # the immutable id of the event (the master for an occurrence)


@dataclass(frozen=True)
class AttendeeWrite:
    mailbox: str
    method: str
    event_id: str
    attendees: tuple[str, ...]


class State:
    """Everything stored; `lock` guards it (HTTP handlers and test helpers share it)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.mailboxes: dict[str, Mailbox] = {}  # by lower-case UPN
        self.mailed: list[Mail] = []
        self.attendees_written: list[AttendeeWrite] = []
        self.event_writes: list[EventWrite] = []
        self.listeners: list[Callable[[Mailbox, str, str], None]] = []

    def now(self) -> datetime:
        return datetime.now(UTC)

    def add_mailbox(self, upn: str, tenant_id: str, *, enabled: bool = True) -> Mailbox:
        with self.lock:
            box = Mailbox(upn.lower(), str(uuid.uuid4()), tenant_id, enabled)
            self.mailboxes[box.upn] = box
            return box

    def mailbox(self, key: str) -> Mailbox | None:
        with self.lock:
            lowered = key.lower()
            if lowered in self.mailboxes:
                return self.mailboxes[lowered]
            return next((m for m in self.mailboxes.values() if m.user_id == lowered), None)

    def changed(self, box: Mailbox, change_type: str, event_id: str) -> None:
        """Tell subscriptions; called with the lock held, listeners must not block."""
        for listener in list(self.listeners):
            listener(box, change_type, event_id)


def invalid_user(key: str) -> GraphError:
    return GraphError(404, "ErrorInvalidUser", f"The requested user '{key}' is invalid.")


def mailbox_not_enabled() -> GraphError:
    return GraphError(
        404,
        "MailboxNotEnabledForRESTAPI",
        "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
    )
