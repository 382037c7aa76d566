"""A series' exceptions on EWS: cancelled occurrences (EXDATE) are deleted occurrences,
moved or changed ones (overrides) are updated occurrences, each named by its instance index
(OccurrenceItemId). Every sync write is silent (SendToNone); the Invite action's copy passes
its own Send* choice.

EWS cannot bring a deleted occurrence back except by writing the recurrence again, which
drops every exception: ``reconcile`` does that when the event un-cancels one, then writes
the exceptions afresh.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from exchangelib import CalendarItem, EWSDateTime, EWSTimeZone
from exchangelib.items import SEND_TO_NONE
from exchangelib.properties import OccurrenceItemId

from bridge.backends.base import RemoteEvent, RemoteOverride
from bridge.backends.exchange import pattern, wire

Call = Callable[[str, Callable[[], object]], object]


@dataclass(frozen=True)
class Exceptions:
    """What a master holds now: deleted original starts (UTC) and overrides by id."""

    deleted: frozenset[datetime]
    overrides: dict[str, RemoteOverride]


def held(event: RemoteEvent) -> Exceptions:
    """The exceptions of a RemoteEvent as read from EWS."""
    return Exceptions(
        frozenset(d.astimezone(UTC) for d in wire.exdates(event)),
        {o.recurrence_id: o for o in event.overrides},
    )


def _original(rec_id: str) -> datetime:
    start = datetime.fromisoformat(rec_id)
    return start if start.tzinfo else start.replace(tzinfo=UTC)


def needs_reset(event: RemoteEvent, now: Exceptions) -> bool:
    """Whether ``event`` un-cancels an occurrence EWS holds as deleted."""
    wanted = {d.astimezone(UTC) for d in wire.exdates(event)}
    return not now.deleted <= wanted


def apply(
    call: Call,
    master: CalendarItem,
    event: RemoteEvent,
    now: Exceptions,
    folder: object,
    send: str = SEND_TO_NONE,
) -> int:
    """Write the difference between ``now`` and ``event``'s exceptions; the number of
    occurrence writes made. ValueError names an occurrence the rule does not have.

    ``send``: sync's writes are silent (SendToNone); the Invite action passes its own
    choice, so its guests get a cancellation per excluded and an update per moved
    occurrence (SendMeetingCancellations / SendMeetingInvitationsOrCancellations)."""
    rule = wire.rule_of(event)
    if rule is None:
        return 0
    local = wire.local_start(event)
    account = master.account

    def occurrence(original: datetime) -> CalendarItem:
        index = pattern.instance_index(rule, local, original)
        ident = OccurrenceItemId(id=master.id, changekey=None, instance_index=index)
        return _OccurrenceItem(account=account, folder=folder, _id=ident)

    deletes = [
        occurrence(gone)
        for gone in sorted({d.astimezone(UTC) for d in wire.exdates(event)} - now.deleted)
    ]
    wanted = {o.recurrence_id: o for o in event.overrides}
    plain = [
        wire.plain_occurrence(event, rec_id) for rec_id in now.overrides if rec_id not in wanted
    ]
    updates = []
    for override in [*wanted.values(), *plain]:
        if now.overrides.get(override.recurrence_id) == override:
            continue
        target = occurrence(_original(override.recurrence_id))
        values = wire.occurrence_fields(event, override)
        values["start"], values["end"] = _utc(override.start), _utc(override.end)
        for name, value in values.items():
            setattr(target, name, value)
        updates.append((target, list(values)))
    if deletes:
        call("DeleteItem", lambda: _each(account.bulk_delete(
            ids=deletes, delete_type="HardDelete", send_meeting_cancellations=send
        )))  # fmt: skip
    if updates:
        call("UpdateItem", lambda: _each(account.bulk_update(
            items=updates,
            conflict_resolution="AlwaysOverwrite",
            send_meeting_invitations_or_cancellations=send,
        )))  # fmt: skip
    return len(deletes) + len(updates)


class _OccurrenceItem(CalendarItem):
    """An occurrence written by UpdateItem. exchangelib adds StartTimeZone/EndTimeZone to
    every update of a CalendarItem's Start or End (an exact-class check); an occurrence
    has its series' zone and EWS refuses one set on it, so this class sends the times
    alone, in UTC."""


def _utc(value: datetime) -> EWSDateTime:
    return EWSDateTime.from_datetime(value.astimezone(UTC)).astimezone(EWSTimeZone("UTC"))


def _each(results: object) -> list:
    """The results of a bulk call; its first per-item error raised."""
    listed = list(results or ())  # type: ignore[call-overload]
    for result in listed:
        if isinstance(result, BaseException):
            raise result
    return listed
