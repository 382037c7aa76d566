"""The Invite action on Microsoft Graph: the external copy as a meeting the organiser holds.

Graph mails attendees by itself: POST /events with attendees sends the invitation, a PATCH
of subject, time, place or body sends an update (added attendees get the invitation, removed
ones a cancellation), DELETE and POST /events/{id}/cancel send a cancellation. It has no
switch to hold any of that back, so this capability cannot hold an unsent copy: ``send=False``
is Rejected with that reason, for the preview to say so (abilities().note).

- create: POST /users/{id}/events with the external participants as required attendees, the
  invite-copy extended property (never the CRM id), transactionId from the idempotency key (a
  retry answers the first event, making none). Graph makes the iCalUId itself (read-only):
  ``InviteCopy.uid`` is not written.
- update: PATCH of the copy's fields and attendees (If-Match on the etag given).
- a series' exceptions: after the POST or PATCH of the series master, each excluded
  occurrence's instance is DELETEd and each moved one PATCHed (series.py, as sync writes
  them); Graph mails the guests a cancellation or an update for each.
- cancel: POST /events/{id}/cancel (a short comment), after checking the etag.

Update and cancel touch only an event tagged as an invite copy (Rejected otherwise).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bridge.backends.base import (
    CannotCarry,
    InviteAbilities,
    InviteCopy,
    PreconditionFailed,
    Rejected,
    SentInvite,
)
from bridge.backends.graph import wire
from bridge.backends.graph.http import raise_for
from bridge.backends.graph.series import rule_of
from bridge.backends.microsoft_tags import INVITE_COPY_VALUE

if TYPE_CHECKING:
    from bridge.backends.graph.backend import GraphBackend

CANNOT_HOLD = (
    "Microsoft Graph mails the attendees as soon as an event with attendees is created, "
    "changed or removed in the organiser's calendar: it cannot hold an unsent invitation "
    "(send it from here, or create it in Outlook)"
)
#: The cancellation's comment (the invitation template writes the invitation, not this).
CANCEL_COMMENT = "This meeting has been cancelled."


class GraphInvites:
    """InviteCapability over one GraphBackend's mailbox (its client, paths and errors)."""

    def __init__(self, backend: GraphBackend) -> None:
        self.backend = backend

    def abilities(self) -> InviteAbilities:
        return InviteAbilities(
            can_send=True, can_hold_unsent=False, note=CANNOT_HOLD, restores_occurrences=False
        )

    def _refuse_unsent(self, send: bool, what: str) -> None:
        if not send:
            raise Rejected(f"Microsoft Graph: not {what} the invite copy unsent: {CANNOT_HOLD}")

    def _body(self, copy: InviteCopy) -> dict[str, Any]:
        owner = self.backend.settings.mailbox
        if copy.organiser.email.strip().lower() != owner.strip().lower():
            raise CannotCarry(
                "organiser",
                f"Microsoft Graph invite: the organiser {copy.organiser.email!r} is not this "
                f"binding's mailbox {owner!r}; an invitation goes out from the organiser's own "
                "calendar",
            )
        if not copy.attendees:
            raise CannotCarry(
                "attendees", "Microsoft Graph invite: no external participant to invite"
            )
        event = copy.as_event()
        try:
            rule = rule_of(event)
        except Rejected as error:  # RDATE, several rules, a rule Graph cannot say
            why = str(error).partition("; not synced")[0]
            reason = f"Microsoft Graph cannot hold this series: {why}"
            raise CannotCarry("recurrence", reason) from None
        body = wire.event_body(event, rule=rule)
        body["attendees"] = [
            {"emailAddress": {"address": a.email, "name": a.name or a.email}, "type": "required"}
            for a in copy.attendees
        ]
        return body

    def check(self, copy: InviteCopy) -> None:
        self._body(copy)

    def _held(self, remote_id: str) -> dict[str, Any]:
        """The invite copy as Graph holds it (etag, tag); NotFound, or Rejected when it is
        not an invite copy."""
        path = self.backend.reader.event_path(remote_id)
        reply = self.backend.http.call("GET", path, params={"$expand": wire.EXPAND_TAGS})
        raise_for(reply, "GET invite copy")
        item = reply.body or {}
        if not wire.is_invite_copy(wire.tags_of(item)):
            raise Rejected(
                f"Microsoft Graph invite: {remote_id} is not an invite copy; not written"
            )
        return item

    def create_invite(self, copy: InviteCopy, *, send: bool, idempotency_key: str) -> SentInvite:
        self._refuse_unsent(send, "creating")
        from bridge.backends.graph.backend import transaction_id

        body = self._body(copy)
        body["singleValueExtendedProperties"] = [
            {"id": wire.INVITE_PROPERTY, "value": INVITE_COPY_VALUE}
        ]
        body["transactionId"] = transaction_id(f"invite:{idempotency_key}")
        reply = self.backend.http.call("POST", f"{self.backend.base}/events", body=body)
        raise_for(reply, "POST invite copy")
        item = reply.body or {}
        self._wrote(item)
        return SentInvite(str(item["id"]), self._occurrences(item, copy), mailed=True)

    def update_invite(
        self, remote_id: str, copy: InviteCopy, *, send: bool, etag: str
    ) -> SentInvite:
        self._refuse_unsent(send, "updating")
        body = self._body(copy)
        self._held(remote_id)
        headers = {"If-Match": etag} if etag else {}
        path = self.backend.reader.event_path(remote_id)
        reply = self.backend.http.call("PATCH", path, body=body, headers=headers)
        raise_for(reply, "PATCH invite copy")
        item = reply.body or {}
        self._wrote(item)
        return SentInvite(remote_id, self._occurrences(item, copy), mailed=True)

    def cancel_invite(self, remote_id: str, *, send: bool, etag: str) -> None:
        self._refuse_unsent(send, "removing")
        item = self._held(remote_id)
        if etag and etag != _etag(item):
            raise PreconditionFailed("Microsoft Graph: the invite copy changed since its etag")
        path = f"{self.backend.reader.event_path(remote_id)}/cancel"
        reply = self.backend.http.call("POST", path, body={"Comment": CANCEL_COMMENT})
        raise_for(reply, "POST cancel invite copy")
        self.backend.noisy.pop(remote_id, None)
        self.backend.delta.known.pop(remote_id, None)

    def _occurrences(self, item: dict[str, Any], copy: InviteCopy) -> str:
        """Bring a series' instances to the copy (series.py, as sync writes them): each
        excluded occurrence DELETEd, each moved one PATCHed, an occurrence no longer moved
        PATCHed back; Graph mails the guests a cancellation or an update for each. The
        master's etag after."""
        if item.get("type") != "seriesMaster":
            return _etag(item)
        b = self.backend
        return b.series.finish(item, copy.as_event(), b.until).etag

    def _wrote(self, item: dict[str, Any]) -> None:
        """Sync reads this event as the organiser's meeting: never written by sync."""
        if item.get("id"):
            self.backend.noisy[str(item["id"])] = True


def _etag(item: dict[str, Any]) -> str:
    return str(item.get("@odata.etag") or item.get("changeKey") or "")
