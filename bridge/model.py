"""Plain data classes for CRM meetings. No I/O, no iCalendar knowledge."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class BusyStatus(StrEnum):
    """How a meeting blocks its participants' time.

    iCalendar mapping (see bridge.ical): TRANSP:TRANSPARENT is FREE, STATUS:TENTATIVE is
    TENTATIVE, X-MICROSOFT-CDO-BUSYSTATUS:OOF is OUT_OF_OFFICE, anything else is BUSY.
    """

    FREE = "free"
    TENTATIVE = "tentative"
    BUSY = "busy"
    OUT_OF_OFFICE = "oof"


ActivityType = str
MEETING: ActivityType = "meeting"  # an event with attendees
APPOINTMENT: ActivityType = "appointment"  # an event without attendees


@dataclass
class Participant:
    """An attendee who is not a CRM user."""

    email: str
    name: str = ""
    partstat: str = "NEEDS-ACTION"


@dataclass
class Recurrence:
    """The recurrence of a series master.

    ``overrides`` holds the RECURRENCE-ID of every overridden instance as an ISO string:
    ``YYYY-MM-DD`` for all-day series, otherwise the UTC instant (``...+00:00``).
    """

    rrule: str | None = None
    exdates: list[datetime] = field(default_factory=list)
    rdates: list[datetime] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)


@dataclass
class Meeting:
    """One CRM activity with a stable UID.

    Datetimes are timezone-aware. All-day meetings start and end at midnight UTC of their
    dates, the end being exclusive. ``timezone`` is an IANA name ("UTC" for UTC or floating).
    """

    uid: str
    start: datetime
    end: datetime
    organiser: str | None = None
    booked_by: str | None = None
    internal_users: list[str] = field(default_factory=list)
    crm_persons: list[str] = field(default_factory=list)
    crm_organisations: list[str] = field(default_factory=list)
    external: list[Participant] = field(default_factory=list)
    activity_type: ActivityType = APPOINTMENT
    subject: str = ""
    location: str = ""
    description: str = ""
    internal_notes: str = ""
    timezone: str = "UTC"
    all_day: bool = False
    recurrence: Recurrence | None = None
    private: bool = False
    busy: BusyStatus = BusyStatus.BUSY
    custom_fields: dict[str, str] = field(default_factory=dict)
    sequence: int = 0
    #: Internal users (of ``internal_users``) who declined: still invited, not members.
    declined: list[str] = field(default_factory=list)

    def members(self) -> set[str]:
        """Whose meetings calendar shows the meeting: the organiser and the internal users
        who have not declined. A colleague who booked it on someone's behalf is not one."""
        declined = set(self.declined)
        invited = {login for login in self.internal_users if login not in declined}
        return {login for login in [self.organiser, *invited] if login}


@dataclass(frozen=True)
class Override:
    """One moved or changed occurrence of a series, keyed by its RECURRENCE-ID in the
    format of ``Recurrence.overrides``. Times are aware; all-day ones at midnight UTC."""

    recurrence_id: str
    start: datetime
    end: datetime
    subject: str = ""
    location: str = ""
    description: str = ""
    busy: BusyStatus = BusyStatus.BUSY
