"""RemoteEvents for backend tests: a meeting copy on a day of March 2031."""

from __future__ import annotations

from datetime import UTC, datetime

from bridge.backends.base import RemoteEvent


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
