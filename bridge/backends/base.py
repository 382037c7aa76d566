"""The seam between sync and calendar backends: the vocabulary every backend speaks.

A backend translates one service's wire to these types and back and holds no sync rule:
which meeting becomes which event, and what "private" means, is bridge.sync.mapping's.

- ``RemoteEvent``: a live event (a whole series: master plus overrides) as every backend
  reports and accepts it. ``Deleted``: an event gone from the calendar, by id alone.
- ``Backend``: everything the engine calls. ``BaseBackend`` gives the parts with a
  sensible default (one-by-one ``create_many``, no push, nothing to close).
- ``PushChannel``: the optional push capability of a backend (``Backend.push()``), and
  ``PushReceiver``: how a kind's webhook request names the channel it is about.
- One exception family: ``BackendError`` and its kinds, ``AuthError`` for every backend.

Conventions every backend follows when it builds a RemoteEvent:

- datetimes are timezone-aware; all-day events start and end at midnight UTC of their dates,
  the end exclusive (as bridge.model.Meeting); ``timezone`` is an IANA name.
- ``recurrence`` holds iCalendar lines of the series master: ``RRULE:...``, ``EXDATE:...``,
  ``RDATE:...``; EXDATE/RDATE values in UTC (``20260105T090000Z``) or, for all-day series,
  ``EXDATE;VALUE=DATE:20260105`` (bridge.backends.recurrence). Cancelled occurrences are
  folded into EXDATE lines, so a cancelled instance and an excluded date are one thing.
- ``overrides`` holds each moved or changed occurrence, keyed by its RECURRENCE-ID in the
  format of bridge.model.Recurrence.overrides.
- ``crm_meeting_id`` is the tag every copy we create carries (Google
  extendedProperties.private, a CalDAV X- property, an EWS/Graph named extended property).
  ``is_invite_copy`` marks the external copy the Invite action made: inbound sync never
  takes it (invariant 4).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from bridge.backends.recurrence import normalise_recurrence, text_of, utc_text
from bridge.model import BusyStatus, Override


class BackendError(Exception):
    """A backend call failed in a way the engine should retry later."""


class ResyncRequired(BackendError):
    """The change cursor expired (Google 410, bad EWS SyncState, Graph 410): list from None."""


class PreconditionFailed(BackendError):
    """The etag/changekey given to update or delete no longer matches the remote event."""


class NotFound(BackendError):
    """The remote event does not exist (any more)."""


class AuthError(BackendError):
    """The service refused the binding's credentials (expired or revoked token, wrong
    password, missing permission). Every backend raises this one type; ``check()`` says
    which of these it is, in words."""


class Rejected(BackendError):
    """The remote refuses this one event, and would refuse the same write again: it is
    invalid there (HTTP 400), the user may not change it (403 for an event they only
    attend), or it names an instance the series does not have. Sync quarantines that one
    event; every other BackendError is about the service or the account and backs off the
    whole binding (bridge.sync.plan_faults)."""


class CannotCarry(Rejected):
    """The service cannot hold an invite copy as it stands (a series it cannot express, an
    organiser who is not the binding's mailbox, ...), found before anything is written:
    ``field`` names the part of the copy, ``reason`` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class RemoteAttendee:
    email: str
    name: str = ""
    partstat: str = "NEEDS-ACTION"


# One moved or changed occurrence of a series: the model's Override, on the wire as in the
# store (RECURRENCE-ID key in the format of bridge.model.Recurrence.overrides).
RemoteOverride = Override


@dataclass(frozen=True)
class RemoteEvent:
    """An event in a user's own calendar, as every backend reports and accepts it.

    ``remote_id`` and ``etag`` are empty on an event not yet created. ``updated`` is the
    remote's last-modified time, if known. A deleted event is a ``Deleted``, never this.
    """

    remote_id: str
    start: datetime
    end: datetime
    etag: str = ""
    crm_meeting_id: str | None = None
    is_invite_copy: bool = False
    subject: str = ""
    location: str = ""
    description: str = ""
    all_day: bool = False
    timezone: str = "UTC"
    recurrence: tuple[str, ...] = ()
    overrides: tuple[RemoteOverride, ...] = ()
    private: bool = False
    busy: BusyStatus = BusyStatus.BUSY
    attendees: tuple[RemoteAttendee, ...] = ()
    updated: datetime | None = None

    @property
    def has_attendees(self) -> bool:
        return bool(self.attendees)

    def content_hash(self) -> str:
        """sha256 hex of exactly the fields sync carries in both directions once linked.

        Hashed: subject, location, description (line endings normalised, outer whitespace
        stripped), start and end (as UTC instants), all_day, timezone (timed events only),
        recurrence (normalised: one value per EXDATE/RDATE line, RRULE parts sorted, lines
        sorted), overrides (sorted by RECURRENCE-ID, each with its times, texts and busy),
        private and busy.

        Not hashed: remote_id, etag, updated (bookkeeping); crm_meeting_id and
        is_invite_copy (identity, not content); attendees — sync never writes them
        (invariant 3), so they could never compare like with like, and inbound updates never
        touch a meeting's participants. The same function hashes the event we push and the
        event we pull, which is what makes echo suppression (invariant 2) exact.
        """
        content = {
            "subject": text_of(self.subject),
            "location": text_of(self.location),
            "description": text_of(self.description),
            "start": utc_text(self.start),
            "end": utc_text(self.end),
            "all_day": self.all_day,
            "timezone": "" if self.all_day else self.timezone,
            "recurrence": normalise_recurrence(self.recurrence),
            "overrides": sorted(
                [
                    o.recurrence_id,
                    utc_text(o.start),
                    utc_text(o.end),
                    text_of(o.subject),
                    text_of(o.location),
                    text_of(o.description),
                    str(o.busy),
                ]
                for o in self.overrides
            ),
            "private": self.private,
            "busy": str(self.busy),
        }
        data = json.dumps(content, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(data.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Deleted:
    """An event deleted from the calendar: only its id, and when it was deleted if the
    wire says so (Google does not; sync then dates it when the pull saw it)."""

    remote_id: str
    deleted_at: datetime | None = None


#: What a pull reports for one event.
Change = RemoteEvent | Deleted


@dataclass(frozen=True)
class Window:
    """The time range a binding's rules sync: [start, end). Graph's calendarView delta
    needs it; a backend that can list everything may ignore it (sync filters anyway)."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class ChangePage:
    """One page of a pull. ``cursor`` is set on the last page only: the position to list
    from next time, stored by the engine after every page was applied."""

    changes: Sequence[Change]
    cursor: str | None = None


class Backend(Protocol):
    """What the engine needs of a calendar backend: this and nothing else.

    Every write is silent (invariant 3): Google sendUpdates=none, EWS SendToNone, no
    attendees on any event we write. One Backend serves one binding for as long as its
    process keeps the binding (tokens, connections and pacing carry across rounds).
    """

    #: The binding kind, as in the config file ("google", "caldav", ...).
    kind: str

    def list_changes(self, cursor: str | None, window: Window) -> Iterator[ChangePage]:
        """The events changed since ``cursor`` (None: every event), page by page.

        The last page carries the new cursor. Raises ResyncRequired (from the first page)
        when the cursor has expired; the engine then lists from None and matches by link
        and by tag.
        """
        ...

    def get(self, remote_id: str) -> Change | None:
        """The event as it is now, Deleted when deleted, None when unknown."""
        ...

    def find_by_meeting_id(self, meeting_id: str) -> RemoteEvent | None:
        """The sync copy tagged with ``meeting_id``; never the Invite action's copy."""
        ...

    def create(self, event: RemoteEvent, *, idempotency_key: str) -> RemoteEvent:
        """Create ``event`` tagged with its crm_meeting_id; the same key never makes two
        events (Google client-chosen id, Graph transactionId, CalDAV and EWS: the key
        names the resource or is looked up first)."""
        ...

    def create_many(
        self, events: Sequence[tuple[RemoteEvent, str]]
    ) -> list[RemoteEvent | BackendError]:
        """Create (event, idempotency_key) pairs: one result per pair, the created event
        or the BackendError of that one alone."""
        ...

    def update(self, remote_id: str, event: RemoteEvent, *, etag: str) -> RemoteEvent:
        """Replace the synced fields (never attendees); PreconditionFailed on an etag
        mismatch, NotFound when the event is gone."""
        ...

    def set_tag(self, remote_id: str, meeting_id: str, *, etag: str) -> RemoteEvent:
        """Write the CRM id onto an event and nothing else (no content, no attendees: on
        Graph a full update of an organiser's meeting mails its attendees)."""
        ...

    def delete(self, remote_id: str, *, etag: str) -> None:
        """Delete the event; PreconditionFailed on etag mismatch, NotFound if already gone."""
        ...

    def check(self) -> str | None:
        """None when the credentials and the calendar work, else what is wrong, in words
        an admin can act on (bad password, unknown calendar, missing permission, ...)."""
        ...

    def push(self) -> PushChannel | None:
        """The push capability, or None when this backend (or its server) has none."""
        ...

    def invites(self) -> InviteCapability | None:
        """The Invite action's capability (an external copy with attendees, sent only on
        the organiser's explicit request), or None when this backend cannot hold one."""
        ...

    def changed_secret(self) -> Mapping[str, Any] | None:
        """The binding's stored secret as it must now be, when the service changed it
        (a refresh token rotated in by a token refresh), else None. Reported once per
        change; the scheduler asks after every round and stores it (encrypted), so a new
        process signs in with the newest."""
        ...

    def close(self) -> None:
        """Release connections; the backend is not used again."""
        ...


class BaseBackend:
    """Defaults for the optional parts of Backend. Subclasses set ``kind``."""

    kind: str = ""

    def create(self, event: RemoteEvent, *, idempotency_key: str) -> RemoteEvent:
        raise NotImplementedError

    def create_many(
        self, events: Sequence[tuple[RemoteEvent, str]]
    ) -> list[RemoteEvent | BackendError]:
        """One create after the other; an error other than BackendError propagates."""
        results: list[RemoteEvent | BackendError] = []
        for event, key in events:
            try:
                results.append(self.create(event, idempotency_key=key))
            except BackendError as error:
                results.append(error)
        return results

    def push(self) -> PushChannel | None:
        return None

    def invites(self) -> InviteCapability | None:
        return None

    def changed_secret(self) -> Mapping[str, Any] | None:
        return None

    def close(self) -> None:
        return None


# --- the Invite action -------------------------------------------------------------------


@dataclass(frozen=True)
class InviteCopy:
    """The external copy of a meeting the Invite action puts in the organiser's own calendar.

    It carries only what external participants may see: no CRM id (guests never see it; the
    copy is tagged as an invite copy by the backend's own hidden marker), no internal notes
    (``description`` is the rendered invitation template), no internal attendees.
    ``attendees`` are the external participants only; ``organiser`` is the binding's owner.
    ``sequence`` is the iCalendar SEQUENCE (0 at first send, +1 on every sent update).
    A series' excluded dates are EXDATE lines of ``recurrence``; ``overrides`` are its
    moved or changed occurrences (times, subject, location; their description is the
    rendered invitation text, never the CRM's).
    """

    subject: str
    start: datetime
    end: datetime
    organiser: RemoteAttendee
    attendees: tuple[RemoteAttendee, ...]
    description: str = ""
    location: str = ""
    all_day: bool = False
    timezone: str = "UTC"
    recurrence: tuple[str, ...] = ()
    sequence: int = 0
    uid: str = ""
    overrides: tuple[RemoteOverride, ...] = ()

    def as_event(self) -> RemoteEvent:
        """The copy's content as a RemoteEvent (busy, not private, marked as the invite
        copy, no CRM id, no attendees; a series with its EXDATE lines and overrides) for a
        backend's wire module and series writer to write."""
        return RemoteEvent(
            remote_id="",
            start=self.start,
            end=self.end,
            is_invite_copy=True,
            subject=self.subject,
            location=self.location,
            description=self.description,
            all_day=self.all_day,
            timezone=self.timezone or "UTC",
            recurrence=self.recurrence,
            overrides=self.overrides if self.recurrence else (),
        )


@dataclass(frozen=True)
class SentInvite:
    """The external copy as the service stored it; ``mailed`` says whether the service sent
    (or will send) the invitation/update/cancellation to the attendees."""

    remote_id: str
    etag: str
    mailed: bool


@dataclass(frozen=True)
class InviteAbilities:
    """What a backend's invite capability can do, for the preview to say before sending.

    ``can_send``: it can make the service mail the attendees. ``can_hold_unsent``: it can
    create the copy without mailing anyone (``send=False``), for the organiser to send it from
    their calendar. ``note``: in words, why something is not possible (shown in the preview).
    ``restores_occurrences``: an update can bring back an occurrence the copy excluded (and
    its guests were sent a cancellation of); EWS and Graph cannot, so such an update is
    refused there (cancel the invite and send it again).
    """

    can_send: bool
    can_hold_unsent: bool
    note: str = ""
    restores_occurrences: bool = True


class InviteCapability(Protocol):
    """Create, update and cancel the Invite action's external copy in the organiser's own
    calendar. The only writes of the bridge that carry attendees or mail anyone, and only when
    ``send`` is true. Errors are the seam's BackendError family."""

    def abilities(self) -> InviteAbilities:
        """What this backend can do with an invite (see InviteAbilities)."""
        ...

    def check(self, copy: InviteCopy) -> None:
        """CannotCarry, naming the field, when this service cannot hold ``copy`` (e.g. a
        series with extra dates where the service has no RDATE); asks and writes nothing."""
        ...

    def create_invite(self, copy: InviteCopy, *, send: bool, idempotency_key: str) -> SentInvite:
        """Create the external copy (tagged as an invite copy, never with a CRM id); the same
        key never makes two copies. ``send`` false: nobody is mailed (refused with Rejected
        where the service cannot hold an unsent copy with attendees)."""
        ...

    def update_invite(
        self, remote_id: str, copy: InviteCopy, *, send: bool, etag: str
    ) -> SentInvite:
        """Replace the external copy's fields and attendees; ``send`` mails the update.
        PreconditionFailed on etag mismatch (pass "" to skip the check), NotFound if gone."""
        ...

    def cancel_invite(self, remote_id: str, *, send: bool, etag: str) -> None:
        """Cancel (delete) the external copy; ``send`` mails the cancellation. NotFound if
        it is already gone."""
        ...


# --- push ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subscription:
    """A push subscription as the service confirmed it. ``id`` is the id the notification
    will name: ours (Google channel id) or the service's (Graph subscription id);
    ``resource_id`` the service's name for what is watched, when it has one."""

    id: str
    expires_at: datetime | None
    resource_id: str = ""


class PushChannel(Protocol):
    """A backend's push capability: the service calls ``address`` when the calendar
    changes, and the bridge makes the binding due (it never syncs in the webhook)."""

    #: The longest lifetime the service grants a subscription (Google ~7 days for
    #: events.watch; Graph 7 days less a minute for events).
    max_lifetime: timedelta

    def open(self, address: str, channel_id: str, token: str, lifetime: timedelta) -> Subscription:
        """Open a subscription whose notifications carry ``channel_id`` (or the
        service's own id, returned) and ``token``."""
        ...

    def renew(self, subscription: Subscription, lifetime: timedelta) -> Subscription | None:
        """Extend ``subscription`` in place; None when the service cannot (Google): the
        caller opens a new one and stops the old."""
        ...

    def stop(self, subscription: Subscription) -> None:
        """End ``subscription``; NotFound when it is unknown or already gone."""
        ...


@dataclass(frozen=True)
class PushNotice:
    """What one notification says, before it is trusted: the channel it names, the secret
    it carries, the watched resource, its order and whether it means "changed"."""

    channel_id: str
    token: str
    resource_id: str = ""
    message_number: int | None = None
    changed: bool = True
    #: What is wrong with the notice beyond the channel it names (a missing or malformed
    #: message number): answered 400 once the channel is known and the token checked.
    problem: str = ""
    #: The service says notices were lost (Graph's ``missed``): the binding's change cursor
    #: is dropped, so its next round lists every event again (a resync), and it is made due.
    resync: bool = False
    #: The subscription must be renewed now, not at its usual time (Graph's
    #: ``reauthorizationRequired``, ``subscriptionRemoved``): the process that keeps the
    #: channels renews it (or opens a new one) at once.
    renew: bool = False


@dataclass(frozen=True)
class PushReply:
    """An answer the service expects: before any notice (Graph's validation handshake), or
    as the acknowledgement of the notices (EWS's SendNotificationResult)."""

    status: int
    body: str
    content_type: str = "text/plain"


class PushReceiver(Protocol):
    """How a kind's webhook request is read (one per kind, no binding known yet)."""

    def read(
        self, headers: Mapping[str, str], query: Mapping[str, str], body: bytes
    ) -> list[PushNotice] | PushReply:
        """The notices in the request, or the reply it asks for; ValueError naming the
        problem when the request is malformed (answered 400)."""
        ...

    def acknowledge(self, status: int) -> PushReply | None:
        """The answer to a request whose notices the webhook checked, ``status`` being its
        verdict: 200 accepted (or an ignored replay), 404 unknown channel, 410 expired
        channel, 403/400 refused. None keeps the webhook's own answer (an empty 200, or
        the refusal's status and reason); EWS answers 200 with a SOAP body saying OK or
        Unsubscribe."""
        ...
