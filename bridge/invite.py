"""The Invite action: the external copy of a CRM meeting, sent only when the organiser asks.

One ``Invites`` service for the REST API, the CLI and the tests. Through the organiser's
binding (their own calendar) and its ``InviteCapability`` it

- ``preview``s exactly what the external participants would receive (subject, time,
  location, organiser, attendees, the rendered template) and what the backend can do,
- ``send``s it (``send=False``: created unsent, where the backend can hold one),
- tells its ``state``: what was sent and, when the external-facing fields changed since
  (bridge.invite_drift), "out of date" and what differs,
- sends an ``update`` (SEQUENCE + 1) or a ``cancel`` only when asked.

The invite row is written (``pending``, with the idempotency key) before the remote create,
so a crash between the two retries with the same key and never makes a second copy
(invariant 7). Sync never imports the copy: it is tagged by the backend and its remote id
is in the ``invites`` table (RemoteSide.known_invite). The copy's UID is derived from the
binding and the key, never the meeting's UID (the CRM id never reaches guests).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Row

from bridge.backends.base import (
    Backend,
    BackendError,
    CannotCarry,
    InviteAbilities,
    InviteCapability,
    InviteCopy,
    NotFound,
    RemoteAttendee,
)
from bridge.config.invite import DEFAULT_TEMPLATE, LANGUAGES, InviteSettings
from bridge.invite_copy import ExternalView, external_view, invite_copy, merge_fields
from bridge.invite_drift import Difference, differences
from bridge.invite_render import TemplateProblem, render
from bridge.meeting_service import load_meeting, stored_overrides
from bridge.model import Meeting
from bridge.store import Store
from bridge.store import bindings as binding_store
from bridge.store import invites as invite_store
from bridge.store import meetings as meeting_store
from bridge.store import users as user_store

ORIGIN = "invite"


class InviteError(Exception):
    """The Invite action refused: ``status`` (HTTP), ``field`` (what is wrong), ``reason``."""

    def __init__(self, status: int, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.status = status
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Preview:
    meeting_uid: str
    binding: str
    template: str
    language: str
    subject: str
    start: str
    end: str
    all_day: bool
    timezone: str
    location: str
    organiser: RemoteAttendee
    attendees: tuple[RemoteAttendee, ...]
    description: str
    abilities: InviteAbilities
    #: The series' recurrence lines (RRULE, EXDATE, RDATE) and its moved or changed
    #: occurrences as guests get them (``ExternalOccurrence.fields()``); empty for one event.
    recurrence: tuple[str, ...] = ()
    occurrences: tuple[dict[str, Any], ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "meeting": self.meeting_uid,
            "binding": self.binding,
            "template": self.template,
            "language": self.language,
            "subject": self.subject,
            "start": self.start,
            "end": self.end,
            "all_day": self.all_day,
            "timezone": self.timezone,
            "location": self.location,
            "organiser": {"email": self.organiser.email, "name": self.organiser.name},
            "attendees": [{"email": a.email, "name": a.name} for a in self.attendees],
            "description": self.description,
            "can_send": self.abilities.can_send,
            "can_hold_unsent": self.abilities.can_hold_unsent,
            "note": self.abilities.note,
            "recurrence": list(self.recurrence),
            "occurrences": list(self.occurrences),
        }


@dataclass(frozen=True)
class InviteState:
    meeting_uid: str
    state: str  # none | pending | sent | held | cancelled
    remote_id: str | None = None
    sequence: int = 0
    recipients: tuple[str, ...] = ()
    sent_at: float | None = None
    template: str = ""
    language: str = ""
    out_of_date: bool = False
    differences: list[Difference] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "meeting": self.meeting_uid,
            "state": self.state,
            "remote_id": self.remote_id,
            "sequence": self.sequence,
            "recipients": list(self.recipients),
            "sent_at": self.sent_at,
            "template": self.template,
            "language": self.language,
            "out_of_date": self.out_of_date,
            "differences": [d.as_json() for d in self.differences],
        }


@dataclass
class _Context:
    meeting: Meeting
    binding: Row
    view: ExternalView


class Invites:
    """The Invite action over ``store``; ``backend_for(binding row)`` makes the organiser's
    backend (as the scheduler makes it); a backend it makes is closed after use."""

    def __init__(
        self,
        store: Store,
        settings: InviteSettings,
        backend_for: Callable[[Row], Backend],
    ) -> None:
        self.store = store
        self.settings = settings
        self.backend_for = backend_for

    # --- reading -----------------------------------------------------------------------

    def _context(self, conn: Connection, uid: str) -> _Context:
        row = meeting_store.by_uid(conn, uid)
        if row is None:
            raise InviteError(404, "meeting", f"no meeting {uid!r}")
        meeting = load_meeting(conn, row)
        if not meeting.organiser:
            raise InviteError(409, "organiser", "the meeting has no organiser among the users")
        binding = self._binding(conn, meeting.organiser)
        email = user_store.email_of(conn, meeting.organiser) or ""
        name = user_store.display_name_of(conn, meeting.organiser) or ""
        user_emails = set(user_store.login_by_email(conn))
        view = external_view(
            meeting,
            RemoteAttendee(email, name),
            user_emails,
            self.settings.internal_domains,
            stored_overrides(row),
        )
        return _Context(meeting, binding, view)

    @staticmethod
    def _binding(conn: Connection, login: str) -> Row:
        live = [b for b in binding_store.by_login(conn, login) if b.retired_at is None]
        if not live:
            raise InviteError(
                409, "organiser", f"the organiser {login!r} has no calendar binding to invite from"
            )
        return live[0]

    def _render(self, view: ExternalView, template: str, language: str) -> str:
        if language not in LANGUAGES:
            raise InviteError(
                400, "language", f"must be one of {', '.join(LANGUAGES)}, got {language!r}"
            )
        try:
            return render(
                self.settings.templates_dir,
                template,
                language,
                merge_fields(view, self.settings.organisation),
            )
        except TemplateProblem as problem:
            raise InviteError(422, problem.field, problem.reason) from None

    def _capability(self, backend: Backend, binding: Row) -> InviteCapability:
        capability = backend.invites()
        if capability is None:
            raise InviteError(
                409,
                "binding",
                f"the {binding.kind} calendar of binding {binding.name!r} cannot hold an invite",
            )
        return capability

    @staticmethod
    def _carried(cap: InviteCapability, copy: InviteCopy, binding: Row) -> None:
        """409 naming the field when the organiser's calendar cannot hold ``copy`` (a series
        with extra dates on Exchange or Graph, a rule Graph cannot express): asked before
        anything is stored or written."""
        try:
            cap.check(copy)
        except CannotCarry as refused:
            raise InviteError(
                409,
                refused.field,
                f"the {binding.kind} calendar of binding {binding.name!r} cannot hold this "
                f"invitation: {refused.reason}",
            ) from None

    def _with_backend(self, binding: Row, work: Callable[[InviteCapability], Any]) -> Any:
        backend = self.backend_for(binding)
        try:
            return work(self._capability(backend, binding))
        finally:
            backend.close()

    def _prepared(self, uid: str, template: str, language: str) -> tuple[_Context, str, str, str]:
        """The meeting's context, the template and language chosen and the rendered text;
        refused (naming the field) when the template fails or nobody is external."""
        ctx = self.store.read(lambda c: self._context(c, uid))
        template = template or DEFAULT_TEMPLATE
        language = language or self.settings.default_language
        description = self._render(ctx.view, template, language)
        if not ctx.view.attendees:
            raise InviteError(409, "attendees", "the meeting has no external participants")
        return ctx, template, language, description

    def preview(self, uid: str, *, template: str = "", language: str = "") -> Preview:
        """What the external participants would receive; refused (naming the field) when
        the template fails or there is nobody external to invite."""
        ctx, template, language, description = self._prepared(uid, template, language)

        def ask(cap: InviteCapability) -> InviteAbilities:
            self._carried(cap, invite_copy(ctx.view, description, sequence=0, uid=""), ctx.binding)
            return cap.abilities()

        abilities = self._with_backend(ctx.binding, ask)
        fields = ctx.view.fields()
        return Preview(
            uid,
            ctx.binding.name,
            template,
            language,
            ctx.view.subject,
            fields["start"],
            fields["end"],
            ctx.view.all_day,
            ctx.view.timezone,
            ctx.view.location,
            ctx.view.organiser,
            ctx.view.attendees,
            description,
            abilities,
            ctx.view.recurrence,
            tuple(o.fields() for o in ctx.view.overrides),
        )

    def state(self, uid: str) -> InviteState:
        def read(conn: Connection) -> InviteState:
            ctx = self._context(conn, uid)
            invite = invite_store.for_meeting(conn, ctx.binding.id, uid)
            if invite is None:
                return InviteState(uid, "none")
            diffs = differences(invite.sent_fields, ctx.view.fields()) if invite.live else []
            return InviteState(
                uid,
                invite.state,
                invite.remote_id,
                invite.sequence,
                invite.recipients,
                invite.sent_at,
                invite.template,
                invite.language,
                out_of_date=bool(diffs),
                differences=diffs,
            )

        return self.store.read(read)

    # --- acting ------------------------------------------------------------------------

    @staticmethod
    def _check_send(abilities: InviteAbilities, send: bool) -> None:
        if send and not abilities.can_send:
            raise InviteError(
                409, "send", f"this calendar cannot send invitations: {abilities.note}"
            )
        if not send and not abilities.can_hold_unsent:
            raise InviteError(
                409, "send", f"this calendar cannot hold an unsent invitation: {abilities.note}"
            )

    def send(
        self, uid: str, *, template: str = "", language: str = "", send: bool = True
    ) -> InviteState:
        """Create the external copy (mailed when ``send``); refused when one is live."""
        ctx, template, language, description = self._prepared(uid, template, language)
        binding, view = ctx.binding, ctx.view

        def create(cap: InviteCapability) -> None:
            self._check_send(cap.abilities(), send)
            self._carried(cap, invite_copy(view, description, sequence=0, uid=""), binding)
            try:  # a pending invite (a failed or concurrent send) keeps its key
                invite = self.store.write(
                    lambda tx: invite_store.begin(
                        tx,
                        binding.id,
                        uid,
                        idempotency_key=f"invite:{binding.id}:{uuid.uuid4().hex}",
                        sent_hash=view.content_hash(),
                        sent_fields=view.fields(),
                        recipients=view.recipients,
                        template=template,
                        language=language,
                    ),
                    origin=ORIGIN,
                )
            except invite_store.AlreadyLive as live:
                raise InviteError(409, "meeting", str(live)) from None
            key = invite.idempotency_key
            copy = invite_copy(view, description, sequence=0, uid=copy_uid(key))
            try:
                made = cap.create_invite(copy, send=send, idempotency_key=key)
            except BackendError as exc:
                raise InviteError(
                    502, "binding", f"the calendar refused the invite: {exc}"
                ) from exc
            self.store.write(
                lambda tx: invite_store.created(
                    tx, invite.id, remote_id=made.remote_id, etag=made.etag, mailed=made.mailed
                ),
                origin=ORIGIN,
            )

        self._with_backend(binding, create)
        return self.state(uid)

    def _live(self, conn: Connection, uid: str) -> tuple[_Context, invite_store.Invite]:
        ctx = self._context(conn, uid)
        invite = invite_store.for_meeting(conn, ctx.binding.id, uid)
        if invite is None or invite.state not in (invite_store.SENT, invite_store.HELD):
            state = "none" if invite is None else invite.state
            raise InviteError(409, "meeting", f"no invite to change (the invite is {state})")
        assert invite.remote_id is not None
        return ctx, invite

    def update(
        self, uid: str, *, template: str = "", language: str = "", send: bool = True
    ) -> InviteState:
        """Send the meeting's external-facing fields as they are now (SEQUENCE + 1)."""
        ctx, invite = self.store.read(lambda c: self._live(c, uid))
        template = template or invite.template or DEFAULT_TEMPLATE
        language = language or invite.language or self.settings.default_language
        description = self._render(ctx.view, template, language)
        if not ctx.view.attendees:
            raise InviteError(
                409, "attendees", "the meeting has no external participants left: cancel instead"
            )
        sequence = invite.sequence + 1
        copy = invite_copy(
            ctx.view, description, sequence=sequence, uid=copy_uid(invite.idempotency_key)
        )
        remote_id = invite.remote_id or ""

        def change(cap: InviteCapability) -> None:
            abilities = cap.abilities()
            self._check_send(abilities, send)
            self._carried(cap, copy, ctx.binding)
            back = _excluded(invite.sent_fields) - _excluded(ctx.view.fields())
            if back and not abilities.restores_occurrences:
                raise InviteError(
                    409,
                    "recurrence",
                    f"the guests were sent a cancellation of {', '.join(sorted(back))}; the "
                    f"{ctx.binding.kind} calendar cannot bring an occurrence back: cancel the "
                    "invite and send it again",
                )
            try:
                made = cap.update_invite(remote_id, copy, send=send, etag="")
            except NotFound as exc:
                raise InviteError(
                    410, "meeting", f"the external copy is gone from the calendar: {exc}"
                ) from exc
            except BackendError as exc:
                raise InviteError(
                    502, "binding", f"the calendar refused the update: {exc}"
                ) from exc
            self.store.write(
                lambda tx: invite_store.updated(
                    tx,
                    invite.id,
                    etag=made.etag,
                    mailed=made.mailed,
                    sent_hash=ctx.view.content_hash(),
                    sent_fields=ctx.view.fields(),
                    recipients=ctx.view.recipients,
                    sequence=sequence,
                ),
                origin=ORIGIN,
            )

        self._with_backend(ctx.binding, change)
        return self.state(uid)

    def _live_or_orphan(self, conn: Connection, uid: str) -> tuple[Row, invite_store.Invite]:
        """The binding and live invite of ``uid``; when the meeting was deleted in the CRM
        meanwhile, the invite it left (so its guests can still be told)."""
        if meeting_store.by_uid(conn, uid) is not None:
            ctx, invite = self._live(conn, uid)
            return ctx.binding, invite
        left = [i for i in invite_store.live_by_meeting(conn, uid) if i.remote_id]
        if not left:
            raise InviteError(404, "meeting", f"no meeting {uid!r} and no invite of it")
        binding = binding_store.get(conn, left[0].binding_id)
        assert binding is not None  # invites go with their binding (ON DELETE CASCADE)
        return binding, left[0]

    def cancel(self, uid: str, *, send: bool = True) -> InviteState:
        """Cancel the external copy (the cancellation mailed when ``send``); also the copy
        of a meeting deleted in the CRM since it was sent."""
        binding, invite = self.store.read(lambda c: self._live_or_orphan(c, uid))
        remote_id = invite.remote_id or ""

        def drop(cap: InviteCapability) -> None:
            self._check_send(cap.abilities(), send)
            try:
                cap.cancel_invite(remote_id, send=send, etag="")
            except NotFound:
                pass  # already gone: the organiser deleted it; nothing left to cancel
            except BackendError as exc:
                raise InviteError(
                    502, "binding", f"the calendar refused the cancel: {exc}"
                ) from exc
            self.store.write(lambda tx: invite_store.cancelled(tx, invite.id), origin=ORIGIN)

        self._with_backend(binding, drop)
        if self.store.read(lambda c: meeting_store.by_uid(c, uid)) is None:
            return InviteState(uid, invite_store.CANCELLED, remote_id, invite.sequence)
        return self.state(uid)


def _excluded(fields: dict[str, Any]) -> set[str]:
    """The excluded dates (EXDATE values) among stored or current view fields."""
    lines = fields.get("recurrence") or []
    return {line.partition(":")[2] for line in lines if line.startswith("EXDATE")}


def copy_uid(idempotency_key: str) -> str:
    """The external copy's iCalendar UID: from the invite's key, not the meeting."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    return f"{digest}@invite.crm-bridge.invalid"
