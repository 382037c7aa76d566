"""A binding's sync rules, per direction: the settings plan.py decides with.

Frozen dataclasses built from a plain mapping (a TOML table). ``from_mapping`` raises a
ValueError whose message names the key and the reason; the config layer adds the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bridge.backends.base import RemoteEvent, Window
from bridge.backends.recurrence import recurrence_lines, series_span
from bridge.model import APPOINTMENT, MEETING, Meeting
from bridge.sync.mapping import PRIVATE_POLICIES

MAX_HISTORY_DAYS = 60
MAX_FORWARD_DAYS = 365

CONFLICT_POLICIES = ("crm-wins", "calendar-wins", "newest")
DEFAULT_TYPES = frozenset({MEETING, APPOINTMENT})


@dataclass(frozen=True)
class DirectionRules:
    """What syncs in one direction.

    - history_days / forward_days: the window [now - history, now + forward]; an event or
      series overlapping it counts.
    - create_types: activity types whose new items create a copy on the other side.
    - sync_types: activity types whose changes and deletions sync; empty means none do.
    - default_activity_type: the type an event made in the calendar gets in the CRM
      ("" = such events are not imported). Only used calendar -> CRM. The two generic types
      follow the attendees: with "meeting" or "appointment" as default, an event with
      attendees becomes a meeting and one without an appointment; any other type is used as is.
    - private_policy: private items sync in full, as busy time only, or not at all.
    """

    history_days: int = 30
    forward_days: int = 365
    create_types: frozenset[str] = DEFAULT_TYPES
    sync_types: frozenset[str] = DEFAULT_TYPES
    default_activity_type: str = APPOINTMENT
    private_policy: str = "full"

    def __post_init__(self) -> None:
        _check_days("history_days", self.history_days, MAX_HISTORY_DAYS)
        _check_days("forward_days", self.forward_days, MAX_FORWARD_DAYS)
        if self.private_policy not in PRIVATE_POLICIES:
            raise ValueError(f"private_policy: must be one of {', '.join(PRIVATE_POLICIES)}")

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        return now - timedelta(days=self.history_days), now + timedelta(days=self.forward_days)

    def in_window(self, start: datetime, end: datetime | None, now: datetime) -> bool:
        """Whether [start, end) (end None: open-ended) overlaps the window."""
        low, high = self.window(now)
        return start < high and (end is None or end > low)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, where: str) -> DirectionRules:
        if not isinstance(data, Mapping):
            raise ValueError(f"{where}: must be a table")
        known = {
            "history_days",
            "forward_days",
            "create_types",
            "sync_types",
            "default_activity_type",
            "private_policy",
        }
        _reject_unknown(data, known, where)
        values: dict[str, Any] = {}
        for key in ("history_days", "forward_days"):
            if key in data:
                limit = MAX_HISTORY_DAYS if key == "history_days" else MAX_FORWARD_DAYS
                values[key] = _days(data[key], limit, f"{where}.{key}")
        for key in ("create_types", "sync_types"):
            if key in data:
                values[key] = _types(data[key], f"{where}.{key}")
        if "default_activity_type" in data:
            value = data["default_activity_type"]
            if not isinstance(value, str):
                raise ValueError(f"{where}.default_activity_type: must be a string")
            values["default_activity_type"] = value.strip()
        if "private_policy" in data:
            values["private_policy"] = _choice(
                data["private_policy"], PRIVATE_POLICIES, f"{where}.private_policy"
            )
        return cls(**values)


@dataclass(frozen=True)
class SyncRules:
    """A binding's rules: one DirectionRules per direction and the conflict policy.

    conflict_policy decides when both sides changed since the last sync: "crm-wins",
    "calendar-wins", or "newest" (the later modification wins; equal or unknown times
    -> the CRM wins).
    """

    crm_to_calendar: DirectionRules = field(default_factory=DirectionRules)
    calendar_to_crm: DirectionRules = field(default_factory=DirectionRules)
    conflict_policy: str = "crm-wins"

    def __post_init__(self) -> None:
        if self.conflict_policy not in CONFLICT_POLICIES:
            raise ValueError(f"conflict_policy: must be one of {', '.join(CONFLICT_POLICIES)}")

    def window(self, now: datetime) -> Window:
        """The time range a pull lists: the union of both directions' windows."""
        spans = [self.crm_to_calendar.window(now), self.calendar_to_crm.window(now)]
        return Window(min(low for low, _ in spans), max(high for _, high in spans))

    def inbound_type(self, event: RemoteEvent) -> str:
        """The activity type an event made in the calendar gets ("" = not imported)."""
        default = self.calendar_to_crm.default_activity_type
        if default in (MEETING, APPOINTMENT):
            return MEETING if event.has_attendees else APPOINTMENT
        return default

    def outbound_refusal(
        self, kind: str, meeting: Meeting | None, event: RemoteEvent | None, now: datetime
    ) -> str | None:
        """Why CRM -> calendar may not ``kind`` ("create", or "sync" for a change or a
        deletion) this meeting, or None. Without a meeting (a deletion whose last state is
        unknown) only an empty type list refuses. The private policy is applied by the
        outbound mapping, not here."""
        rules = self.crm_to_calendar
        name = "create_types" if kind == "create" else "sync_types"
        types = rules.create_types if kind == "create" else rules.sync_types
        if meeting is not None and meeting.activity_type not in types:
            return f"activity type {meeting.activity_type!r} is not in crm_to_calendar.{name}"
        if meeting is None and not types:
            return f"crm_to_calendar.{name} is empty"
        if not _in_window(rules, meeting, event, now):
            return "outside the crm_to_calendar window"
        return None

    def inbound_refusal(
        self, kind: str, meeting: Meeting | None, event: RemoteEvent | None, now: datetime
    ) -> str | None:
        """Why calendar -> CRM may not ``kind`` ("create", "sync" or "delete"), or None."""
        rules = self.calendar_to_crm
        if kind == "create":
            if not rules.default_activity_type:
                return "calendar_to_crm.default_activity_type is blank: not imported"
            assert event is not None
            new_type = self.inbound_type(event)
            if new_type not in rules.create_types:
                return f"activity type {new_type!r} is not in calendar_to_crm.create_types"
        elif meeting is not None and meeting.activity_type not in rules.sync_types:
            return f"activity type {meeting.activity_type!r} is not in calendar_to_crm.sync_types"
        elif meeting is None and not rules.sync_types:
            return "calendar_to_crm.sync_types is empty"
        if not _in_window(rules, meeting, event, now):
            return "outside the calendar_to_crm window"
        if kind != "delete" and event is not None and event.private:
            if rules.private_policy == "skip":
                return "private events are not synced (calendar_to_crm.private_policy = skip)"
        return None

    def to_mapping(self) -> dict[str, Any]:
        """The canonical plain mapping (sorted type lists): ``from_mapping`` reads it back,
        and two equal rule sets give equal mappings however the file spelt them."""
        out: dict[str, Any] = {"conflict_policy": self.conflict_policy}
        for name in ("crm_to_calendar", "calendar_to_crm"):
            direction = getattr(self, name)
            out[name] = {
                key: sorted(value) if isinstance(value, frozenset) else value
                for key, value in vars(direction).items()
            }
        return out

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, where: str) -> SyncRules:
        if not isinstance(data, Mapping):
            raise ValueError(f"{where}: must be a table")
        _reject_unknown(data, {"crm_to_calendar", "calendar_to_crm", "conflict_policy"}, where)
        values: dict[str, Any] = {}
        for key in ("crm_to_calendar", "calendar_to_crm"):
            if key in data:
                values[key] = DirectionRules.from_mapping(data[key], where=f"{where}.{key}")
        if "conflict_policy" in data:
            values["conflict_policy"] = _choice(
                data["conflict_policy"], CONFLICT_POLICIES, f"{where}.conflict_policy"
            )
        return cls(**values)


def _in_window(
    rules: DirectionRules, meeting: Meeting | None, event: RemoteEvent | None, now: datetime
) -> bool:
    """Whether either side's series overlaps the window (nothing known: yes). Checking
    both sides lets a meeting moved out of the window still move its copy."""
    spans = []
    if meeting is not None:
        lines = recurrence_lines(meeting.recurrence, meeting.all_day)
        spans.append(series_span(meeting.start, meeting.end, lines))
    if event is not None:
        spans.append(series_span(event.start, event.end, event.recurrence))
    return not spans or any(rules.in_window(start, end, now) for start, end in spans)


def _reject_unknown(data: Mapping[str, Any], known: set[str], where: str) -> None:
    for key in sorted(set(data) - known, key=str):
        raise ValueError(f"{where}.{key}: unknown key (expected one of {', '.join(sorted(known))})")


def _check_days(name: str, value: int, limit: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise ValueError(f"{name}: must be a whole number of days from 0 to {limit}")


def _days(value: Any, limit: int, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where}: must be a whole number of days, not {value!r}")
    if value < 0:
        raise ValueError(f"{where}: must not be negative (got {value})")
    if value > limit:
        raise ValueError(f"{where}: at most {limit} days (got {value})")
    return value


def _types(value: Any, where: str) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        raise ValueError(f"{where}: must be a list of activity types")
    out: set[str] = set()
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"{where}: every activity type must be a non-empty string")
        out.add(item.strip())
    return frozenset(out)


def _choice(value: Any, choices: tuple[str, ...], where: str) -> str:
    if value not in choices:
        raise ValueError(f"{where}: must be one of {', '.join(choices)} (got {value!r})")
    return str(value)
