"""The iCalendar layer: one import point for the store and the Radicale plugin.

Split by concern: ical_check (parse, validate), ical_time (time index), ical_meeting
(Meeting <-> iCalendar), ical_redact (busy-only view, canonical hash).
"""

import vobject

from bridge.ical.check import check_recurrence, check_time_zones, parse_calendar
from bridge.ical.check import validate_meeting_calendar as _validate_shape
from bridge.ical.errors import END_OF_TIME, ICalError
from bridge.ical.meeting import PRODID, meeting_from_ical, meeting_to_ical
from bridge.ical.redact import (
    BUSY_ONLY_PROPS,
    HASH_IGNORED,
    PRIVATE_CLASSES,
    busy_only,
    canonical_hash,
    is_private,
)
from bridge.ical.time import TimeIndex, check_overrides, index_times


def validate_meeting_calendar(vcal: vobject.base.Component, *, max_occurrences: int) -> None:
    """What the CRM meetings calendar accepts: one event series (ical_check) whose
    overridden instances are occurrences of it (ical_time.check_overrides)."""
    _validate_shape(vcal, max_occurrences=max_occurrences)
    check_overrides(vcal)


__all__ = [
    "BUSY_ONLY_PROPS",
    "END_OF_TIME",
    "HASH_IGNORED",
    "PRIVATE_CLASSES",
    "PRODID",
    "ICalError",
    "TimeIndex",
    "busy_only",
    "canonical_hash",
    "check_overrides",
    "check_recurrence",
    "check_time_zones",
    "index_times",
    "is_private",
    "meeting_from_ical",
    "meeting_to_ical",
    "parse_calendar",
    "validate_meeting_calendar",
]
