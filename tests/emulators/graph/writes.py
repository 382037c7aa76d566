"""Changes to a mailbox's events, shared by the HTTP API and the user-side test helpers."""

from __future__ import annotations

import copy
from typing import Any

from . import events, rendering
from .errors import GraphError
from .store import AttendeeWrite, EventWrite, Mail, Mailbox, State, Stored, occurrence_id


def organizer_of(box: Mailbox) -> dict[str, Any]:
    return {"emailAddress": {"name": box.upn.split("@")[0], "address": box.upn}}


def addresses(attendees: list[dict[str, Any]]) -> tuple[str, ...]:
    return tuple(
        str((a.get("emailAddress") or {}).get("address", "")).lower() for a in attendees or []
    )


def check_etag(current: str, if_match: str | None) -> None:
    if if_match is None or if_match.strip() == "*":
        return
    if if_match.strip() != current:
        raise GraphError(
            412,
            "ErrorIrresolvableConflict",
            "The change key passed in the request does not match the current change key for the "
            "item.",
        )


def create(state: State, box: Mailbox, body: Any, *, recorded: bool = True) -> tuple[Stored, bool]:
    """(stored, created); an already-used transactionId answers the first event, creating none."""
    txn = body.get("transactionId") if isinstance(body, dict) else None
    if txn is not None and txn in box.transactions:
        return box.events[box.transactions[txn]], False
    stored = events.create(box, body, organizer_of(box), state.now())
    stored.seq = box.bump()
    box.events[stored.immutable_id] = stored
    box.rest[stored.rest_id] = stored.immutable_id
    if txn is not None:
        box.transactions[txn] = stored.immutable_id
    if recorded:
        state.event_writes.append(EventWrite(box.upn, "POST", stored.immutable_id))
    if recorded and stored.attendees:
        who = addresses(stored.attendees)
        state.attendees_written.append(AttendeeWrite(box.upn, "POST", stored.immutable_id, who))
        state.mailed.append(Mail(box.upn, "POST", stored.immutable_id, "invitation", who))
    state.changed(box, "created", stored.immutable_id)
    return stored, True


def update(
    state: State,
    box: Mailbox,
    event_id: str,
    body: Any,
    *,
    if_match: str | None = None,
    recorded: bool = True,
) -> tuple[Stored, str | None]:
    master, key = box.find(event_id)
    target = master
    if key is not None:
        target = master.overrides.get(key) or _exception(master, key, box)
        check_etag(rendering.render(box, master, events.View(), key=key)["@odata.etag"], if_match)
    else:
        check_etag(master.etag(), if_match)
    attendees_before = addresses(target.attendees or master.attendees)
    changed = events.patch(target, body, state.now(), occurrence=key is not None)
    if key is not None:
        master.overrides[key] = target
        master.instance_seq[key] = box.bump()
        target.seq = master.instance_seq[key]
        master.change += 1  # exceptions live inside the master item: its change key moves too
    else:
        master.seq = box.bump()
    if recorded:
        state.event_writes.append(EventWrite(box.upn, "PATCH", master.immutable_id))
        _record_update(state, box, master, target, changed, attendees_before)
    state.changed(box, "updated", master.immutable_id)
    return master, key


def _exception(master: Stored, key: str, box: Mailbox) -> Stored:
    slot = next((s for s in events.instances(master) if s[0] == key), None)
    if slot is None:
        raise GraphError(
            404, "ErrorItemNotFound", "The specified object was not found in the store."
        )
    exception = copy.deepcopy(master)
    exception.fields = {}
    exception.overrides, exception.cancelled, exception.instance_seq = {}, {}, {}
    exception.start, exception.end = slot[1], slot[2]
    exception.immutable_id = occurrence_id(master.immutable_id, key)
    exception.rest_id = occurrence_id(master.rest_id, key)
    exception.change = 1
    return exception


def _record_update(
    state: State,
    box: Mailbox,
    master: Stored,
    target: Stored,
    changed: set[str],
    before: tuple[str, ...],
) -> None:
    attendees = addresses(target.fields.get("attendees") or master.attendees)
    if "attendees" in changed and attendees:
        state.attendees_written.append(
            AttendeeWrite(box.upn, "PATCH", master.immutable_id, attendees)
        )
        added = tuple(a for a in attendees if a not in before)
        if added and master.is_organizer:
            state.mailed.append(Mail(box.upn, "PATCH", master.immutable_id, "invitation", added))
    removed = tuple(a for a in before if a not in attendees)
    # event-update docs: an attendees-only update sends to the attendees that changed, removed
    # ones included (a cancellation)
    if "attendees" in changed and removed and master.is_organizer:
        state.mailed.append(Mail(box.upn, "PATCH", master.immutable_id, "cancellation", removed))
    noisy = changed & set(events.MAIL_FIELDS)
    if noisy and attendees and master.is_organizer:
        master.sequence += 1
        state.mailed.append(
            Mail(
                box.upn,
                "PATCH",
                master.immutable_id,
                "update:" + ",".join(sorted(noisy)),
                attendees,
            )
        )


def delete(
    state: State, box: Mailbox, event_id: str, *, if_match: str | None = None, recorded: bool = True
) -> None:
    master, key = box.find(event_id)
    if key is not None:
        current = rendering.render(box, master, events.View(), key=key)["@odata.etag"]
        check_etag(current, if_match)
        exception = master.overrides.pop(key, None)
        master.cancelled[key] = box.bump()
        master.change += 1
        attendees = addresses((exception.attendees if exception else None) or master.attendees)
    else:
        check_etag(master.etag(), if_match)
        master.deleted = True
        master.seq = box.bump()
        attendees = addresses(master.attendees)
    if recorded:
        state.event_writes.append(EventWrite(box.upn, "DELETE", master.immutable_id))
    if recorded and attendees and master.is_organizer:
        state.mailed.append(Mail(box.upn, "DELETE", master.immutable_id, "cancellation", attendees))
    state.changed(box, "deleted", master.immutable_id)


def move(state: State, box: Mailbox, event_id: str, *, keep_immutable: bool = True) -> Stored:
    """As a move to another folder and back: a new REST id; a new immutable id unless kept."""
    from .store import IMMUTABLE_PREFIX, REST_PREFIX, new_id

    master, key = box.find(event_id)
    if key is not None:
        raise GraphError(400, "ErrorInvalidRequest", "An occurrence cannot be moved on its own.")
    if not keep_immutable:
        gone = copy.copy(master)
        gone.deleted = True
        gone.seq = box.bump()
        box.events[gone.immutable_id] = gone
        box.rest[gone.rest_id] = gone.immutable_id
        master.immutable_id = new_id(IMMUTABLE_PREFIX)
        box.events[master.immutable_id] = master
        state.changed(box, "deleted", gone.immutable_id)
    else:
        box.rest.pop(master.rest_id, None)
    master.rest_id = new_id(REST_PREFIX)
    box.rest[master.rest_id] = master.immutable_id
    master.change += 1
    master.seq = box.bump()
    state.changed(box, "updated" if keep_immutable else "created", master.immutable_id)
    return master


RESPONSES = {
    "accept": "accepted",
    "tentativelyAccept": "tentativelyAccepted",
    "decline": "declined",
}


def act(state: State, box: Mailbox, event_id: str, action: str, body: Any) -> None:
    """POST /events/{id}/cancel | accept | tentativelyAccept | decline (all answer 202)."""
    _act(state, box, event_id, action, body)
    master, _ = box.find_any(event_id)
    state.event_writes.append(EventWrite(box.upn, f"POST {action}", master.immutable_id))


def _act(state: State, box: Mailbox, event_id: str, action: str, body: Any) -> None:
    master, key = box.find(event_id)
    body = body if isinstance(body, dict) else {}
    if action == "cancel":
        if not master.is_organizer:
            raise GraphError(
                400,
                "ErrorAccessDenied",
                "Your request can't be completed. You need to be an organizer to cancel a meeting.",
            )
        attendees = addresses(master.attendees)
        delete(state, box, event_id, recorded=False)
        if attendees:
            state.mailed.append(Mail(box.upn, "POST", master.immutable_id, "cancel", attendees))
        return
    if master.is_organizer:
        raise GraphError(
            400,
            "ErrorInvalidRequest",
            "Your request can't be completed. You can't respond to a meeting you organized.",
        )
    if body.get("sendResponse", True):
        organizer = addresses([master.organizer])
        state.mailed.append(
            Mail(box.upn, "POST", master.immutable_id, f"response:{RESPONSES[action]}", organizer)
        )
    if action == "decline":
        delete(state, box, event_id, recorded=False)
        return
    target = master if key is None else master.overrides.get(key)
    if target is not None:
        target.fields["responseStatus"] = RESPONSES[action]
        target.change += 1
    master.seq = box.bump()
    state.changed(box, "updated", master.immutable_id)


def track_response(state: State, box: Mailbox, event_id: str, address: str, response: str) -> None:
    """A guest's meeting response recorded on the organiser's event (attendee status)."""
    if response not in ("accepted", "declined", "tentativelyAccepted", "none"):
        raise ValueError(f"not a response: {response!r}")
    master, _ = box.find(event_id)
    people = master.attendees
    for attendee in people:
        if str((attendee.get("emailAddress") or {}).get("address", "")).lower() == address.lower():
            attendee["status"] = {"response": response, "time": rendering_time(state)}
            break
    else:
        raise KeyError(f"{address!r} does not attend {event_id!r}")
    master.fields["attendees"] = people
    master.change += 1
    master.modified = state.now()
    master.seq = box.bump()
    state.changed(box, "updated", master.immutable_id)


def rendering_time(state: State) -> str:
    return state.now().strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
