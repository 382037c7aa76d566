"""Running one event's work so that its failure stays that event's (bridge.sync.engine).

``QuarantineBook.attempt(item, work)`` runs the work for one event; a failure is classified
and decided by bridge.sync.plan_faults: the event is quarantined (recorded in the store
with its reason and next try) and the round goes on, or it is re-planned next round, or
the failure fails the round (transient: the scheduler backs off the binding). A success
clears the event's quarantine.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass

from bridge.backends.base import Change, Deleted, RemoteEvent
from bridge.store import Store
from bridge.store import quarantine as quarantine_store
from bridge.store.changes import Tx
from bridge.store.quarantine import MEETING, REMOTE
from bridge.sync import Link, LocalSide, State
from bridge.sync.plan_faults import (
    BackOff,
    Failure,
    FailureDecision,
    Quarantine,
    failure_of,
    on_failure,
    retry_now,
)

log = logging.getLogger("bridge.sync")


@dataclass(frozen=True)
class Item:
    """What a quarantine entry stands for: a meeting (by UID) or, when no meeting stands
    for it yet, a remote event (by id). ``remote_id``: the remote event, when known."""

    kind: str
    key: str
    remote_id: str | None = None

    @property
    def ident(self) -> tuple[str, str]:
        return self.kind, self.key


def item_of_event(link: Link | None, event: Change) -> Item:
    tag = event.crm_meeting_id if isinstance(event, RemoteEvent) else None
    uid = link.meeting_uid if link is not None else tag
    if uid:
        return Item(MEETING, uid, event.remote_id)
    return Item(REMOTE, event.remote_id, event.remote_id)


def item_of_meeting(uid: str, link: Link | None = None) -> Item:
    return Item(MEETING, uid, link.remote_id if link is not None else None)


class QuarantineBook:
    """One round's view of a binding's quarantine. ``clock``: the round's, epoch seconds."""

    def __init__(self, store: Store, binding_id: int, clock: Callable[[], float]) -> None:
        self.store = store
        self.binding_id = binding_id
        self.clock = clock
        self.now = clock()  # the round's start: what is due in this round
        rows = store.read(lambda conn: quarantine_store.for_binding(conn, binding_id))
        self.entries = {(r.kind, r.item_key): r for r in rows}
        self.touched: set[tuple[str, str]] = set()
        self.failed_now: set[tuple[str, str]] = set()
        self.quarantined: list[str] = []
        self.replanned: list[str] = []

    def attempt(self, item: Item, work: Callable[[], bool]) -> bool:
        """Run ``work`` for one event. True: done, or quarantined (the round goes on past
        it); False: to be planned again next round. Transient failures and unexpected
        exceptions propagate (the round fails)."""
        if self.spent(item):
            return True  # it failed once in this round already: its next try is recorded
        self.touched.add(item.ident)
        try:
            done = work()
        except Exception as error:
            decision = self.failed(item, error)
            if decision is None or isinstance(decision, BackOff):
                raise
            return isinstance(decision, Quarantine)
        if done:
            self.succeeded(item)
        return done

    def failed(self, item: Item, error: BaseException) -> FailureDecision | None:
        """Decide about one event's failure and record a quarantine (None: unexpected)."""
        self.touched.add(item.ident)
        failure = failure_of(error)
        if failure is None:
            return None
        entry = self.entries.get(item.ident)
        decision = on_failure(failure, entry.attempts if entry is not None else 0, str(error))
        if isinstance(decision, Quarantine):
            self.failed_now.add(item.ident)
            self._record(item, decision)
        elif not isinstance(decision, BackOff):
            what = "changed remotely" if failure is Failure.RACE else "gone remotely"
            self.replanned.append(f"{item.key}: {what} ({error})")
        return decision

    def spent(self, item: Item) -> bool:
        """Whether the event was quarantined in this round (it is not tried twice)."""
        return item.ident in self.failed_now

    def succeeded(self, item: Item) -> None:
        if item.ident in self.entries:
            self.store.write(
                lambda tx: quarantine_store.clear(tx, self.binding_id, item.kind, item.key)
            )
            del self.entries[item.ident]
            log.info("binding %s: %s %s synced again", self.binding_id, item.kind, item.key)

    def defer(self, item: Item, local: LocalSide, event: Change | None) -> bool:
        """Whether a quarantined event met in this round waits for its next try: it is not
        due, the meeting has not changed since the last failure, and the remote event was
        not modified since then either (what it shows is our own failed write). A deletion
        is a change of the calendar's unless it is dated before the failure."""
        entry = self.entries.get(item.ident)
        if entry is None:
            return False
        self.touched.add(item.ident)
        since = entry.last_failed_at
        local_changed = local.modified_at is not None and local.modified_at.timestamp() > since
        if event is None:
            echo = True
        else:
            when = event.deleted_at if isinstance(event, Deleted) else event.updated
            echo = when is not None and when.timestamp() <= since
        return not retry_now(entry.next_try_at <= self.now, local_changed, echo)

    def held(self, item: Item, local: LocalSide) -> LocalSide:
        """The local side as plan() must see it: a meeting whose change the remote refused
        counts as changed until that change goes through."""
        entry = self.entries.get(item.ident)
        if entry is not None and entry.held == "crm" and local.state is State.UNCHANGED:
            return dataclasses.replace(local, state=State.CHANGED)
        return local

    def due(self) -> list[Item]:
        """Quarantined events whose next try has come and that this round did not touch."""
        return [
            Item(row.kind, row.item_key, row.remote_id)
            for ident, row in sorted(self.entries.items(), key=lambda e: e[1].next_try_at)
            if row.next_try_at <= self.now and ident not in self.touched
        ]

    def _record(self, item: Item, decision: Quarantine) -> None:
        entry = self.entries.get(item.ident)
        remote_id = item.remote_id or (entry.remote_id if entry is not None else None)
        now = self.clock()  # after the failed write: its echo is older

        def put(tx: Tx) -> None:
            quarantine_store.put(
                tx,
                self.binding_id,
                item.kind,
                item.key,
                remote_id=remote_id,
                reason=decision.reason,
                held=decision.held,
                attempts=decision.attempts,
                now=now,
                next_try_at=now + decision.retry_in,
            )

        self.store.write(put)
        self.entries[item.ident] = self.store.read(
            lambda conn: quarantine_store.find(conn, self.binding_id, item.kind, item.key)
        )
        message = f"{item.key}: quarantined, failure {decision.attempts} ({decision.reason})"
        self.quarantined.append(message)
        log.warning("binding %s: %s", self.binding_id, message)
