"""The iCalendar layer: one import point for the store and the Radicale plugin.

Split by concern: ical_check (parse, validate), ical_time (time index), ical_meeting
(Meeting <-> iCalendar), ical_redact (busy-only view, canonical hash).
"""

from bridge.ical_check import (
    check_recurrence,
    check_time_zones,
    parse_calendar,
    validate_meeting_calendar,
)
from bridge.ical_errors import END_OF_TIME, ICalError
from bridge.ical_meeting import PRODID, meeting_from_ical, meeting_to_ical
from bridge.ical_redact import (
    BUSY_ONLY_PROPS,
    HASH_IGNORED,
    PRIVATE_CLASSES,
    busy_only,
    canonical_hash,
    is_private,
)
from bridge.ical_time import TimeIndex, index_times

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
    "check_recurrence",
    "check_time_zones",
    "index_times",
    "is_private",
    "meeting_from_ical",
    "meeting_to_ical",
    "parse_calendar",
    "validate_meeting_calendar",
]
