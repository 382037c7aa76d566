"""CalDAV's InviteCapability: the external copy as a calendar object with ORGANIZER and
ATTENDEE lines, in the binding's calendar.

Whether the server sends anything is RFC 6638's business: a server that offers implicit
scheduling says ``calendar-auto-schedule`` in its DAV header (OPTIONS), and then mails the
attendees of an object the organiser PUTs or DELETEs, unless an attendee is marked
``SCHEDULE-AGENT=CLIENT``. Without it (stock Radicale) the server sends nothing:
``abilities()`` says it cannot send, and the copy can only be held unsent — stored with
its attendees marked SCHEDULE-AGENT=CLIENT, for the organiser's calendar app to send.

The copy's UID is the invite's own (``InviteCopy.uid``), its resource name comes from the
idempotency key (If-None-Match: *, so a retried create adopts the first); it carries
X-CRM-INVITE-COPY:TRUE and never X-CRM-MEETING-ID.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from bridge.backends.base import (
    InviteAbilities,
    InviteCopy,
    PreconditionFailed,
    Rejected,
    SentInvite,
)
from bridge.backends.caldav import wire

if TYPE_CHECKING:
    from bridge.backends.caldav.backend import CaldavBackend

AUTO_SCHEDULE = "calendar-auto-schedule"
NO_SCHEDULING = (
    "this CalDAV server does not offer scheduling (RFC 6638 calendar-auto-schedule), so it "
    "cannot send invitations: create the copy unsent and send it from your calendar app"
)


def _mailto(address: str) -> str:
    return f"mailto:{address}"


def copy_ical(copy: InviteCopy, *, uid: str, client: bool, answers: dict[str, str]) -> str:
    """The copy as a calendar object: the copy's fields, ORGANIZER, one ATTENDEE per
    external (their last answer kept; SCHEDULE-AGENT=CLIENT when the server must not mail),
    SEQUENCE, the invite-copy tag; nothing else. A series carries its EXDATE lines and one
    VEVENT per moved occurrence (RECURRENCE-ID), each with the same ORGANIZER, ATTENDEEs and
    SEQUENCE (RFC 5545: an overridden instance is a whole component of its own)."""
    event = copy.as_event()
    vcal = wire.parse(wire.event_to_ical(event, uid=uid))
    for component in wire.events(vcal):
        component.add("sequence").value = str(copy.sequence)
        component.add("status").value = "CONFIRMED"
        organiser = component.add("organizer")
        organiser.value = _mailto(copy.organiser.email)
        if copy.organiser.name:
            organiser.params["CN"] = [copy.organiser.name]
        if client:
            organiser.params["SCHEDULE-AGENT"] = ["CLIENT"]
        for person in copy.attendees:
            line = component.add("attendee")
            line.value = _mailto(person.email)
            if person.name:
                line.params["CN"] = [person.name]
            line.params["ROLE"] = ["REQ-PARTICIPANT"]
            line.params["PARTSTAT"] = [answers.get(person.email.lower(), "NEEDS-ACTION")]
            line.params["RSVP"] = ["TRUE"]
            if client:
                line.params["SCHEDULE-AGENT"] = ["CLIENT"]
    return str(vcal.serialize())


def answers_and_sequence(text: str) -> tuple[dict[str, str], int]:
    """The attendees' answers (address -> PARTSTAT) and the SEQUENCE of a stored copy."""
    vcal = wire.parse(text)
    master = wire.events(vcal)[0]
    answers = {}
    for line in wire.lines(master, "attendee"):
        address = str(line.value).removeprefix("mailto:").removeprefix("MAILTO:").lower()
        answers[address] = (line.params.get("PARTSTAT") or ["NEEDS-ACTION"])[0]
    sequence = master.contents.get("sequence")
    try:
        number = int(sequence[0].value) if sequence else 0
    except (TypeError, ValueError):
        number = 0
    return answers, number


class CaldavInvites:
    """The invite capability of one CaldavBackend."""

    def __init__(self, backend: CaldavBackend) -> None:
        self.backend = backend
        self._schedules: bool | None = None

    def schedules(self) -> bool:
        """Whether the server does RFC 6638 implicit scheduling (asked once: OPTIONS)."""
        if self._schedules is None:
            b = self.backend
            answer = b.session.send("OPTIONS", b.paths.url, handled=(400, 403, 404, 405, 501))
            dav_header = ",".join(v for k, v in answer.headers.items() if k.lower() == "dav")
            names = {part.strip().lower() for part in dav_header.split(",")}
            self._schedules = answer.status < 400 and AUTO_SCHEDULE in names
        return self._schedules

    def abilities(self) -> InviteAbilities:
        if self.schedules():
            return InviteAbilities(can_send=True, can_hold_unsent=True)
        return InviteAbilities(can_send=False, can_hold_unsent=True, note=NO_SCHEDULING)

    def check(self, copy: InviteCopy) -> None:
        """An iCalendar object holds every series the copy can carry."""
        return None

    def _check(self, send: bool) -> None:
        if send and not self.schedules():
            raise Rejected(f"CalDAV invite: {NO_SCHEDULING}")

    def create_invite(self, copy: InviteCopy, *, send: bool, idempotency_key: str) -> SentInvite:
        from bridge.backends.caldav.backend import name_for

        self._check(send)
        b = self.backend
        remote_id = name_for(idempotency_key)
        uid = copy.uid or remote_id.removesuffix(".ics")
        text = copy_ical(copy, uid=uid, client=not send, answers={})
        try:
            answer = b._put(remote_id, text, {"If-None-Match": "*"})
        except PreconditionFailed:  # an earlier attempt with this key made it
            current, etag = b._read(remote_id)
            if not self._is_copy(current):
                raise Rejected(f"CalDAV PUT {remote_id}: the name holds another event") from None
            return SentInvite(remote_id, etag, mailed=send)
        return SentInvite(remote_id, answer.etag or b._read(remote_id)[1], mailed=send)

    @staticmethod
    def _is_copy(text: str) -> bool:
        try:
            event = wire.event_from_ical(text, remote_id="x", etag="")
        except wire.WireError:
            return False
        return event is not None and event.is_invite_copy

    def update_invite(
        self, remote_id: str, copy: InviteCopy, *, send: bool, etag: str
    ) -> SentInvite:
        self._check(send)
        b = self.backend
        current, at = b._read_at(remote_id, etag)
        answers, sequence = answers_and_sequence(current)
        uid = _uid_of(current) or copy.uid
        wanted = replace(copy, sequence=max(copy.sequence, sequence + 1))
        text = copy_ical(wanted, uid=uid, client=not send, answers=answers)
        answer = b._put(remote_id, text, {"If-Match": at})
        return SentInvite(remote_id, answer.etag or b._read(remote_id)[1], mailed=send)

    def cancel_invite(self, remote_id: str, *, send: bool, etag: str) -> None:
        self._check(send)
        b = self.backend
        if self.schedules() and not send:  # RFC 6638: mark every attendee CLIENT first
            current, at = b._read_at(remote_id, etag)
            vcal = wire.parse(current)
            for component in wire.events(vcal):  # the master and every moved occurrence
                for name in wire.PEOPLE:
                    for line in wire.lines(component, name):
                        line.params["SCHEDULE-AGENT"] = ["CLIENT"]
            answer = b._put(remote_id, str(vcal.serialize()), {"If-Match": at})
            etag = answer.etag
        b.delete(remote_id, etag=etag)


def _uid_of(text: str) -> str:
    try:
        master = wire.events(wire.parse(text))[0]
    except (wire.WireError, IndexError):
        return ""
    found = master.contents.get("uid")
    return str(found[0].value) if found else ""
