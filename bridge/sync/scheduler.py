"""Runs sync rounds for every binding: leases, triggers, polling and back-off.

- A binding runs when it is due (``next_run_at``): after its polling interval, at once when
  a local change touched its user's calendar (the scheduler watches the change log) or a
  push notification arrived (``request_run_by``: within a few seconds, many notifications
  making one round), and later and later after failures.
- Before a round the scheduler takes the binding's lease in the database, so two
  processes (``bridge serve`` and ``bridge worker``, or two workers) never run the same
  binding at once. The lease is kept alive by heartbeats while the round runs
  (bridge.sync.lease); a dead holder's lease is taken over: at once when the holder's
  pid no longer runs on this host, else when its heartbeat stopped for the lease's length.
- The scheduler keeps one backend per binding across rounds (bridge.sync.pool): tokens,
  connections and pacing carry over; ``close()`` closes them all at shutdown.
- A pass reads the due bindings by index, longest waiting first, at most ``pass_size``
  (bridge.store.bindings.due), and runs up to ``rounds_at_once`` rounds at a time in
  threads; a binding that ran goes to the back of the line (its next run is set when its
  lease is taken), one that failed backs off, one that was not run keeps its place, so
  none starves. Bindings of one remote account (``bindings.account``: a Google user, a
  Graph tenant and app ...) run at most ``rounds_per_account`` rounds at once, counted
  over every process when the lease is taken (bridge.store.bindings.account_full).
- After every round (failed ones too) it asks the backend for a changed secret
  (``Backend.changed_secret``: a refresh token the service rotated in) and stores it,
  encrypted, as the binding's secret, so the next process signs in with the newest.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import Connection

from bridge import log_context, log_setup, metrics
from bridge.backends.base import Backend, BackendError
from bridge.secret_box import Keyring
from bridge.store import Store, binding_secrets
from bridge.store import bindings as binding_store
from bridge.store import changes as change_log
from bridge.store.bindings import BindingRow
from bridge.store.changes import Tx
from bridge.sync import lease
from bridge.sync.adopted import BindingRefused
from bridge.sync.engine import Engine, Progress, RoundReport, origin_of
from bridge.sync.pool import BackendPool
from bridge.sync.rules import SyncRules

log = logging.getLogger("bridge.sync")

BackendFactory = Callable[[BindingRow], Backend]
RulesLookup = Callable[[BindingRow], SyncRules]


@dataclass(frozen=True)
class Timing:
    poll_seconds: float = 60.0
    #: How often the holder of a lease renews it while its round runs.
    heartbeat_seconds: float = 5.0
    #: How long a lease holds without a heartbeat (a few heartbeats).
    lease_seconds: float = 15.0
    max_backoff_seconds: float = 3600.0
    #: Rounds this scheduler runs at the same time (threads).
    rounds_at_once: int = 4
    #: Rounds at once against one remote account, over every process.
    rounds_per_account: int = 4
    #: Due bindings one pass takes at most, longest waiting first.
    pass_size: int = 100


class Scheduler:
    def __init__(
        self,
        store: Store,
        backend_for: BackendFactory,
        rules_for: RulesLookup,
        *,
        timing: Timing = Timing(),
        owner: str | None = None,
        keyring: Keyring | None = None,
    ) -> None:
        self.store = store
        #: Encrypts a secret a backend changed (None: such a change is logged, not kept).
        self.keyring = keyring
        #: Makes a binding's backend when none is kept (bridge.wiring.BackendMaker).
        self.backend_for = backend_for
        self.backends = BackendPool(lambda row: self.backend_for(row))
        self.rules_for = rules_for
        self.timing = timing
        self.holder = lease.this_process(owner)
        self.owner = self.holder.owner
        self._seen_seq = store.read(change_log.max_seq)
        # Refused bindings: the reason (logged once) and when; skipped for a poll interval.
        self._refused: dict[int, tuple[str, float]] = {}
        self._swept = time.monotonic()
        self._lock = threading.Lock()
        self._running: dict[int, str | None] = {}  # rounds of this scheduler: id -> account
        self._rounds: ThreadPoolExecutor | None = None
        self._rounds_size = 0
        self._wake = threading.Event()  # a round ended: a thread is free

    # -- one binding ------------------------------------------------------------------------

    def run_binding(self, binding_id: int, progress: Progress | None = None) -> RoundReport | None:
        """One round under the lease; None if another live worker holds it.

        ``rules_for`` may refuse the binding (bridge.sync.adopted.BindingRefused: retired,
        or this process's configuration disagrees with the stored one): that is raised
        before the lease is taken, so nothing about the binding changes. Raises
        ``lease.LeaseLost`` if the lease expired during the round and another worker took
        it (no failure is recorded: the binding is in other hands).
        """
        found = self.store.read(lambda conn: binding_store.get(conn, binding_id))
        if found is None:
            self.backends.forget(binding_id)
            raise LookupError(f"binding {binding_id} does not exist")
        try:
            rules = self.rules_for(found)
        except BindingRefused:
            self.backends.forget(binding_id)  # retired or not ours: its backend goes
            raise
        taken = self._take(found)
        if taken is None:
            return None
        with log_context.sync_round(f"{found.login}/{found.name}"):
            return self._run_leased(taken, rules, progress)

    def _run_leased(
        self, row: BindingRow, rules: SyncRules, progress: Progress | None
    ) -> RoundReport:
        """The round of a binding whose lease was just taken (``row``: as it was read in
        the taking transaction); its outcome is counted."""
        started = time.monotonic()
        binding_id, kind = row.id, row.kind
        outcome = "failed"
        kept: Backend | None = None
        heartbeat = lease.Heartbeat(
            self.store,
            binding_id,
            self.owner,
            every=self.timing.heartbeat_seconds,
            seconds=self.timing.lease_seconds,
        )
        try:
            with heartbeat:
                # Both lines are written under the lease: an operator (and the container
                # test) can see which process ran which round, and that none overlapped.
                log.info(
                    "binding %s: round started by %s at %.6f", binding_id, self.owner, time.time()
                )
                kept = self.backends.get(row)
                backend = lease.Fenced(kept, heartbeat.check)
                report = Engine(self.store, binding_id, backend, rules, progress=progress).run()
        except lease.LeaseLost:
            outcome = "lease_lost"
            log.warning("binding %s: lost its lease mid-round; left to its new holder", binding_id)
            raise
        except Exception as error:  # noqa: BLE001 - recorded, backed off, retried
            if not isinstance(error, BackendError):
                self.backends.forget(binding_id)  # in an unknown state: a new one next time
            failures = row.failures + 1
            delay = min(
                self.timing.poll_seconds * 2 ** (failures - 1), self.timing.max_backoff_seconds
            )
            delay *= random.uniform(0.8, 1.2)
            message = f"{type(error).__name__}: {error}"
            log.warning("binding %s failed (%s); retrying in %.0f s", binding_id, message, delay)
            self.store.write(
                lambda tx: binding_store.record_failure(
                    tx, binding_id, message, next_run_at=time.time() + delay
                )
            )
            raise
        else:
            if report.errors:
                log.info("binding %s: %s", binding_id, "; ".join(report.errors))
            outcome = "ok"  # recorded with the lease's release below, in one transaction
            log.debug(
                "binding %s: round done: pulled %d, pushed %d in %.2f s",
                binding_id,
                report.pulled,
                report.pushed,
                time.monotonic() - started,
            )
            return report
        finally:
            if kept is not None:
                self._keep_secret(binding_id, kept)
            log.info("binding %s: round ended by %s at %.6f", binding_id, self.owner, time.time())

            def end(tx: Tx) -> None:
                if outcome == "ok":
                    binding_store.record_success(tx, binding_id)
                binding_store.release_lease(tx, binding_id, self.owner)

            self.store.write(end)
            metrics.round_done(kind, outcome, time.monotonic() - started)

    def _keep_secret(self, binding_id: int, backend: Backend) -> None:
        """Store the secret ``backend`` changed during the round, if it did (encrypted)."""
        try:
            secret = backend.changed_secret()
        except Exception:  # noqa: BLE001 - the old secret stays; logged without its value
            log.warning("binding %s: reading its changed secret failed", binding_id)
            return
        if secret is None:
            return
        if self.keyring is None:
            log.warning("binding %s: its secret changed but no keyring to store it", binding_id)
            return
        log_setup.remember(secret)  # never in the log
        keyring = self.keyring
        self.store.write(lambda tx: binding_secrets.set_secret(tx, binding_id, secret, keyring))
        row = self.store.read(lambda conn: binding_store.get(conn, binding_id))
        if row is not None:
            self.backends.adopt(row, backend)  # its own change: the backend stays
        log.info("binding %s: stored the credentials the service rotated", binding_id)

    def acquire(self, binding_id: int) -> bool:
        """Take the binding's lease (see ``_take``); whether it was taken."""
        row = self.store.read(lambda conn: binding_store.get(conn, binding_id))
        return row is not None and self._take(row) is not None

    def _take(self, row: BindingRow) -> BindingRow | None:
        """Take the lease of the binding ``row`` (as read just before): one conditional
        UPDATE, which also takes over the lease of a holder seen dead here (its pid no
        longer runs in our pid space), unless the binding's remote account already runs
        ``rounds_per_account`` rounds. Returns the row as it is then, None if not taken."""
        binding_id = row.id
        held = lease.state_of(row)
        dead_owner = held.owner if held is not None and held.dead else None
        next_run = time.time() + self.timing.poll_seconds
        limit = self.timing.rounds_per_account

        def take(tx: Tx) -> tuple[str, BindingRow | None]:
            if binding_store.account_full(tx, row.account, limit, besides=binding_id):
                return "account full", None  # in this transaction: no other process takes it
            if not binding_store.take_lease(
                tx,
                binding_id,
                self.holder,
                self.timing.lease_seconds,
                next_run_at=next_run,
                dead_owner=dead_owner,
            ):
                return "held", None
            return "taken", binding_store.get(tx.conn, binding_id)

        what, taken = self.store.write(take)
        if what == "account full":
            log.debug("binding %s: its account runs %d rounds already; later", binding_id, limit)
        if taken is None:
            return None
        if held is not None and held.owner != self.owner:
            why = "dead" if held.dead else "no heartbeat"
            log.warning(
                "binding %s: took over the lease of %s (%s)", binding_id, held.holder_text(), why
            )
        return taken

    # -- all bindings -----------------------------------------------------------------------

    def trigger_local_changes(self) -> None:
        """Make due the bindings whose user's calendar changed since the last look."""

        def changed(conn: Connection) -> tuple[int, list[int]]:
            top = change_log.max_seq(conn)
            if top <= self._seen_seq:
                return top, []
            # A binding's own pulls (origin binding:<id>) are no reason to run it again.
            return top, binding_store.touched_since(conn, self._seen_seq, origin_of)

        top, ids = self.store.read(changed)
        self._seen_seq = top
        if ids:
            self.store.write(lambda tx: binding_store.request_run(tx, ids))

    def run_due(self) -> dict[int, RoundReport | Exception | None]:
        """One pass: the due bindings it takes (see ``_pick``) once each, ``rounds_at_once``
        at a time; returns when all are done, with what happened to each (None: not run,
        its lease or its account's rounds were taken meanwhile)."""
        picked = self._pick(self.timing.pass_size)
        if self.timing.rounds_at_once <= 1 or len(picked) <= 1:
            outcomes = [self._attempt(row) for row in picked]
        else:
            futures = [self._executor().submit(self._attempt, row) for row in picked]
            outcomes = [future.result() for future in futures]
        return {row.id: outcome for row, outcome in zip(picked, outcomes, strict=True)}

    def start_due(self) -> int:
        """Start rounds of due bindings in the free threads, without waiting for them;
        returns how many were started."""
        with self._lock:
            free = self.timing.rounds_at_once - len(self._running)
        if free <= 0:
            return 0
        picked = self._pick(min(free, self.timing.pass_size))
        for row in picked:
            self._executor().submit(self._attempt, row)
        return len(picked)

    def _pick(self, count: int) -> list[BindingRow]:
        """Up to ``count`` due bindings, longest waiting first: not running here, not
        refused lately, not leased by a live worker, and no more per remote account than
        its free rounds. They are marked running until ``_attempt`` ends."""
        self.trigger_local_changes()
        self._sweep()
        now = time.time()
        with self._lock:
            running = dict(self._running)
            resting = now - self.timing.poll_seconds
            refused = [b for b, (_, at) in self._refused.items() if at > resting]
        skip = [*running, *refused]
        due = self.store.read(
            lambda conn: binding_store.due(
                conn, now, self.holder.space, limit=self.timing.pass_size, skip=skip
            )
        )
        per_account = Counter(a for a in running.values() if a is not None)
        picked: list[BindingRow] = []
        for row in due:
            if len(picked) >= count:
                break
            if not lease.takeable(row, now):
                continue  # a live worker of this host runs it
            if row.account is not None:
                if per_account[row.account] >= self.timing.rounds_per_account:
                    continue  # keeps its place in line for the next pass
                per_account[row.account] += 1
            picked.append(row)
        with self._lock:
            self._running.update((row.id, row.account) for row in picked)
        return picked

    def _attempt(self, row: BindingRow) -> RoundReport | Exception | None:
        """The round of a picked binding, in whichever thread; what happened to it."""
        ran = False
        try:
            result = self.run_binding(row.id)
        except BindingRefused as error:  # not recorded: the binding is not ours to run
            with self._lock:
                said = self._refused.get(row.id)
                self._refused[row.id] = (str(error), time.time())
            if said is None or said[0] != str(error):
                log.error("%s", error)
            return error
        except Exception as error:  # noqa: BLE001 - already recorded on the binding
            ran = True
            return error
        else:
            ran = result is not None
            with self._lock:
                self._refused.pop(row.id, None)
            return result
        finally:
            with self._lock:
                self._running.pop(row.id, None)
            if ran:
                self._wake.set()  # a thread is free for the next due binding

    def _executor(self) -> ThreadPoolExecutor:
        size = self.timing.rounds_at_once  # a reload may change it: a new pool then
        with self._lock:
            old = self._rounds if self._rounds_size != size else None
            if self._rounds is None or old is not None:
                self._rounds = ThreadPoolExecutor(size, thread_name_prefix="sync-round")
                self._rounds_size = size
            rounds = self._rounds
        if old is not None:
            old.shutdown(wait=False)  # its running rounds end on their own
        return rounds

    def _drain(self) -> None:
        """Wait for the rounds running in threads to end."""
        with self._lock:
            rounds, self._rounds = self._rounds, None
        if rounds is not None:
            rounds.shutdown(wait=True)

    def _sweep(self) -> None:
        """Once per polling interval: close the backends of bindings retired or gone."""
        if not self.backends.kept() or time.monotonic() - self._swept < self.timing.poll_seconds:
            return
        self._swept = time.monotonic()
        self.backends.keep_only(self.store.read(binding_store.active_ids))

    def run_forever(self, stop: threading.Event, *, tick_seconds: float = 1.0) -> None:
        """Passes until ``stop`` is set, then waits for the rounds running; the caller
        closes the scheduler afterwards. With one round at a time, a pass runs its rounds
        one after another; with more, free threads take due bindings as rounds end."""
        if self.timing.rounds_at_once <= 1:
            while not stop.is_set():
                self.run_due()
                stop.wait(tick_seconds)
            return
        try:
            while not stop.is_set():
                self._wake.clear()
                self.start_due()
                self._wake.wait(tick_seconds)
        finally:
            self._drain()

    def close(self) -> None:
        """Wait for running rounds, then close every backend the scheduler kept (at
        shutdown: SIGTERM, stop)."""
        self._drain()
        self.backends.close()
