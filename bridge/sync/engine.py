"""One sync round for one binding: pull the remote delta, then push local changes.

Effects happen here and only here; decisions come from bridge.sync.plan. The order of
effects is what makes a crash at any point lose nothing and duplicate nothing:

- Pull: the backend's delta is listed first; each event's decision is applied in one store
  transaction (meeting and link together); the new remote cursor is stored only after every
  event of the delta was applied. A crash re-lists the same delta, and what was applied
  already comes back as an echo (its hash equals the link's synced hash).
- Push: local changes are read from the change log after the binding's outbound position;
  remote writes happen outside any store transaction; each link is recorded right after
  its remote write, and the outbound position advances only past changes fully pushed.
  A crash between a remote create and its link re-runs the create with the same
  idempotency key, which the backend turns into the existing copy (invariant 1).
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, select

from bridge import meeting_rights
from bridge.backends.base import (
    Backend,
    BackendError,
    NotFound,
    PreconditionFailed,
    RemoteEvent,
    ResyncRequired,
    redact,
)
from bridge.meeting_service import (
    load_meeting,
    remove_from_calendar,
    save_from_sync,
    stored_overrides,
)
from bridge.model import Meeting, Override, Participant
from bridge.store import Store
from bridge.store import bindings as binding_store
from bridge.store import changes as change_log
from bridge.store import collections as collection_store
from bridge.store import links as link_store
from bridge.store import meetings as meeting_store
from bridge.store import users as user_store
from bridge.store.changes import Tx
from bridge.store.schema import items
from bridge.sync import (
    Action,
    DropLink,
    Link,
    LocalSide,
    PullCreate,
    PullDelete,
    PullUpdate,
    PushCreate,
    PushDelete,
    PushUpdate,
    RecordLink,
    RemoteSide,
    Skip,
    State,
)
from bridge.sync.plan import plan
from bridge.sync.rules import SyncRules

log = logging.getLogger("bridge.sync")


def origin_of(binding_id: int) -> str:
    """How the store's origin column names writes made by this binding."""
    return f"binding:{binding_id}"


def _when(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None


@dataclass
class RoundReport:
    pulled: int = 0
    pushed: int = 0
    skipped: int = 0
    resync: bool = False
    errors: list[str] = field(default_factory=list)


class Engine:
    def __init__(
        self,
        store: Store,
        binding_id: int,
        backend: Backend,
        rules: SyncRules,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
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
        self.login = binding.login
        path = user_store.meetings_path(binding.login)
        self.collection_id = self.store.read(lambda c: collection_store.by_path(c, path)).id
        self.report = RoundReport()
        self._pull(binding.remote_cursor)
        self._push(binding.outbound_seq)
        return self.report

    # -- pull -----------------------------------------------------------------------------

    def _pull(self, cursor: str | None) -> None:
        try:
            events, new_cursor = self.backend.list_changes(cursor)
        except ResyncRequired:
            self.report.resync = True
            events, new_cursor = self.backend.list_changes(None)
        for event in events:
            link, local = self.store.read(lambda conn, ev=event: self._sides_for_remote(conn, ev))
            state = State.DELETED if event.deleted else State.CHANGED
            remote = RemoteSide(state, event)
            actions = plan(link, local, remote, self.rules, self.clock(), origin=self.origin)
            self._run(actions, pulled=event)
        self.store.write(
            lambda tx: binding_store.set_remote_cursor(tx, self.binding_id, new_cursor),
            origin=self.origin,
        )

    def _sides_for_remote(self, conn: Connection, event: RemoteEvent) -> tuple[Link | None, Any]:
        row = link_store.by_remote(conn, self.binding_id, event.remote_id)
        if row is None and event.crm_meeting_id:
            row = link_store.by_meeting(conn, self.binding_id, event.crm_meeting_id)
        link = _link(row)
        uid = link.meeting_uid if link is not None else event.crm_meeting_id
        return link, self._local(conn, uid, link)

    def _local(self, conn: Connection, uid: str | None, link: Link | None) -> LocalSide:
        row = self._my_meeting(conn, uid)
        if row is None:
            return LocalSide(State.DELETED if link is not None else State.ABSENT)
        meeting = load_meeting(conn, row)
        synced = link.synced_at.timestamp() if link and link.synced_at else None
        changed = synced is None or row.modified_at > synced
        return LocalSide(
            State.CHANGED if changed else State.UNCHANGED,
            meeting,
            modified_at=_when(row.modified_at),
            origin=row.origin,
            overrides=tuple(stored_overrides(row)),
        )

    def _my_meeting(self, conn: Connection, uid: str | None) -> Row | None:
        """The meeting if it is in this binding's user's calendar."""
        if not uid:
            return None
        row = meeting_store.by_uid(conn, uid)
        if row is None:
            return None
        mine = conn.execute(
            select(items.c.id).where(
                items.c.collection_id == self.collection_id, items.c.meeting_id == row.id
            )
        ).first()
        return row if mine is not None else None

    # -- push -----------------------------------------------------------------------------

    def _push(self, since: int) -> None:
        """Push every change after ``since``. New copies are created together at the end, in
        batches where the backend has them (an initial push of N meetings is N/50 requests).
        The outbound position advances past a change only when all of it was pushed."""
        pending = self.store.read(
            lambda conn: change_log.latest_changes(conn, self.collection_id, since)
        )
        creates: list[tuple[int, PushCreate]] = []
        failed: list[int] = []
        for change in pending:
            if change.origin == self.origin:
                continue  # our own pull coming back (invariant 2)
            actions = self._plan_push(change)
            creates += [(change.seq, a) for a in actions if isinstance(a, PushCreate)]
            if not self._run([a for a in actions if not isinstance(a, PushCreate)]):
                failed.append(change.seq)
                break  # retried next round, after the next pull
        failed += self._create_all(creates)
        if failed:
            done = max((c.seq for c in pending if c.seq < min(failed)), default=since)
        else:
            done = pending[-1].seq if pending else since
        if done > since:
            self.store.write(
                lambda tx: binding_store.set_outbound_seq(tx, self.binding_id, done),
                origin=self.origin,
            )

    def _plan_push(self, change: change_log.Change) -> list[Action]:
        def sides(conn: Connection) -> tuple[Link | None, LocalSide]:
            link = _link(link_store.by_meeting(conn, self.binding_id, change.uid or ""))
            if change.op == "delete":
                return link, LocalSide(State.DELETED if link is not None else State.ABSENT)
            return link, self._local(conn, change.uid, None)

        link, local = self.store.read(sides)
        remote = RemoteSide(State.UNCHANGED if link is not None else State.ABSENT)
        if local.state is State.UNCHANGED:
            local = dataclasses.replace(local, state=State.CHANGED)
        return plan(link, local, remote, self.rules, self.clock(), origin=self.origin)

    def _create_all(self, creates: list[tuple[int, PushCreate]]) -> list[int]:
        """Create the copies (batched when the backend can); link each one created.
        Returns the change positions whose create failed."""
        if not creates:
            return []
        batch = getattr(self.backend, "create_many", None)
        pairs = [(action.event, action.idempotency_key) for _, action in creates]
        results: list[Any]
        if batch is not None and len(pairs) > 1:
            results = batch(pairs)
        else:
            results = []
            for event, key in pairs:
                try:
                    results.append(self.backend.create(event, idempotency_key=key))
                except BackendError as error:
                    results.append(error)
        made: list[tuple[str, RemoteEvent]] = []
        failed: list[int] = []
        for (seq, action), result in zip(creates, results, strict=True):
            if isinstance(result, RemoteEvent):
                made.append((action.meeting_uid, result))
            else:
                failed.append(seq)
                self.report.errors.append(f"{action.meeting_uid}: not created ({result})")

        def link_all(tx: Tx) -> None:
            for uid, event in made:
                link_store.record(
                    tx, self.binding_id, uid, event.remote_id, event.etag, event.content_hash()
                )

        if made:
            self.store.write(link_all, origin=self.origin)
        self.report.pushed += len(made)
        return failed

    # -- effects --------------------------------------------------------------------------

    def _run(self, actions: list[Action], pulled: RemoteEvent | None = None) -> bool:
        """Store effects in one transaction, then remote writes. False if a write lost a race."""
        local = [a for a in actions if not isinstance(a, (PushCreate, PushUpdate, PushDelete))]
        tags: list[str] = []
        if any(not isinstance(a, Skip) for a in local):
            tags = self.store.write(
                lambda tx: self._apply_local(tx, local, pulled), origin=self.origin
            )
        for action in local:
            if isinstance(action, Skip):
                self.report.skipped += 1
                log.debug("binding %s: %s", self.binding_id, action.reason)
        for uid in tags:
            if pulled is not None:
                self._tag(pulled, uid)
        for action in actions:
            if isinstance(action, (PushCreate, PushUpdate, PushDelete)):
                try:
                    self._push_action(action)
                except PreconditionFailed as error:
                    self.report.errors.append(f"{action.meeting_uid}: changed remotely ({error})")
                    return False
        return True

    def _apply_local(self, tx: Tx, actions: list[Action], pulled: RemoteEvent | None) -> list[str]:
        """Apply pulls and link changes; return the UIDs of meetings created by a pull."""
        created: list[str] = []
        for action in actions:
            if isinstance(action, PullCreate):
                uid = action.uid or str(uuid.uuid4())
                meeting = self._new_meeting(tx.conn, uid, action.fields)
                self._save(tx, meeting, f"{uid}.ics", self._overrides_of(pulled))
                link_store.record(
                    tx, self.binding_id, uid, action.remote_id, action.etag, action.synced_hash
                )
                created.append(uid)
                self.report.pulled += 1
            elif isinstance(action, (PullUpdate, RecordLink)):
                if isinstance(action, PullUpdate):
                    row = meeting_store.by_uid(tx.conn, action.meeting_uid)
                    stored = load_meeting(tx.conn, row) if row is not None else None
                    if stored is not None and self._may_edit(tx.conn, stored):
                        meeting = dataclasses.replace(stored, **action.fields)
                        self._save(tx, meeting, row.href, self._overrides_of(pulled))
                    self.report.pulled += 1
                link_store.record(
                    tx,
                    self.binding_id,
                    action.meeting_uid,
                    action.remote_id,
                    action.etag,
                    action.synced_hash,
                )
            elif isinstance(action, PullDelete):
                self._delete_for_user(tx, action.meeting_uid)
                self.report.pulled += 1
            elif isinstance(action, DropLink):
                link_store.drop(tx, self.binding_id, action.meeting_uid)
        return created

    def _may_edit(self, conn: Connection, meeting: Meeting) -> bool:
        """An edit in the user's own calendar changes the meeting only if the user may
        (bridge.meeting_rights): an attendee's edit of their copy stays in their copy."""
        if meeting_rights.may_edit(meeting_rights.role_of(conn, self.login, meeting)):
            return True
        log.info("binding %s: %s is not %s's to change", self.binding_id, meeting.uid, self.login)
        return False

    def _new_meeting(self, conn: Connection, uid: str, fields: dict[str, Any]) -> Meeting:
        """A meeting made in the user's calendar: the user organises it; attendees who are
        CRM users become internal participants."""
        logins = user_store.login_by_email(conn)
        external: list[Participant] = []
        internal: list[str] = []
        for person in fields.get("external", []):
            login = logins.get(person.email.lower())
            if login is None:
                external.append(person)
            elif login != self.login and login not in internal:
                internal.append(login)
        values = {**fields, "external": external}
        return Meeting(uid=uid, organiser=self.login, internal_users=internal, **values)

    def _overrides_of(self, pulled: RemoteEvent | None) -> list[Override]:
        """The calendar's moved or changed occurrences, redacted as the policy says."""
        if pulled is None:
            return []
        if pulled.private and self.rules.calendar_to_crm.private_policy == "busy":
            pulled = redact(pulled)
        return list(pulled.overrides)

    def _save(
        self, tx: Tx, meeting: Meeting, href: str, overrides: list[Override] | None = None
    ) -> None:
        if overrides is None:  # a change that is not about them keeps the stored ones
            row = meeting_store.by_uid(tx.conn, meeting.uid)
            overrides = stored_overrides(row) if row is not None else []
        save_from_sync(
            tx,
            meeting,
            href=href,
            horizon_days=self.store.index_horizon_days,
            max_occurrences=self.store.max_occurrences,
            overrides=overrides,
        )

    def _delete_for_user(self, tx: Tx, uid: str) -> None:
        """Deleted in the user's calendar: the organiser deletes the meeting, an attendee
        declines it (the others keep it) - as a DELETE over CalDAV does."""
        row = meeting_store.by_uid(tx.conn, uid)
        if row is None:
            return
        remove_from_calendar(
            tx,
            writer=self.login,
            meeting_id=row.id,
            horizon_days=self.store.index_horizon_days,
            max_occurrences=self.store.max_occurrences,
        )

    def _tag(self, event: RemoteEvent, uid: str) -> None:
        """Write the new meeting's id onto the calendar event it came from, so a lost link
        or a re-pairing finds it by tag instead of importing it twice. The tag is not
        content: the write comes back as an echo."""
        try:
            tagged = self.backend.update(
                event.remote_id, dataclasses.replace(event, crm_meeting_id=uid), etag=event.etag
            )
        except (PreconditionFailed, NotFound) as error:
            self.report.errors.append(f"{uid}: could not tag the calendar event ({error})")
            return
        self.store.write(
            lambda tx: link_store.record(
                tx, self.binding_id, uid, tagged.remote_id, tagged.etag, tagged.content_hash()
            ),
            origin=self.origin,
        )

    def _push_action(self, action: PushCreate | PushUpdate | PushDelete) -> None:
        if isinstance(action, PushCreate):
            made = self.backend.create(action.event, idempotency_key=action.idempotency_key)
            self._link_after_push(action.meeting_uid, made)
        elif isinstance(action, PushUpdate):
            try:
                made = self.backend.update(action.remote_id, action.event, etag=action.etag)
            except NotFound:
                made = self.backend.create(action.event, idempotency_key=action.meeting_uid)
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

    def _link_after_push(self, meeting_uid: str, made: RemoteEvent) -> None:
        self.store.write(
            lambda tx: link_store.record(
                tx, self.binding_id, meeting_uid, made.remote_id, made.etag, made.content_hash()
            ),
            origin=self.origin,
        )


def _link(row: Row | None) -> Link | None:
    if row is None:
        return None
    return Link(
        meeting_uid=row.meeting_uid,
        remote_id=row.remote_id,
        remote_etag=row.remote_etag,
        synced_hash=row.synced_hash,
        synced_at=_when(row.synced_at),
    )
