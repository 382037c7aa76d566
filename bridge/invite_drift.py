"""Drift: what differs between what the external copy carried when it was last sent and
the meeting's external-facing fields now (time, location, subject, external attendees, the
series' moved or changed occurrences)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Field groups the organiser is shown, each with the stored keys it covers.
GROUPS: dict[str, tuple[str, ...]] = {
    "time": ("start", "end", "all_day", "timezone", "recurrence"),
    "location": ("location",),
    "subject": ("subject",),
    "attendees": ("attendees",),
    "occurrences": ("overrides",),
}

#: What a key missing from stored fields means (invites sent before the key existed).
ABSENT: dict[str, Any] = {"overrides": []}


@dataclass(frozen=True)
class Difference:
    field: str  # time | location | subject | attendees | occurrences
    sent: dict[str, Any]
    now: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"field": self.field, "sent": self.sent, "now": self.now}


def differences(sent: dict[str, Any], now: dict[str, Any]) -> list[Difference]:
    """Each group whose values differ, with the values sent and now (only those keys)."""
    out = []
    for group, keys in GROUPS.items():
        before = {k: sent.get(k, ABSENT.get(k)) for k in keys}
        after = {k: now.get(k, ABSENT.get(k)) for k in keys}
        if before != after:
            changed = [k for k in keys if before[k] != after[k]]
            out.append(
                Difference(group, {k: before[k] for k in changed}, {k: after[k] for k in changed})
            )
    return out
