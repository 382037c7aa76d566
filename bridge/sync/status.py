"""Sync status in words, for `bridge status` and the live page /status.

Both read the store through the one function bridge.store.status.bindings_status and turn
each binding into a ``StatusView`` here, so the command and the page never disagree.

A binding's state is one of:

- ``running``: a worker holds its lease and still beats;
- ``failing``: its last round failed (``failures`` > 0), or this process refuses it
  (retired, or its stored configuration differs);
- ``idle``: otherwise.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from bridge.store import Store
from bridge.store.status import BindingStatus, bindings_status
from bridge.sync.adopted import BindingRefused
from bridge.sync.lease import state_of

RulesCheck = Callable[[object], object]

#: What an error class stored with a failure means, in words an admin reads.
_PLAIN = {
    "AuthError": "the calendar refused the credentials",
    "GoogleAuthError": "Google refused the credentials",
    "NotFound": "the calendar was not found",
    "PreconditionFailed": "the calendar changed meanwhile",
    "ResyncRequired": "the calendar asked for a full resync",
    "Rejected": "the calendar refused a change",
    "BackendError": "the calendar service failed",
    "BindingConfigError": "the binding's configuration is unusable",
    "LeaseLost": "another worker took the binding over",
    "TimeoutError": "the calendar did not answer in time",
    "ConnectionError": "the calendar could not be reached",
}
_CLASS_PREFIX = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*): (.*)$", re.DOTALL)


def plain_error(stored: str | None) -> str:
    """A stored failure (``"<ErrorClass>: <message>"``) in plain words."""
    if not stored:
        return ""
    match = _CLASS_PREFIX.match(stored)
    if match is None:
        return stored
    name, message = match.groups()
    meaning = _PLAIN.get(name)
    if meaning is None:
        return stored if not name.endswith(("Error", "Exception")) else message
    return f"{meaning[0].upper()}{meaning[1:]}: {message}"


@dataclass(frozen=True)
class StatusView:
    """One binding as the status views show it (times are epoch seconds or None)."""

    id: int
    login: str
    name: str
    kind: str
    state: str  # idle | running | failing
    running: str  # "no", "yes, by host H pid P ...", or a stale lease explained
    last_success_at: float | None
    last_error: str  # in plain words; "" when none
    last_error_at: float | None
    failures: int
    next_run_at: float | None
    channel_expires_at: float | None
    refused: str  # why this process will not run it ("" when it will)
    retired_at: float | None
    quarantined: int
    quarantine_reason: str
    quarantine_at: float | None


def _running(status: BindingStatus, now: float) -> tuple[bool, str]:
    held = state_of(status.row)
    if held is None:
        return False, "no"
    beat = f"heartbeat {max(0, now - held.beat):.0f} s ago" if held.beat else "no heartbeat"
    if held.live(now):
        return True, f"yes, by {held.holder_text()} ({beat})"
    why = "dead" if held.dead else beat
    return False, f"no; stale lease of {held.holder_text()} ({why}), the next round takes it over"


def view_of(status: BindingStatus, rules: RulesCheck, now: float) -> StatusView:
    row = status.row
    refused = ""
    if row.retired_at is None:
        try:
            rules(row)
        except BindingRefused as error:
            refused = str(error)
    live, running = _running(status, now)
    if live:
        state = "running"
    elif row.failures or refused:
        state = "failing"
    else:
        state = "idle"
    held = status.quarantined
    return StatusView(
        id=row.id,
        login=row.login,
        name=row.name,
        kind=row.kind,
        state=state,
        running=running,
        last_success_at=row.last_success_at,
        last_error=plain_error(row.last_error),
        last_error_at=row.last_error_at,
        failures=row.failures,
        next_run_at=None if row.retired_at is not None else row.next_run_at,
        channel_expires_at=status.channel_expires_at,
        refused=refused,
        retired_at=row.retired_at,
        quarantined=held.count if held else 0,
        quarantine_reason=held.latest_reason if held else "",
        quarantine_at=held.latest_at if held else None,
    )


def status_views(store: Store, rules: RulesCheck, now: float | None = None) -> list[StatusView]:
    """Every binding's status, read once from the store."""
    when = time.time() if now is None else now
    return [view_of(status, rules, when) for status in store.read(bindings_status)]
