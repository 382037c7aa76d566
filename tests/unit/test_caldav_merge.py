"""bridge.backends.caldav.merge: an update keeps what sync does not own and reads back to
exactly the event's content hash."""

from __future__ import annotations

from dataclasses import replace
from itertools import product

import pytest

from bridge.backends.base import RemoteEvent
from bridge.backends.caldav import merge, wire
from bridge.model import BusyStatus
from tests.unit.test_caldav_wire import CASES

USER_MASTER = (
    "CATEGORIES:work,blue\r\nCOLOR:tomato\r\nX-FOO:bar\r\nSEQUENCE:4\r\n"
    "ATTENDEE;PARTSTAT=ACCEPTED:mailto:zed@example.org\r\n"
    "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nDESCRIPTION:soon\r\nEND:VALARM\r\n"
)
USER_OVERRIDE = (
    "X-OVERRIDE-NOTE:mine\r\nBEGIN:VALARM\r\nACTION:AUDIO\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\n"
)


def _users_copy(event: RemoteEvent) -> str:
    """What the server holds after the user's phone added its own things to ``event``."""
    text = wire.event_to_ical(event, uid="phone-uid")
    text = text.replace("VERSION:2.0\r\n", "VERSION:2.0\r\nX-WR-CALNAME:Work\r\n", 1)
    head, _, rest = text.partition("END:VEVENT\r\n")
    text = head + USER_MASTER + "END:VEVENT\r\n" + rest
    return text.replace("END:VEVENT\r\n", USER_OVERRIDE + "END:VEVENT\r\n").replace(
        USER_MASTER + USER_OVERRIDE, USER_MASTER, 1
    )


def _flat(text: str) -> str:
    return text.replace("\r\n ", "")


@pytest.mark.parametrize(("before", "after"), list(product(sorted(CASES), repeat=2)))
def test_the_merge_reads_back_to_the_events_hash(before: str, after: str) -> None:
    current = _users_copy(CASES[before])
    assert wire.event_from_ical(current, remote_id="x.ics") is not None
    event = replace(CASES[after], subject=CASES[after].subject + " (CRM)")
    text = merge.merged(current, event, uid="fallback")
    back = wire.event_from_ical(text, remote_id="x.ics")
    assert back is not None and back.content_hash() == event.content_hash()
    assert back.crm_meeting_id == event.crm_meeting_id
    flat = _flat(text)
    for kept in ("CATEGORIES:work,blue", "COLOR:tomato", "X-FOO:bar", "SEQUENCE:4"):
        assert kept in flat
    assert "TRIGGER:-PT15M" in flat and "X-WR-CALNAME:Work" in flat and "UID:phone-uid" in flat
    assert "ATTENDEE;PARTSTAT=ACCEPTED;SCHEDULE-AGENT=CLIENT:mailto:zed@example.org" in flat
    kept_overrides = {o.recurrence_id for o in CASES[before].overrides} & {
        o.recurrence_id for o in event.overrides
    }
    assert flat.count("X-OVERRIDE-NOTE:mine") == len(kept_overrides)
    assert flat.count("TRIGGER:-PT5M") == len(kept_overrides)


def test_status_busy_and_class_stay_the_users_unless_the_event_says_otherwise() -> None:
    base = CASES["timed"]
    current = wire.event_to_ical(base, uid="u").replace(
        "CLASS:PUBLIC\r\n",
        "CLASS:CONFIDENTIAL\r\nSTATUS:CONFIRMED\r\nX-MICROSOFT-CDO-BUSYSTATUS:BUSY\r\n",
    )
    private = replace(base, private=True)
    text = _flat(merge.merged(current, private, uid="u"))
    assert "CLASS:CONFIDENTIAL" in text and "CLASS:PRIVATE" not in text
    assert "STATUS:CONFIRMED" in text and "X-MICROSOFT-CDO-BUSYSTATUS:BUSY" in text
    public = _flat(merge.merged(current, base, uid="u"))
    assert "CLASS:PUBLIC" in public and "CONFIDENTIAL" not in public
    for busy, status, outlook in (
        (BusyStatus.TENTATIVE, "STATUS:TENTATIVE", "X-MICROSOFT-CDO-BUSYSTATUS:BUSY"),
        (BusyStatus.OUT_OF_OFFICE, "STATUS:CONFIRMED", "X-MICROSOFT-CDO-BUSYSTATUS:OOF"),
    ):
        event = replace(base, busy=busy)
        text = _flat(merge.merged(current, event, uid="u"))
        assert status in text and outlook in text
        assert text.count("\nSTATUS:") == 1 and text.count("X-MICROSOFT-CDO-BUSYSTATUS") == 1
        back = wire.event_from_ical(text, remote_id="u.ics")
        assert back is not None and back.content_hash() == event.content_hash()
    tentative = wire.event_to_ical(replace(base, busy=BusyStatus.TENTATIVE), uid="u")
    assert "\nSTATUS:" not in merge.merged(tentative, base, uid="u")


def test_an_unreadable_or_masterless_object_is_replaced_by_the_event() -> None:
    event = CASES["timed"]
    for current in ("not a calendar", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"):
        text = merge.merged(current, event, uid="fresh")
        back = wire.event_from_ical(text, remote_id="fresh.ics")
        assert "UID:fresh" in text and back is not None
        assert back.content_hash() == event.content_hash()
