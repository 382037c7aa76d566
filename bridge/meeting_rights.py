"""Who may change a CRM meeting, and how much: the one place these rules are decided.

RFC 6638's organiser / attendee split, as Exchange and SOGo apply it:

- The organiser, and a colleague holding the booking right for the organiser
  (``can_book_for`` in the configuration, checked at every write), change the meeting.
- An internal attendee changes only their own participation status and personal
  properties (bridge.ical.parts); deleting the meeting from their calendar declines it.
- Making a meeting whose organiser is another CRM user is booking on their behalf and
  needs the booking right; the booker recorded is always the logged-in user.
- Anyone else learns nothing about a meeting: a UID they cannot see is refused without
  naming anything about the meeting that holds it.
"""

from __future__ import annotations

from enum import StrEnum

import vobject
from sqlalchemy import Connection

from bridge.ical import parts as ical_parts
from bridge.model import Meeting
from bridge.store import users as user_store
from bridge.store.errors import Conflict, Forbidden


class Role(StrEnum):
    ORGANISER = "organiser"
    DELEGATE = "delegate"  # holds the booking right for the organiser
    ATTENDEE = "attendee"  # an internal attendee, declined or not
    NONE = "none"


def role_of(conn: Connection, writer: str, meeting: Meeting) -> Role:
    """What ``writer`` is to the stored ``meeting``."""
    if meeting.organiser == writer:
        return Role.ORGANISER
    if meeting.organiser and user_store.can_book_for(conn, writer, meeting.organiser):
        return Role.DELEGATE
    if writer in meeting.internal_users:
        return Role.ATTENDEE
    return Role.NONE


def may_edit(role: Role) -> bool:
    return role in (Role.ORGANISER, Role.DELEGATE)


def check_organiser(conn: Connection, writer: str, organiser: str | None) -> None:
    """A meeting organised by another CRM user may be written only with the booking right."""
    if not organiser or organiser == writer:
        return
    if not user_store.can_book_for(conn, writer, organiser):
        raise Forbidden(
            f"the organiser of this meeting is {organiser}, and {writer} may not book "
            f'meetings on {organiser}\'s behalf (can_book_for = ["{organiser}"] is not '
            f"configured for {writer})"
        )


def booked_by(writer: str, organiser: str | None, previous: Meeting | None) -> str | None:
    """Who booked the meeting: the logged-in writer when they are not its organiser;
    otherwise whoever booked it before (for the same organiser)."""
    if organiser != writer:
        return writer
    if previous is not None and previous.organiser == organiser:
        return previous.booked_by
    return None


def check_attendee_change(
    stored: vobject.base.Component,
    sent: vobject.base.Component,
    *,
    attendee_email: str,
    organiser: str | None,
) -> None:
    """Refuse what an attendee may not change (403 naming the property)."""
    problem = ical_parts.attendee_violation(stored, sent, attendee_email)
    if problem is not None:
        raise Forbidden(ical_parts.refusal(problem, organiser or "another user"))


def unknown_uid(uid: str) -> Conflict:
    """The refusal for a UID held by a meeting the writer may not see: it names nothing
    about that meeting."""
    return Conflict(
        f"UID {uid!r} is already in use by a CRM meeting this user cannot change; "
        "give the event a new UID"
    )


def move_refusal(source: str, target: str) -> Forbidden:
    """MOVE between a meetings calendar and another collection."""
    return Forbidden(
        f"a CRM meeting cannot be moved between /{source}/ and /{target}/: meetings live only "
        "in their members' meetings calendars (MOVE inside one calendar renames)"
    )
