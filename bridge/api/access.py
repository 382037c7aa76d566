"""What an API key may see and change (invariant 6 of the design).

A key acts for the logins ``[[api.keys]] users`` lists ("*": everyone). For a meeting:

- ``FULL``: the key acts for one of its participants (organiser, an internal attendee,
  whoever booked it), or the meeting is not private and the key acts for a colleague who
  may see a participant's meetings (``can_see``, as CalDAV's colleague calendars);
- ``BUSY``: the meeting is private and the key reaches it only through such a colleague:
  its time alone;
- ``HIDDEN``: anything else. The API answers 404 for it, exactly as for a UID that does
  not exist, so a key never learns that another user's meeting exists.

It may change a meeting when it acts for the organiser or for someone with the booking
right for the organiser (bridge.meeting_rights); a meeting it sees but may not change is
answered 403.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Connection

from bridge.config.api import ApiKey
from bridge.model import Meeting
from bridge.store import users as user_store


class View(StrEnum):
    FULL = "full"
    BUSY = "busy"
    HIDDEN = "hidden"


def participants(meeting: Meeting) -> set[str]:
    people = {*meeting.internal_users, meeting.organiser, meeting.booked_by}
    return {login for login in people if login}


def seen_by(conn: Connection, login: str) -> set[str]:
    """The logins whose meetings calendar ``login`` may see (their colleagues)."""
    return {c.login for c in user_store.colleagues(conn, login)}


def view_of(conn: Connection, key: ApiKey, meeting: Meeting) -> View:
    if key.all_users:
        return View.FULL
    people = participants(meeting)
    if any(key.covers(login) for login in people):
        return View.FULL
    members = meeting.members()
    if any(seen_by(conn, login) & members for login in key.users):
        return View.BUSY if meeting.private else View.FULL
    return View.HIDDEN


def writer_for(conn: Connection, key: ApiKey, organiser: str) -> str | None:
    """The login this key writes a meeting of ``organiser`` as, or None when it may not."""
    if key.covers(organiser):
        return organiser
    for login in key.users:
        if user_store.can_book_for(conn, login, organiser):
            return login
    return None


def may_list(conn: Connection, key: ApiKey, login: str) -> bool:
    """Whether the key may list ``login``'s meetings: it acts for them, or for a colleague
    who may see their calendar (then private meetings show as busy time)."""
    if key.covers(login):
        return True
    return any(login in seen_by(conn, viewer) for viewer in key.users)
