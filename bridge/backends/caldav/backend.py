"""CalDAV backend: the Backend protocol for one calendar collection of any standards CalDAV
server (RFC 4791), over the caldav client library. It holds no sync rules.

- Changes: sync-collection (RFC 6578) when the server offers it, else ctag/etag listing
  (bridge.backends.caldav.listing); changed objects come by calendar-multiget in batches.
- Writes: every update, delete and tag write is conditional (If-Match); an update or tag
  write reads the object first (one GET + one PUT) and keeps all of it that sync does not
  own: the user's alarms, categories, X- properties (bridge.backends.caldav.merge). A create PUTs a
  resource named after the idempotency key with If-None-Match: *, so a retried create finds
  the earlier one (412) and adopts it instead of making a second (invariant 1).
- Silence (invariant 3): we never write ATTENDEE or ORGANIZER of our own. Attendees the
  user's own client put on an event are kept on update and tag writes, marked
  SCHEDULE-AGENT=CLIENT (RFC 6638), which tells a scheduling server to send nothing.
- Push: plain CalDAV has none (``push()`` is None); the binding polls at its interval.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from urllib.parse import urlsplit

from bridge.backends.base import (
    AuthError,
    BackendError,
    BaseBackend,
    ChangePage,
    InviteCapability,
    NotFound,
    PreconditionFailed,
    PushChannel,
    Rejected,
    RemoteEvent,
    Window,
)
from bridge.backends.caldav import dav, listing, merge, wire
from bridge.backends.caldav.http import Answer, Session
from bridge.backends.caldav.http import strong as _strong
from bridge.backends.caldav.settings import CaldavSettings

ICS_HEADERS = {"Content-Type": "text/calendar; charset=utf-8"}


def name_for(idempotency_key: str) -> str:
    """The resource name a create with ``idempotency_key`` uses: sha256 hex + ".ics"."""
    return hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest() + ".ics"


class CaldavBackend(BaseBackend):
    """One calendar collection as a Backend. Not thread-safe: one round at a time."""

    kind = "caldav"

    def __init__(self, settings: CaldavSettings) -> None:
        self.settings = settings
        self.paths = dav.Paths(settings.url)
        self.session = Session(settings)
        #: The etag each of our own writes got, until a listing reports that object: a
        #: member listed at the etag we wrote is unchanged since, so it is not fetched (the
        #: round after a push stays one request, as with Google, whose listing carries the
        #: events). Bounded by the writes of one round.
        self.own_writes: dict[str, str] = {}

    def close(self) -> None:
        self.session.close()

    def push(self) -> PushChannel | None:
        """None: plain CalDAV has no push; the binding is polled at its interval."""
        return None

    def invites(self) -> InviteCapability | None:
        """RFC 6638 scheduling where the server offers it, else held unsent only
        (bridge.backends.caldav.invite)."""
        from bridge.backends.caldav.invite import CaldavInvites

        return CaldavInvites(self)

    # --- reading ----------------------------------------------------------------------------
    def list_changes(self, cursor: str | None, window: Window) -> Iterator[ChangePage]:
        """Changes since ``cursor`` (the window is not used: sync filters by it anyway)."""
        return listing.list_changes(self, cursor)

    def _read(self, remote_id: str) -> tuple[str, str]:
        """(text, etag) of one object; NotFound when it is gone."""
        answer = self.session.send("GET", self.paths.object_url(remote_id), one_object=True)
        etag = answer.etag
        if not etag:  # a server that sends no ETag on GET: ask for it
            found = listing.fetch(self, [remote_id])
            etag = found[0].etag if found and isinstance(found[0], RemoteEvent) else ""
        return answer.text, etag

    def get(self, remote_id: str) -> RemoteEvent | None:
        try:
            text, etag = self._read(remote_id)
        except NotFound:
            return None
        try:
            return wire.event_from_ical(text, remote_id=remote_id, etag=etag)
        except wire.WireError:
            return None

    def find_by_meeting_id(self, meeting_id: str) -> RemoteEvent | None:
        """The copy tagged ``meeting_id`` (never an invite copy): a calendar-query on the
        X- property, or a full listing when the server refuses that filter."""
        answer = self.session.send(
            "REPORT",
            self.paths.url,
            dav.query_by_property(wire.MEETING_ID, meeting_id),
            {**dav.XML_HEADERS, "Depth": "1"},
            handled=(400, 403, 415, 422, 501),
        )
        candidates: list[RemoteEvent] = []
        if answer.status < 400:
            for entry in dav.parse_multistatus(answer.body).entries:
                remote_id = self.paths.remote_id(entry.href)
                if remote_id is None or entry.status != 200 or not entry.data:
                    continue
                try:
                    event = wire.event_from_ical(entry.data, remote_id=remote_id, etag=entry.etag)
                except wire.WireError:
                    continue
                if event is not None:
                    candidates.append(event)
        else:
            _, etags = listing.members(self)
            ids = list(etags)
            size = self.settings.batch_size
            for start in range(0, len(ids), size):
                candidates += [
                    c
                    for c in listing.fetch(self, ids[start : start + size])
                    if isinstance(c, RemoteEvent)
                ]
        for event in sorted(candidates, key=lambda e: e.remote_id):
            if event.crm_meeting_id == meeting_id and not event.is_invite_copy:
                return event
        return None

    # --- writing ----------------------------------------------------------------------------
    def _put(self, remote_id: str, text: str, condition: dict[str, str]) -> Answer:
        return self.session.send(
            "PUT",
            self.paths.object_url(remote_id),
            text,
            {**ICS_HEADERS, **condition},
            one_object=True,
        )

    def _written(self, remote_id: str, text: str, answer: Answer) -> RemoteEvent:
        """The event as written; the etag from the answer, else read back."""
        if not answer.etag:
            found = self.get(remote_id)
            if found is None:
                raise BackendError(f"CalDAV PUT {remote_id}: written but not readable")
            return found
        event = wire.event_from_ical(text, remote_id=remote_id, etag=answer.etag)
        assert event is not None
        self.own_writes[remote_id] = _strong(answer.etag)
        return event

    def create(self, event: RemoteEvent, *, idempotency_key: str) -> RemoteEvent:
        remote_id = name_for(idempotency_key)
        text = wire.event_to_ical(event, uid=remote_id.removesuffix(".ics"))
        try:
            answer = self._put(remote_id, text, {"If-None-Match": "*"})
        except PreconditionFailed:  # an earlier attempt with this key made it
            return self._adopt(remote_id, event)
        return self._written(remote_id, text, answer)

    def _adopt(self, remote_id: str, event: RemoteEvent) -> RemoteEvent:
        """The object an earlier create with the same key made, brought to ``event``."""
        current = self.get(remote_id)
        if current is None:
            raise BackendError(f"CalDAV PUT {remote_id}: name taken but unreadable")
        if current.crm_meeting_id != event.crm_meeting_id:
            raise Rejected(  # the name is taken for good: no retry frees it
                f"CalDAV PUT {remote_id}: the name holds another event "
                f"(tagged {current.crm_meeting_id!r}, wanted {event.crm_meeting_id!r})"
            )
        if current.content_hash() == event.content_hash():
            return current
        return self.update(remote_id, event, etag=current.etag)

    def _read_at(self, remote_id: str, etag: str) -> tuple[str, str]:
        """(text, etag) of the object, which must still be at ``etag`` (when one is given):
        PreconditionFailed, with nothing written, when the user changed it since."""
        text, current_etag = self._read(remote_id)
        if etag and current_etag and _strong(etag) != _strong(current_etag):
            raise PreconditionFailed(
                f"CalDAV GET {remote_id}: etag {current_etag}, the update expected {etag}"
            )
        return text, etag or current_etag

    def update(self, remote_id: str, event: RemoteEvent, *, etag: str) -> RemoteEvent:
        """Read-merge-write, one GET and one PUT (one write): the synced fields replaced,
        everything else of the user's kept (bridge.backends.caldav.merge). The object must
        still be at ``etag``: else PreconditionFailed without a write; NotFound when gone."""
        current, at = self._read_at(remote_id, etag)
        text = merge.merged(current, event, uid=remote_id.removesuffix(".ics"))
        answer = self._put(remote_id, text, {"If-Match": at})
        return self._written(remote_id, text, answer)

    def set_tag(self, remote_id: str, meeting_id: str, *, etag: str) -> RemoteEvent:
        """One GET and one PUT: X-CRM-MEETING-ID set, nothing else changed."""
        current, at = self._read_at(remote_id, etag)
        try:
            text = wire.with_tag(current, meeting_id)
        except wire.WireError as exc:
            raise Rejected(f"CalDAV set_tag {remote_id}: {exc}") from None
        answer = self._put(remote_id, text, {"If-Match": at})
        return self._written(remote_id, text, answer)

    def delete(self, remote_id: str, *, etag: str) -> None:
        headers = {"If-Match": etag} if etag else {}
        self.own_writes.pop(remote_id, None)
        self.session.send("DELETE", self.paths.object_url(remote_id), "", headers, one_object=True)

    # --- checks -----------------------------------------------------------------------------
    def check(self) -> str | None:
        """None, or what is wrong: server unreachable, credentials refused, calendar not
        found, not a calendar."""
        url = self.settings.url
        host = urlsplit(url).netloc
        try:
            answer = self.session.send(
                "PROPFIND",
                self.paths.url,
                dav.propfind("d:resourcetype"),
                {**dav.XML_HEADERS, "Depth": "0"},
            )
            entries = dav.parse_multistatus(answer.body).entries
        except NotFound:
            return f"calendar not found: {url}"
        except BackendError as exc:
            text = str(exc)
            if "unreachable" in text:
                return f"server unreachable: {host} ({text})"
            if isinstance(exc, AuthError):
                return f"credentials refused for {self.settings.username} at {host}"
            return text
        except ValueError as exc:
            return f"not a calendar: {url} ({exc})"
        if not any(e.is_calendar for e in entries):
            return f"not a calendar: {url}"
        return None
