"""Google's InviteCapability: the external copy as an event with attendees.

Google mails guests per write as ``sendUpdates`` says ("all": everyone, "none": nobody),
so the copy can be created unsent and sent later from Google Calendar. The copy carries
the organiser's calendar as organizer, the external attendees, the rendered description,
the invite-copy tag (``extendedProperties.private.crmInviteCopy``, invisible to guests)
and never the CRM meeting id. Its event id comes from the idempotency key (a retried
create adopts the first), its iCalUID from the invite (``InviteCopy.uid``).

A series' excluded dates are EXDATE lines of its recurrence (native in Google); each moved
occurrence is a patch of its instance (``<id>_<suffix>``) with the copy's sendUpdates, so
guests get the series and an update per moved occurrence (GoogleBackend._finish, the
same instance writing sync uses).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bridge.backends.base import (
    InviteAbilities,
    InviteCopy,
    NotFound,
    Rejected,
    SentInvite,
)
from bridge.backends.google import wire
from bridge.backends.google.http import Duplicate

if TYPE_CHECKING:
    from bridge.backends.google.backend import GoogleBackend


def copy_body(copy: InviteCopy, attendees: list[dict[str, Any]]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "summary": copy.subject,
        "description": copy.description,
        "location": copy.location,
        "start": wire.when_json(copy.start, copy.all_day, copy.timezone),
        "end": wire.when_json(copy.end, copy.all_day, copy.timezone),
        "recurrence": list(copy.recurrence) or None,
        "attendees": attendees,
        "guestsCanModify": False,
        "extendedProperties": {"private": {wire.INVITE_COPY_KEY: "true"}},
    }
    return body


def attendee_list(copy: InviteCopy, current: list[dict[str, Any]] | None = None) -> list[dict]:
    """The copy's attendees; a guest already on the event keeps their answer."""
    known = {(a.get("email") or "").lower(): a for a in current or []}
    out = []
    for person in copy.attendees:
        entry: dict[str, Any] = {"email": person.email}
        if person.name:
            entry["displayName"] = person.name
        answer = known.get(person.email.lower(), {}).get("responseStatus")
        if answer:
            entry["responseStatus"] = answer
        out.append(entry)
    return out


class GoogleInvites:
    """The invite capability of one GoogleBackend (its service, limiter and calendar)."""

    def __init__(self, backend: GoogleBackend) -> None:
        self.backend = backend

    def abilities(self) -> InviteAbilities:
        return InviteAbilities(can_send=True, can_hold_unsent=True)

    def check(self, copy: InviteCopy) -> None:
        """Google holds every series the copy can carry (RRULE, EXDATE, RDATE, instances)."""
        return None

    def _updates(self, send: bool) -> str:
        return "all" if send else "none"

    def create_invite(self, copy: InviteCopy, *, send: bool, idempotency_key: str) -> SentInvite:
        b = self.backend
        event_id = wire.event_id_for(idempotency_key)
        body = copy_body(copy, attendee_list(copy)) | {"id": event_id, "sequence": copy.sequence}
        if copy.uid:
            body["iCalUID"] = copy.uid
        if not copy.recurrence:
            del body["recurrence"]
        request = b.events.insert(
            calendarId=b.settings.calendar_id, body=body, sendUpdates=self._updates(send)
        )
        exceptions: list[dict[str, Any]] | None = []
        try:
            made = b._run("events.insert", request)
        except Duplicate:  # an earlier attempt with this key got through: that is the copy
            made = b._get(event_id)
            if not wire.is_invite_copy(made) or wire.is_deleted(made):
                raise Rejected(
                    f"Google Calendar events.insert: id {event_id} holds another event"
                ) from None
            exceptions = None  # its instances may be written already: read them
        etag = self._occurrences(made, copy, exceptions, send)
        return SentInvite(made["id"], etag or made.get("etag", ""), mailed=send)

    def _occurrences(
        self,
        master: dict[str, Any],
        copy: InviteCopy,
        exceptions: list[dict[str, Any]] | None,
        send: bool,
    ) -> str:
        """Patch the series' moved occurrences onto their instances (an occurrence no longer
        moved back to the series' time, an excluded one's exception deleted), each with the
        copy's sendUpdates; the master's etag after ("" for a single event)."""
        if not master.get("recurrence"):
            return ""
        b = self.backend
        event = copy.as_event()
        b._finish(master, event, exceptions, send_updates=self._updates(send))
        if not event.overrides and exceptions == []:
            return ""
        return str(b._get(master["id"]).get("etag", ""))

    def update_invite(
        self, remote_id: str, copy: InviteCopy, *, send: bool, etag: str
    ) -> SentInvite:
        b = self.backend
        current = b._get(remote_id)
        if wire.is_deleted(current):
            raise NotFound(f"Google Calendar events.patch: {remote_id} was deleted")
        body = copy_body(copy, attendee_list(copy, current.get("attendees")))
        # SEQUENCE only grows: past what Google holds (an edit in the calendar raises it).
        body["sequence"] = max(copy.sequence, int(current.get("sequence", 0)) + 1)
        request = b.events.patch(
            calendarId=b.settings.calendar_id,
            eventId=remote_id,
            body=body,
            sendUpdates=self._updates(send),
        )
        made = b._run("events.patch", request, if_match=etag or current.get("etag", ""))
        latest = self._occurrences(made, copy, None, send)
        return SentInvite(made["id"], latest or made.get("etag", ""), mailed=send)

    def cancel_invite(self, remote_id: str, *, send: bool, etag: str) -> None:
        b = self.backend
        request = b.events.delete(
            calendarId=b.settings.calendar_id, eventId=remote_id, sendUpdates=self._updates(send)
        )
        b._run("events.delete", request, if_match=etag)
