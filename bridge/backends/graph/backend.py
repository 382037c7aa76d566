"""Microsoft 365 backend: the Backend protocol over Microsoft Graph v1.0.

One GraphBackend per binding (mailbox), kept across rounds: its msal token is shared with
every binding of the same app registration, its HTTP session and pacing with the process.
It translates through bridge.backends.graph.wire and holds no sync rules.

Silent writes (invariant 3): Graph cannot suppress invitations, so no body we write
carries attendees, and an event the user organises WITH attendees (a meeting made in
Outlook) is never changed in its content nor deleted by sync: such a write is ``Rejected``
with the reason (the event then syncs calendar -> CRM only, and the refusal shows in the
binding's status). The tag write is a PATCH of our extended property alone, which mails
no one. The one exception is the Invite action's copy (invite.py), written with attendees
only on the organiser's explicit request: Graph mails them, and cannot hold it unsent.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from bridge.backends.base import (
    BackendError,
    BaseBackend,
    Change,
    ChangePage,
    Deleted,
    InviteCapability,
    NotFound,
    PushChannel,
    Rejected,
    RemoteEvent,
    ResyncRequired,
    Window,
)
from bridge.backends.graph import occurrences as occ
from bridge.backends.graph import wire
from bridge.backends.graph.auth import TokenSource
from bridge.backends.graph.delta import Cursor, DeltaPull
from bridge.backends.graph.http import GraphClient, raise_for
from bridge.backends.graph.reads import Reader
from bridge.backends.graph.series import SeriesWriter, rule_of
from bridge.backends.graph.settings import GraphSettings
from bridge.backends.kinds import SecretCell

log = logging.getLogger("bridge.backends.graph")

#: Namespace of the transactionIds derived from idempotency keys.
TRANSACTION_NS = uuid.UUID("0f9d3a52-5a57-4a0e-9a3b-7c3f1e1b6a01")


def transaction_id(key: str) -> str:
    return str(uuid.uuid5(TRANSACTION_NS, key))


class GraphBackend(BaseBackend):
    """One mailbox's calendar as a Backend."""

    kind = "graph"

    def __init__(self, settings: GraphSettings, cell: SecretCell | None = None) -> None:
        self.settings = settings
        self.tokens = TokenSource(settings, cell)
        self.http = GraphClient(settings, self.tokens)
        self.base = f"/users/{quote(settings.mailbox, safe='@')}"
        self.reader = Reader(self.http, self.base, settings.page_size)
        slack = timedelta(days=settings.rebaseline_days)
        self.delta = DeltaPull(self.http, self.reader, self.base, settings.page_size, slack)
        self.series = SeriesWriter(self.http, self.reader)
        self.groups = occ.OccurrenceGroups(self.http, self.base)
        self.window: Window | None = None  # the last pull's: where occurrences are written
        now = datetime.now(UTC)
        self.until = now + timedelta(days=400)  # how far series instances are read
        #: id -> whether a write would mail someone (organised, with attendees), per read
        self.noisy = self.reader.noisy
        self._stored_refresh = settings.refresh_token  # the last one reported as stored

    def close(self) -> None:
        self.http.close()

    def changed_secret(self) -> Mapping[str, Any] | None:
        """A delegated binding's refresh token, once after Entra rotated it (the scheduler
        stores it, so a restart does not sign in with one Entra may refuse). None when the
        backend has the stored secret at hand: it stored it itself, by compare-and-set."""
        newest = self.tokens.refresh_token
        if self.tokens.cell is not None:
            return None
        if self.settings.app_only or not newest or newest == self._stored_refresh:
            return None
        self._stored_refresh = newest
        return {"refresh_token": newest}

    # --- reading ----------------------------------------------------------------------------
    def list_changes(self, cursor: str | None, window: Window) -> Iterator[ChangePage]:
        self.until = window.end + self.delta.slack
        self.window = window
        for page in self.delta.pages(cursor, window):
            for change in page.changes:
                if isinstance(change, RemoteEvent):
                    self._note(change)
            if page.cursor is not None:
                page = ChangePage(page.changes, self._slide_groups(cursor, page.cursor, window))
            yield page

    def _slide_groups(self, old: str | None, new: str, window: Window) -> str:
        """``new`` with the table of occurrence groups carried over from ``old`` and the
        pull, each group written on to the window's end (+ ``rebaseline_days``) when the
        window slid past how far it reached."""
        table: dict[str, datetime | None] = {}
        if old:
            try:
                table.update(Cursor.load(old).groups)
            except ResyncRequired:
                pass
        for found in (self.delta.groups, self.groups.noted):
            for group, until in found.items():
                known = table.get(group)
                table[group] = max(until, known) if until and known else (until or known)
        for group, until in self.groups.noted.items():
            if until is None:
                table.pop(group, None)  # removed by this backend
        self.groups.noted.clear()
        reach = window.end + self.delta.slack
        covered: dict[str, datetime] = {}
        for group, until in sorted(table.items()):
            if until is not None and until >= window.end:
                covered[group] = until
                continue
            try:
                now_until = self.groups.extend(group, until, reach)
            except BackendError as error:  # tried again next pull
                log.warning("Microsoft Graph: occurrences of %s not extended: %s", group, error)
                if until is not None:
                    covered[group] = until
                continue
            if now_until is not None:
                covered[group] = now_until
        return replace(Cursor.load(new), groups=covered).dump()

    def _wrote(self, event: RemoteEvent) -> RemoteEvent:
        self.delta.written.add(event.remote_id)
        self.noisy.setdefault(event.remote_id, False)  # we write no attendees
        return self._note(event)

    def _note(self, event: RemoteEvent) -> RemoteEvent:
        """Remember what a read or write showed of ``event``; returns it."""
        if event.recurrence:
            self.delta.known.pop(event.remote_id, None)
        else:
            self.delta.known[event.remote_id] = event
        return event

    def get(self, remote_id: str) -> Change | None:
        if occ.is_group(remote_id):
            return self.groups.read(remote_id)
        event = self.reader.events([remote_id], self.until)[remote_id]
        if event is not None:
            self._note(event)
        return event

    def find_by_meeting_id(self, meeting_id: str) -> RemoteEvent | None:
        prop = wire.CRM_ID_PROPERTY
        value = meeting_id.replace("'", "''")
        flt = f"singleValueExtendedProperties/Any(ep: ep/id eq '{prop}' and ep/value eq '{value}')"
        reply = self.http.call(
            "GET",
            f"{self.base}/events",
            params={"$filter": flt, "$expand": wire.EXPAND_TAGS, "$top": "10"},
        )
        raise_for(reply, "GET events by tag", mailbox=True)
        copies = False
        for item in (reply.body or {}).get("value", []):
            tags = wire.tags_of(item)
            if wire.is_invite_copy(tags) or item.get("type") in ("occurrence", "exception"):
                continue
            if tags.get(wire.OCCURRENCE_PROPERTY.lower()):
                copies = True  # a copy of one occurrence: the group is the sync copy
                continue
            event = self.reader.whole({item["id"]: item}, self.until)[item["id"]]
            self._note(event)
            return event
        return self.groups.for_meeting(meeting_id) if copies else None

    # --- writing ----------------------------------------------------------------------------
    def _rule(self, event: RemoteEvent) -> dict[str, Any] | None:
        return rule_of(event, self.settings.unsupported_recurrence)

    def _as_occurrences(self, event: RemoteEvent) -> bool:
        """Whether ``event`` is written as single occurrences: its rule is one Graph cannot
        express and the binding says ``unsupported_recurrence = "occurrences"``."""
        if self.settings.unsupported_recurrence != "occurrences" or not event.recurrence:
            return False
        try:
            self._rule(event)
        except Rejected:
            return True
        return False

    def _occurrences(self, event: RemoteEvent, group: str, etag: str | None = None) -> RemoteEvent:
        """Writes the copies up to the window's end + ``rebaseline_days``, as far as the
        next pulls' extending reaches (``_slide_groups``)."""
        window = self.window or occ.default_window(self.until)
        reach = Window(window.start, window.end + self.delta.slack)
        return self.groups.write(event, group, reach, etag=etag)

    def create(self, event: RemoteEvent, *, idempotency_key: str) -> RemoteEvent:
        if self._as_occurrences(event):
            group = occ.group_of(idempotency_key, event.crm_meeting_id or "")
            return self._occurrences(event, group)
        body = wire.create_body(event, transaction_id(idempotency_key), self._rule(event))
        reply = self.http.call("POST", f"{self.base}/events", body=body)
        raise_for(reply, "POST event")
        return self._wrote(self._created(reply.body, event))

    def _created(self, item: dict[str, Any], event: RemoteEvent) -> RemoteEvent:
        """The event a POST answered (possibly an earlier attempt's, by transactionId),
        brought to ``event``'s content and overrides."""
        self.noisy[item["id"]] = False
        if item.get("type") != "seriesMaster":
            made = wire.single_from_graph(item, wire.tags_for(event))
            if made.content_hash() == event.content_hash():
                return made
            return self._patch(item["id"], event, made.etag)
        return self.series.finish(item, event, self.until)

    def create_many(
        self, events: Sequence[tuple[RemoteEvent, str]]
    ) -> list[RemoteEvent | BackendError]:
        """POSTs in JSON $batch of up to 20; each part's 429 is retried by the client."""
        if len(events) <= 1:
            return super().create_many(events)
        results: list[RemoteEvent | BackendError] = []
        parts: list[dict[str, Any]] = []
        slots: list[int] = []
        for event, key in events:
            try:
                if self._as_occurrences(event):
                    results.append(self.create(event, idempotency_key=key))
                    continue
                body = wire.create_body(event, transaction_id(key), self._rule(event))
            except BackendError as error:
                results.append(error)
                continue
            slots.append(len(results))
            results.append(BackendError("not sent"))
            parts.append(
                {
                    "method": "POST",
                    "url": f"{self.base}/events",
                    "body": body,
                    "headers": {"Content-Type": "application/json"},
                }
            )
        try:
            replies = self.http.batch(parts)
        except BackendError as error:
            return [error] * len(events)
        for slot, reply in zip(slots, replies, strict=True):
            event = events[slot][0]
            try:
                raise_for(reply, "POST event ($batch)")
                results[slot] = self._wrote(self._created(reply.body, event))
            except BackendError as error:
                results[slot] = error
        return results

    def _refuse_if_noisy(self, remote_id: str, what: str) -> None:
        """Rejected when a write to ``remote_id`` would mail its attendees."""
        noisy = self.noisy.get(remote_id)
        if noisy is None:
            reply = self.http.call(
                "GET", f"{self.reader.event_path(remote_id)}?$select=id,attendees,isOrganizer"
            )
            raise_for(reply, "GET event")
            noisy = wire.organises_meeting(reply.body or {})
            self.noisy[remote_id] = noisy
        if noisy:
            raise Rejected(
                f"Microsoft Graph: not {what} {remote_id}: it is a meeting with attendees the "
                "user organises in Outlook, and Graph would mail them; it syncs calendar -> CRM"
                " only"
            )

    def _patch(self, remote_id: str, event: RemoteEvent, etag: str) -> RemoteEvent:
        body = wire.event_body(event, rule=self._rule(event))
        headers = {"If-Match": etag} if etag else {}
        reply = self.http.call(
            "PATCH", self.reader.event_path(remote_id), body=body, headers=headers
        )
        raise_for(reply, "PATCH event")
        item = reply.body
        if item.get("type") == "seriesMaster":
            return self._wrote(self.series.finish(item, event, self.until))
        return self._wrote(wire.single_from_graph(item, wire.tags_for(event)))

    def update(self, remote_id: str, event: RemoteEvent, *, etag: str) -> RemoteEvent:
        if occ.is_group(remote_id):
            if isinstance(self.groups.read(remote_id), Deleted):
                raise NotFound(f"Microsoft Graph: no occurrence of {remote_id} is left")
            if self._as_occurrences(event):
                return self._occurrences(event, remote_id, etag)
            made = self.create(event, idempotency_key=f"{remote_id}:{event.content_hash()}")
            self.groups.remove(self.groups.copies(remote_id))  # a rule Graph can now say
            return made
        if self._as_occurrences(event):  # a rule Graph cannot say replaces a plain event
            self.delete(remote_id, etag=etag)  # first: a failure here leaves no duplicate
            return self.create(event, idempotency_key=f"{remote_id}:{event.content_hash()}")
        self._refuse_if_noisy(remote_id, "updating")
        return self._patch(remote_id, event, etag)

    def set_tag(self, remote_id: str, meeting_id: str, *, etag: str) -> RemoteEvent:
        headers = {"If-Match": etag} if etag else {}
        reply = self.http.call(
            "PATCH",
            self.reader.event_path(remote_id),
            body=wire.tag_body(meeting_id),
            headers=headers,
        )
        raise_for(reply, "PATCH tag")
        item = reply.body or {}
        self.noisy[remote_id] = wire.organises_meeting(item)
        if item.get("type") == "seriesMaster":
            event = self.reader.events([remote_id], self.until)[remote_id]
            if event is None:
                raise NotFound(f"Microsoft Graph: {remote_id} vanished after its tag write")
        else:
            event = wire.single_from_graph(item, {wire.CRM_ID_PROPERTY.lower(): meeting_id})
        self._note(event)
        return event

    def delete(self, remote_id: str, *, etag: str) -> None:
        if occ.is_group(remote_id):
            copies = self.groups.copies(remote_id)
            if not copies:
                raise NotFound(f"Microsoft Graph: no occurrence of {remote_id} is left")
            self.groups.remove(copies)
            return
        self._refuse_if_noisy(remote_id, "deleting")
        headers = {"If-Match": etag} if etag else {}
        reply = self.http.call("DELETE", self.reader.event_path(remote_id), headers=headers)
        raise_for(reply, "DELETE event")
        self.noisy.pop(remote_id, None)
        self.delta.known.pop(remote_id, None)

    # --- push, invites and checks -----------------------------------------------------------
    def invites(self) -> InviteCapability | None:
        """The Invite action's copy: a meeting Graph mails at once (invite.py)."""
        from bridge.backends.graph.invite import GraphInvites

        return GraphInvites(self)

    def push(self) -> PushChannel | None:
        from bridge.backends.graph.push import GraphPush

        return GraphPush(self)

    def check(self) -> str | None:
        """None when the sign-in and the mailbox work, else what is wrong, in words."""
        try:
            self.tokens.token()
            reply = self.http.call(
                "GET", f"{self.base}/events", params={"$select": "id", "$top": "1"}
            )
        except BackendError as error:  # AuthError included: what Entra refused, in words
            return str(error)
        if reply.ok:
            return None
        code = reply.error_code()
        if reply.status == 404 or code in (
            "ErrorItemNotFound",
            "MailboxNotEnabledForRESTAPI",
            "ErrorInvalidUser",
            "ResourceNotFound",
        ):
            return (
                f"unknown mailbox {self.settings.mailbox!r} ({reply.error_text() or reply.status})"
            )
        if reply.status in (401, 403):
            return (
                "missing permission: the app needs Calendars.ReadWrite (application permission "
                f"with admin consent, or delegated) for {self.settings.mailbox!r}"
                f" ({reply.error_text() or reply.status})"
            )
        return f"Microsoft Graph answered HTTP {reply.status} ({reply.error_text()})"
