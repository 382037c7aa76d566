"""RemoteEvents for backend tests: a meeting copy on a day of March 2031; the Invite
action's external copy for the invite backends' own tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bridge.backends.base import InviteCopy, RemoteAttendee, RemoteEvent


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2031, 3, day, hour, tzinfo=UTC)


def meeting(uid: str = "m-1", day: int = 3, **fields) -> RemoteEvent:
    values = dict(
        remote_id="",
        start=at(day),
        end=at(day, 11),
        crm_meeting_id=uid,
        subject=f"Meeting {uid}",
        location="Room 1",
        description="Agenda",
        timezone="Europe/Berlin",
    )
    values.update(fields)
    return RemoteEvent(**values)


def invite_copy(
    owner: str, guests: tuple[str, ...], start_at: datetime, /, **changes
) -> InviteCopy:
    """An hour's external copy from ``owner`` to ``guests`` (named after their local
    part), with a location, a zone and the rendered text; ``changes`` replace fields."""
    values = dict(
        subject="Quarterly review", start=start_at, end=start_at + timedelta(hours=1),
        organiser=RemoteAttendee(owner, "Alice"),
        attendees=tuple(RemoteAttendee(g, g.split("@")[0]) for g in guests),
        description="Agenda: the figures.", location="Room 4", timezone="Europe/Copenhagen",
    )  # fmt: skip
    values.update(changes)
    return InviteCopy(**values)
