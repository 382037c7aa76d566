"""The emulator's state: calendars, their events, change sequence numbers and sync tokens."""

from __future__ import annotations

import base64
import copy
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from .errors import ApiError
from .times import format_updated


@dataclass
class StoredEvent:
    resource: dict[str, Any]
    idx: int  # creation order, the stable listing order
    seq: int  # calendar change number of the last write

    @property
    def id(self) -> str:
        return self.resource["id"]

    @property
    def cancelled(self) -> bool:
        return self.resource.get("status") == "cancelled"

    @property
    def recurring(self) -> bool:
        return bool(self.resource.get("recurrence")) and "recurringEventId" not in self.resource


@dataclass
class Calendar:
    id: str
    summary: str
    time_zone: str = "UTC"
    events: dict[str, StoredEvent] = field(default_factory=dict)
    seq: int = 0
    min_sync_seq: int = 0  # sync tokens older than this answer 410
    token_generation: int = 0

    @property
    def tz(self) -> tzinfo:
        return ZoneInfo(self.time_zone)

    def find(self, event_id: str) -> StoredEvent | None:
        return self.events.get(event_id)

    def by_ical_uid(self, uid: str) -> StoredEvent | None:
        for stored in self.events.values():
            if stored.resource.get("iCalUID") == uid and "recurringEventId" not in stored.resource:
                return stored
        return None

    def exceptions_of(self, master_id: str) -> list[StoredEvent]:
        return [s for s in self.events.values() if s.resource.get("recurringEventId") == master_id]

    def items(self) -> list[StoredEvent]:
        """Events as the emulator has them, a deep copy per event (safe to read in tests)."""
        return [StoredEvent(copy.deepcopy(s.resource), s.idx, s.seq) for s in self.events.values()]

    def sync_token(self, seq: int) -> str:
        raw = json.dumps({"c": self.id, "s": seq, "g": self.token_generation}).encode()
        return "CP" + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def read_sync_token(self, token: str) -> int:
        gone = ApiError(410, "fullSyncRequired")
        if not token.startswith("CP"):
            raise gone
        try:
            raw = token[2:]
            data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            seq = int(data["s"])
        except (ValueError, KeyError, TypeError):
            raise gone from None
        if data.get("c") != self.id or data.get("g") != self.token_generation:
            raise gone
        if seq < self.min_sync_seq or seq > self.seq:
            raise gone
        return seq


class WriteRecord(NamedTuple):
    """One write the API received: (method, event_id, sendUpdates query value or None)."""

    method: str
    event_id: str
    send_updates: str | None


class State:
    """Everything the emulator remembers; all access holds `lock`."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.calendars: dict[str, Calendar] = {}
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.sent_updates: list[WriteRecord] = []
        self.send_notifications: list[tuple[str, str, str | None]] = []
        self.minimal_cancelled = True
        self.change_listeners: list[Callable[[str], None]] = []
        self._etag = 3_300_000_000_000_000
        self._idx = 0
        self._last_updated: datetime | None = None

    def calendar(self, calendar_id: str) -> Calendar:
        found = self.calendars.get(calendar_id)
        if found is None:
            raise ApiError(404, "notFound")
        return found

    def add_calendar(
        self, calendar_id: str, summary: str | None = None, time_zone: str = "UTC"
    ) -> Calendar:
        with self.lock:
            if calendar_id not in self.calendars:
                self.calendars[calendar_id] = Calendar(
                    calendar_id, summary or calendar_id, time_zone
                )
            return self.calendars[calendar_id]

    def now(self) -> datetime:
        """The clock, made strictly increasing at millisecond resolution (as `updated` is)."""
        now = self.clock().astimezone(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        if self._last_updated is not None and now <= self._last_updated:
            now = self._last_updated + timedelta(milliseconds=1)
        self._last_updated = now
        return now

    def next_etag(self) -> str:
        self._etag += 1
        return f'"{self._etag}"'

    def save(self, calendar: Calendar, resource: dict[str, Any], *, created: bool) -> StoredEvent:
        """Store a write: new etag, `updated`, change number; tell listeners (watch channels)."""
        now = format_updated(self.now())
        resource["etag"] = self.next_etag()
        resource["updated"] = now
        if created:
            resource.setdefault("created", now)
        calendar.seq += 1
        existing = calendar.events.get(resource["id"])
        if existing is None:
            self._idx += 1
            stored = StoredEvent(resource, self._idx, calendar.seq)
            calendar.events[resource["id"]] = stored
        else:
            existing.resource = resource
            existing.seq = calendar.seq
            stored = existing
        for listener in list(self.change_listeners):
            listener(calendar.id)
        return stored
