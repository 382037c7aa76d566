"""One sync round for one binding: pull the remote delta, push local changes, retry the
quarantined events that are due.

Effects happen here and only here; decisions come from bridge.sync.plan (what to do) and
bridge.sync.plan_faults (what a failure means). The order of effects is what makes a
crash at any point lose nothing and duplicate nothing:

- Pull: the backend's delta comes page by page (bounded memory); each event's decision is
  applied in one store transaction (meeting and link together, bridge.sync.engine_apply);
  the new remote cursor is stored only after every page was applied or quarantined. A
  crash re-lists the same delta, matches by link, and what was applied already comes back
  as an echo. Within a page, deletions are applied after the live events, so an event
  moved to a new id (re-linked by its tag) is not first deleted under its old one.
- Tag write-back: a meeting made from a calendar event is linked "tag pending" in the
  pull's transaction; after it, Backend.set_tag writes the CRM id onto the event (the tag
  alone, never a full update) and clears the flag. Tags a dead worker left pending are
  written by the next round, after its pull.
- Push (bridge.sync.engine_push): local changes are read from the change log after the
  binding's outbound position; remote writes happen outside any store transaction; each
  link is recorded right after its remote write, and the outbound position advances only
  past changes pushed or quarantined. A crash between a remote create and its link
  re-runs the create with the same idempotency key, which the backend turns into the
  existing copy (invariant 1).
- One event the remote or the store refuses is quarantined (bridge.sync.quarantine) and
  the round goes on; a transient failure fails the round, and the scheduler backs off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bridge.backends.base import (
    Backend,
    Change,
    ChangePage,
    Deleted,
    RemoteEvent,
    ResyncRequired,
)
from bridge.store import Store
from bridge.store import bindings as binding_store
from bridge.store import collections as collection_store
from bridge.store import invites as invite_store
from bridge.store import links as link_store
from bridge.store import users as user_store
from bridge.store.quarantine import REMOTE
from bridge.sync import (
    PUSHES,
    Action,
    Link,
    LocalSide,
    RemoteSide,
    Skip,
    State,
)
from bridge.sync.engine_apply import PullApplier
from bridge.sync.engine_push import PushEffects
from bridge.sync.engine_sides import SideReader
from bridge.sync.plan import plan
from bridge.sync.plan_faults import Failure, failure_of
from bridge.sync.quarantine import Item, QuarantineBook, item_of_event
from bridge.sync.rules import SyncRules

log = logging.getLogger("bridge.sync")


Progress = Callable[[str, int, int], None]
"""progress(step, done, total): "pull" counts events read (total 0: not known), "push"
counts pending changes planned and "create" the new copies made."""


def _quiet(step: str, done: int, total: int) -> None:
    """No one is watching the round."""


def origin_of(binding_id: int) -> str:
    """How the store's origin column names writes made by this binding."""
    return f"binding:{binding_id}"


@dataclass
class RoundReport:
    pulled: int = 0
    pushed: int = 0
    skipped: int = 0
    quarantined: int = 0
    resync: bool = False
    errors: list[str] = field(default_factory=list)


class Engine(PushEffects):
    def __init__(
        self,
        store: Store,
        binding_id: int,
        backend: Backend,
        rules: SyncRules,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        progress: Progress | None = None,
    ) -> None:
        self.store = store
        #: Told how far the round is (bridge.progress): events pulled, changes pushed.
        self.progress: Progress = progress or _quiet
        self.binding_id = binding_id
        self.backend = backend
        self.rules = rules
        self.clock = clock
        self.origin = origin_of(binding_id)
        self.report = RoundReport()

    # -- the round ------------------------------------------------------------------------

    def run(self) -> RoundReport:
        binding = self.store.read(lambda conn: binding_store.get(conn, self.binding_id))
        if binding is None:
            raise LookupError(f"binding {self.binding_id} does not exist")
        path = user_store.meetings_path(binding.login)
        self.collection_id = self.store.read(lambda c: collection_store.by_path(c, path)).id
        self.sides = SideReader(self.binding_id, self.collection_id)
        self.applier = PullApplier(self.store, self.binding_id, binding.login, self.rules)
        self.book = QuarantineBook(self.store, self.binding_id, lambda: self.clock().timestamp())
        self.report = RoundReport()
        try:
            self._pull(binding.remote_cursor)
            self._finish_tags()
            self._push(binding.outbound_seq)
            self._retry_due()
        finally:
            self.report.quarantined = len(self.book.quarantined)
            self.report.errors += self.book.quarantined + self.book.replanned
        return self.report

    def _plan(self, link: Link | None, local: LocalSide, remote: RemoteSide) -> list[Action]:
        return plan(link, local, remote, self.rules, self.clock(), origin=self.origin)

    # -- pull -----------------------------------------------------------------------------

    def _pull(self, cursor: str | None) -> None:
        window = self.rules.window(self.clock())
        try:
            new_cursor = self._pull_pages(lambda: self.backend.list_changes(cursor, window))
        except ResyncRequired:
            if cursor is None:
                raise
            self.report.resync = True
            new_cursor = self._pull_pages(lambda: self.backend.list_changes(None, window))
        # Only if no push notice dropped the cursor meanwhile (it asked for a resync).
        self.store.write(
            lambda tx: binding_store.advance_remote_cursor(
                tx, self.binding_id, new_cursor, was=cursor
            ),
            origin=self.origin,
        )

    def _pull_pages(self, list_pages: Callable[[], Iterator[ChangePage]]) -> str | None:
        """Apply every page; the cursor the last page carries.

        Live events are applied page by page. Deletions wait until every page was read:
        an event the remote moved to a new id (EWS ConvertId, a move between calendars)
        may be listed as the old id's deletion on one page and the new id, tagged, on a
        later one; applied in that order the meeting would be deleted before its copy is
        re-linked. Only the deletions' ids and times are held meanwhile. A deletion
        reported without a time is dated when its page was asked for (``listed_at``).
        """
        cursor: str | None = None
        seen = 0
        gone: list[tuple[Deleted, datetime]] = []
        self.listed_at = self.clock()
        pages = list_pages()
        while True:
            page = next(pages, None)
            if page is None:
                break
            for change in page.changes:
                if isinstance(change, Deleted):
                    gone.append((change, self.listed_at))
                else:
                    self._pull_one(change)
            seen += len(page.changes)
            self.progress("pull", seen, 0)
            cursor = page.cursor
            self.listed_at = self.clock()
        for change, seen in gone:
            self.listed_at = seen
            self._pull_one(change)
        return cursor

    def _pull_one(self, change: Change) -> bool:
        link, local = self.store.read(lambda conn: self.sides.for_remote(conn, change))
        item = item_of_event(link, change)
        if self.book.defer(item, local, change):
            self.report.skipped += 1
            return True
        local = self.book.held(item, local)
        return self.book.attempt(item, lambda: self._run_change(link, local, change))

    def _run_change(self, link: Link | None, local: LocalSide, change: Change) -> bool:
        # The Invite action's external copy, known by its remote id (whatever its tag now
        # says): plan() never imports it nor lets it change a meeting (invariant 4).
        invite = self.store.read(
            lambda conn: invite_store.is_invite_copy(conn, self.binding_id, change.remote_id)
        )
        if isinstance(change, Deleted):
            remote = RemoteSide(State.DELETED, change, known_invite=invite, seen_at=self.listed_at)
            return self._run(self._plan(link, local, remote))
        remote = RemoteSide(State.CHANGED, change, known_invite=invite, seen_at=self.listed_at)
        return self._run(self._plan(link, local, remote), pulled=change)

    # -- tags -----------------------------------------------------------------------------

    def _finish_tags(self) -> None:
        """Write the tags a dead worker (or a refused race) left pending."""
        rows = self.store.read(lambda conn: link_store.tag_pending(conn, self.binding_id))
        for row in rows:
            self._tag(row.meeting_uid, row.remote_id, row.remote_etag)

    # -- quarantined events ---------------------------------------------------------------

    def _retry_due(self) -> None:
        for item in self.book.due():
            self.book.attempt(item, lambda i=item: self._retry(i))

    def _retry(self, item: Item) -> bool:
        """Plan a quarantined event again from both sides as they are now."""
        self.listed_at = self.clock()
        if item.kind == REMOTE:
            change = self.backend.get(item.key)
            if change is None:
                return True
            link, local = self.store.read(lambda conn: self.sides.for_remote(conn, change))
            local = self.book.held(item_of_event(link, change), local)
            return self._run_change(link, local, change)
        link, local = self.store.read(lambda conn: self.sides.for_meeting(conn, item.key))
        local = self.book.held(item, local)
        remote_id = link.remote_id if link is not None else item.remote_id
        change = self.backend.get(remote_id) if remote_id else None
        if change is None:
            return self._run(self._plan(link, local, RemoteSide(State.ABSENT)))
        return self._run_change(link, local, change)

    # -- effects --------------------------------------------------------------------------

    def _run(self, actions: list[Action], pulled: RemoteEvent | None = None) -> bool:
        """Store effects in one transaction, then remote writes. Failures raise (the
        caller's QuarantineBook decides); True when everything was done."""
        local = [a for a in actions if not isinstance(a, PUSHES)]
        tags: list[str] = []
        if any(not isinstance(a, Skip) for a in local):
            tags, count = self.store.write(
                lambda tx: self.applier.apply(tx, local, pulled), origin=self.origin
            )
            self.report.pulled += count
        for action in local:
            if isinstance(action, Skip):
                self.report.skipped += 1
                log.debug("binding %s: %s", self.binding_id, action.reason)
        for uid in tags:
            if pulled is not None:
                self._tag(uid, pulled.remote_id, pulled.etag)
        for action in actions:
            if isinstance(action, PUSHES):
                self._push_action(action)
        return True

    def _tag(self, uid: str, remote_id: str, etag: str) -> None:
        """Write the new meeting's id onto the calendar event it came from (the tag alone:
        Backend.set_tag), so a lost link or a re-pairing finds it by tag instead of
        importing it twice; the link's pending flag is cleared. The tag is not content:
        the write comes back as an echo. A refusal leaves the event untagged and linked
        (and says so); a race or a vanished event leaves the tag pending, for the next
        round after its pull; a transient failure fails the round."""
        try:
            tagged = self.backend.set_tag(remote_id, uid, etag=etag)
        except Exception as error:
            failure = failure_of(error)
            if failure in (Failure.TRANSIENT, None):
                raise
            if failure in (Failure.RACE, Failure.GONE):
                self.report.errors.append(f"{uid}: tag not written yet ({error})")
                return
            self.report.errors.append(f"{uid}: could not tag the calendar event ({error})")
            self.store.write(
                lambda tx: link_store.tag_written(tx, self.binding_id, uid, None),
                origin=self.origin,
            )
            return
        self.store.write(
            lambda tx: link_store.tag_written(tx, self.binding_id, uid, tagged.etag),
            origin=self.origin,
        )
