"""The push half of a sync round (bridge.sync.engine): local changes out to the calendar.

Local changes are read from the change log after the binding's outbound position; remote
writes happen outside any store transaction; each link is recorded right after its
remote write, and the outbound position advances only past changes pushed or
quarantined. New copies are created together through ``Backend.create_many``. A crash
between a remote create and its link re-runs the create with the same idempotency key,
which the backend turns into the existing copy (invariant 1).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from bridge.backends.base import Backend, Deleted, NotFound, RemoteEvent
from bridge.store import Store
from bridge.store import bindings as binding_store
from bridge.store import changes as change_log
from bridge.store import links as link_store
from bridge.store.changes import Tx
from bridge.sync import (
    Action,
    Link,
    LocalSide,
    PushCreate,
    PushDelete,
    PushUpdate,
    RemoteSide,
    State,
)
from bridge.sync.engine_sides import SideReader
from bridge.sync.plan_faults import BackOff, Quarantine
from bridge.sync.quarantine import QuarantineBook, item_of_meeting

if TYPE_CHECKING:
    from bridge.sync.engine import RoundReport

log = logging.getLogger("bridge.sync")


#: New copies handed to Backend.create_many at once: a multiple of the batch sizes the
#: services take (Google 50, Graph 20), so slicing adds no request; between slices the
#: round reports its progress.
CREATE_SLICE = 200


class PushEffects:
    """The push of bridge.sync.engine.Engine; its state is the Engine's."""

    store: Store
    binding_id: int
    backend: Backend
    origin: str
    clock: Callable[[], datetime]
    collection_id: int
    sides: SideReader
    book: QuarantineBook
    report: RoundReport
    _plan: Callable[[Link | None, LocalSide, RemoteSide], list[Action]]
    _run: Callable[..., bool]
    progress: Callable[[str, int, int], None]

    # -- push -----------------------------------------------------------------------------

    def _push(self, since: int) -> None:
        """Push every change after ``since``. New copies are created together at the end, in
        batches where the backend has them (an initial push of N meetings is N/50 requests).
        The outbound position advances past a change only when all of it was pushed (or
        quarantined); a transient failure of a create fails the round after that."""
        pending = self.store.read(
            lambda conn: change_log.latest_changes(conn, self.collection_id, since)
        )
        creates: list[tuple[int, PushCreate]] = []
        failed: list[int] = []
        for number, change in enumerate(pending, 1):
            self.progress("push", number, len(pending))
            link, local = self.store.read(lambda conn, c=change: self.sides.for_push(conn, c))
            actions = self._plan(link, local, RemoteSide(State.UNCHANGED if link else State.ABSENT))
            item = item_of_meeting(change.uid or change.href, link)
            if self.book.spent(item):
                continue  # quarantined by this round's pull; tried again later
            creates += [(change.seq, a) for a in actions if isinstance(a, PushCreate)]
            others = [a for a in actions if not isinstance(a, PushCreate)]
            if not self.book.attempt(item, lambda a=others: self._run(a)):
                failed.append(change.seq)
                break  # retried next round, after the next pull
        create_failed, transient = self._create_all(creates)
        failed += create_failed
        if failed:
            done = max((c.seq for c in pending if c.seq < min(failed)), default=since)
        else:
            done = pending[-1].seq if pending else since
        if done > since:
            self.store.write(
                lambda tx: binding_store.set_outbound_seq(tx, self.binding_id, done),
                origin=self.origin,
            )
        if transient is not None:
            raise transient

    def _create_all(
        self, creates: list[tuple[int, PushCreate]]
    ) -> tuple[list[int], BaseException | None]:
        """Create the copies (batched when the backend can); link each one created.
        Returns the change positions to push again and the first transient failure."""
        if not creates:
            return [], None
        pairs = [(action.event, action.idempotency_key) for _, action in creates]
        results: list[RemoteEvent | BaseException] = []
        self.progress("create", 0, len(pairs))
        for start in range(0, len(pairs), CREATE_SLICE):
            results += self.backend.create_many(pairs[start : start + CREATE_SLICE])
            self.progress("create", len(results), len(pairs))
        made: list[tuple[str, RemoteEvent]] = []
        failed: list[int] = []
        transient: BaseException | None = None
        unexpected: BaseException | None = None
        for (seq, action), result in zip(creates, results, strict=True):
            if isinstance(result, RemoteEvent):
                made.append((action.meeting_uid, result))
                continue
            assert isinstance(result, BaseException)
            decision = self.book.failed(item_of_meeting(action.meeting_uid), result)
            if decision is None:  # unexpected (e.g. a lost lease): link what was made first
                unexpected = unexpected or result
                continue
            if isinstance(decision, Quarantine):
                continue
            failed.append(seq)
            self.report.errors.append(f"{action.meeting_uid}: not created ({result})")
            if isinstance(decision, BackOff) and transient is None:
                transient = result

        def link_all(tx: Tx) -> None:
            for uid, event in made:
                link_store.record(
                    tx, self.binding_id, uid, event.remote_id, event.etag, event.content_hash()
                )

        if made:
            self.store.write(link_all, origin=self.origin)
            for uid, _ in made:
                self.book.succeeded(item_of_meeting(uid))
        self.report.pushed += len(made)
        if unexpected is not None:
            raise unexpected
        return failed, transient

    def _push_action(self, action: PushCreate | PushUpdate | PushDelete) -> None:
        if isinstance(action, PushCreate):
            made = self.backend.create(action.event, idempotency_key=action.idempotency_key)
            self._link_after_push(action.meeting_uid, made)
        elif isinstance(action, PushUpdate):
            try:
                made = self.backend.update(action.remote_id, action.event, etag=action.etag)
            except NotFound:
                self._replan_gone(action)
                return
            self._link_after_push(action.meeting_uid, made)
        else:
            try:
                self.backend.delete(action.remote_id, etag=action.etag)
            except NotFound:
                pass
            self.store.write(
                lambda tx: link_store.drop(tx, self.binding_id, action.meeting_uid),
                origin=self.origin,
            )
        self.report.pushed += 1

    def _replan_gone(self, action: PushUpdate) -> None:
        """The copy to update is gone: plan again with the remote side deleted, so the
        conflict policy decides (re-create under plan's own re-create key, or delete)."""
        link, local = self.store.read(lambda conn: self.sides.for_meeting(conn, action.meeting_uid))
        if local.state is State.UNCHANGED:  # we were pushing it: the CRM side has changed
            local = dataclasses.replace(local, state=State.CHANGED)
        gone = RemoteSide(State.DELETED, Deleted(action.remote_id), seen_at=self.clock())
        actions = self._plan(link, local, gone)
        reasons = "; ".join(a.reason for a in actions)
        log.info("binding %s: %s gone remotely: %s", self.binding_id, action.meeting_uid, reasons)
        self._run(actions)

    def _link_after_push(self, meeting_uid: str, made: RemoteEvent) -> None:
        self.store.write(
            lambda tx: link_store.record(
                tx, self.binding_id, meeting_uid, made.remote_id, made.etag, made.content_hash()
            ),
            origin=self.origin,
        )
