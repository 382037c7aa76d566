"""Meeting <-> RemoteEvent: the one place a meeting becomes the event outbound sync
writes, and a calendar event becomes meeting fields; and the private-item policy.

The private policy is a rule of sync (a binding's ``private_policy``): ``full`` syncs a
private meeting as it is, ``busy`` as busy time only (subject "Busy", no location or
description), ``skip`` not at all. Backends never see it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bridge.backends.base import RemoteEvent, RemoteOverride
from bridge.backends.recurrence import recurrence_from_lines, recurrence_lines, text_of
from bridge.model import Meeting, Participant

BUSY_SUBJECT = "Busy"

PRIVATE_POLICIES = ("full", "busy", "skip")


def is_redacted(subject: str, location: str, description: str) -> bool:
    """True for the busy-only rendering: subject "Busy", no location, no description."""
    return text_of(subject) == BUSY_SUBJECT and not text_of(location) and not text_of(description)


def meeting_to_remote(
    meeting: Meeting,
    *,
    private_policy: str,
    overrides: tuple[RemoteOverride, ...] = (),
) -> RemoteEvent | None:
    """The event outbound sync writes for ``meeting``; None when the policy skips it.

    Never carries attendees (invariant 3), internal notes, internal users, CRM persons or
    organisations, custom fields or the activity type (invariant 5). A private meeting under
    the "busy" policy keeps only its times, recurrence and busy status, with subject "Busy".
    ``overrides`` are the overridden instances' contents (the engine reads them from the
    stored iCalendar).
    """
    if private_policy not in PRIVATE_POLICIES:
        raise ValueError(f"unknown private policy {private_policy!r}")
    if meeting.private and private_policy == "skip":
        return None
    event = RemoteEvent(
        remote_id="",
        start=meeting.start,
        end=meeting.end,
        crm_meeting_id=meeting.uid,
        subject=meeting.subject,
        location=meeting.location,
        description=meeting.description,
        all_day=meeting.all_day,
        timezone=meeting.timezone,
        recurrence=recurrence_lines(meeting.recurrence, meeting.all_day),
        overrides=tuple(sorted(overrides, key=lambda o: o.recurrence_id)),
        private=meeting.private,
        busy=meeting.busy,
    )
    if meeting.private and private_policy == "busy":
        event = redact(event)
    return event


def redact(event: RemoteEvent) -> RemoteEvent:
    """The busy-only view of an event: times, recurrence and busy status only."""
    return replace(
        event,
        subject=BUSY_SUBJECT,
        location="",
        description="",
        attendees=(),
        overrides=tuple(
            replace(o, subject=BUSY_SUBJECT, location="", description="") for o in event.overrides
        ),
    )


TEXT_FIELDS = ("subject", "location", "description")


def inbound_fields(
    event: RemoteEvent, *, private_policy: str, create: bool
) -> dict[str, Any] | None:
    """The Meeting fields an inbound event sets; None when the policy skips it.

    Updates set the content fields only. A create also sets ``external`` from the event's
    attendees (the engine moves CRM users' addresses to internal users); an update never
    touches participants, because sync never writes them to the calendar (invariant 3), so
    the calendar's attendee list is no authority on the CRM's. The activity type is the
    plan's choice, not this function's.
    """
    if private_policy not in PRIVATE_POLICIES:
        raise ValueError(f"unknown private policy {private_policy!r}")
    if event.private and private_policy == "skip":
        return None
    if event.private and private_policy == "busy":
        event = redact(event)
    fields: dict[str, Any] = {
        "subject": event.subject,
        "location": event.location,
        "description": event.description,
        "start": event.start,
        "end": event.end,
        "all_day": event.all_day,
        "timezone": event.timezone,
        "recurrence": recurrence_from_lines(event.recurrence, event.overrides),
        "private": event.private,
        "busy": event.busy,
    }
    if create:
        fields["external"] = [Participant(a.email, a.name, a.partstat) for a in event.attendees]
    return fields
