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
import time
from collections.abc import Callable
from dataclasses import dataclass

from bridge import log_context, log_setup, metrics
from bridge.backends.base import Backend, BackendError
from bridge.secret_box import Keyring
from bridge.store import Store, binding_secrets
from bridge.store import bindings as binding_store
from bridge.store.bindings import BindingRow
from bridge.store.changes import Tx
from bridge.sync import lease
from bridge.sync.adopted import BindingRefused
from bridge.sync.engine import Engine, Progress, RoundReport
from bridge.sync.passes import Passes
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


class Scheduler(Passes):
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
        self._start_passes()

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
            with self._lock:
                self._full[row.account] = time.monotonic()  # skipped for a second
        if taken is None:
            return None
        if held is not None and held.owner != self.owner:
            why = "dead" if held.dead else "no heartbeat"
            log.warning(
                "binding %s: took over the lease of %s (%s)", binding_id, held.holder_text(), why
            )
        return taken

    def close(self) -> None:
        """Wait for running rounds, then close every backend the scheduler kept (at
        shutdown: SIGTERM, stop)."""
        self._drain()
        self.backends.close()
