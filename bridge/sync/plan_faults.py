"""Pure decisions about failures in a sync round: one event, or the whole binding.

One event the remote or the store refuses must not stop a binding: it is quarantined
(recorded, shown in `bridge status`, retried later) and the round goes on, so the remote
cursor and the outbound position advance past it. A failure that is about the service or
the account is not the event's fault: the round fails and the scheduler backs off the
whole binding, which then repeats the same work.

    failure                                              decision
    TRANSIENT  5xx, 429 and 403 rate or quota limits,    BackOff: the round fails; the
               timeouts, connection errors, credentials, binding is retried later, from
               an expired cursor, anything a backend     where it stood
               does not call Rejected
    REJECTED   the remote refuses this one event: 400    Quarantine the event; the round
               invalid, 403 (the user only attends it),  goes on
               an instance the series does not have
    REFUSED    the store refuses what the remote sent    Quarantine the event
               (an override outside the rule, a value
               too long ...)
    RACE       412: the remote changed since it was      Replan: nothing is recorded;
               listed                                    the next round's pull re-plans it
    GONE       404 on an update: the remote copy is      Replan now, with the remote side
               gone                                      deleted (plan decides)

A quarantined event is retried at the next round, then after RETRY_BASE_SECONDS, doubling
up to RETRY_MAX_SECONDS; a new change on either side retries it at once (``retry_now``),
while the echo of our own failed write waits for the next try. While the remote refuses
our write, the meeting counts as changed (``held`` "crm"), so no agreement is assumed.
An exception that is none of these (a bug) is not classified: it fails the round like a
transient error.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bridge.backends.base import BackendError, NotFound, PreconditionFailed, Rejected
from bridge.ical.errors import ICalError
from bridge.store.errors import StoreError

RETRY_BASE_SECONDS = 300.0
RETRY_MAX_SECONDS = 86400.0


class Failure(StrEnum):
    TRANSIENT = "transient"
    REJECTED = "rejected"
    REFUSED = "refused"
    RACE = "race"
    GONE = "gone"


@dataclass(frozen=True)
class BackOff:
    """Fail the round; the scheduler backs off the whole binding."""

    reason: str


@dataclass(frozen=True)
class Quarantine:
    """Set this one event aside after its ``attempts``-th failure; retry in ``retry_in`` s.

    ``held``: whose change is held back, "crm" (the remote refused our write: the meeting
    counts as changed until it goes through) or "calendar" (the store refused the pull:
    the remote event differs from its link anyway)."""

    reason: str
    attempts: int
    retry_in: float
    held: str


@dataclass(frozen=True)
class Replan:
    """Not the event's fault and not lasting: plan it again (now, or next round)."""

    reason: str


FailureDecision = BackOff | Quarantine | Replan


def failure_of(error: BaseException) -> Failure | None:
    """The kind of a failure, or None for an exception sync does not expect (a bug)."""
    if isinstance(error, Rejected):
        return Failure.REJECTED
    if isinstance(error, PreconditionFailed):
        return Failure.RACE
    if isinstance(error, NotFound):
        return Failure.GONE
    if isinstance(error, BackendError):
        return Failure.TRANSIENT
    if isinstance(error, (ICalError, StoreError)):
        return Failure.REFUSED
    return None


def retry_in(attempts: int) -> float:
    """Seconds from the ``attempts``-th failure to the next try: the next round (0), then
    RETRY_BASE_SECONDS doubling per failure, at most RETRY_MAX_SECONDS."""
    if attempts <= 1:
        return 0.0
    return min(RETRY_BASE_SECONDS * 2.0 ** min(attempts - 2, 64), RETRY_MAX_SECONDS)


def retry_now(due: bool, local_changed: bool, remote_is_echo: bool) -> bool:
    """Whether a quarantined event met again in a round is tried now: when its try is
    due, or either side brings a change of its own (not the echo of our failed write)."""
    return due or local_changed or not remote_is_echo


def on_failure(failure: Failure, attempts_before: int, reason: str) -> FailureDecision:
    """What to do after one event's failure; ``attempts_before`` failed tries came before."""
    if failure in (Failure.REJECTED, Failure.REFUSED):
        attempts = attempts_before + 1
        held = "crm" if failure is Failure.REJECTED else "calendar"
        return Quarantine(f"{failure}: {reason}", attempts, retry_in(attempts), held)
    if failure in (Failure.RACE, Failure.GONE):
        return Replan(f"{failure}: {reason}")
    return BackOff(f"{failure}: {reason}")
