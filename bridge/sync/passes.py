"""The passes of the scheduler (mixed into bridge.sync.scheduler.Scheduler): which due
bindings run now, and in which thread.

A pass reads the due bindings by index, longest waiting first, at most ``pass_size``
(bridge.store.bindings.due), leaving out those running here, those this process's
configuration refused lately (for a poll interval) and the remote accounts whose rounds
are all taken, and picks no more per account than its free rounds. ``run_due`` runs one
pass and waits for its rounds (``bridge sync``, tests); ``run_forever`` hands a due
binding to a free thread as soon as a round ends (up to ``rounds_at_once`` at a time),
else every tick. A binding not picked keeps its place at the front of the line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from bridge.store import Store
from bridge.store import bindings as binding_store
from bridge.store import changes as change_log
from bridge.store.bindings import BindingRow, Holder
from bridge.sync import lease
from bridge.sync.adopted import BindingRefused
from bridge.sync.engine import RoundReport, origin_of
from bridge.sync.pool import BackendPool

if TYPE_CHECKING:
    from bridge.sync.scheduler import Timing

log = logging.getLogger("bridge.sync")


class Passes:
    """Due bindings to rounds; the Scheduler provides ``run_binding`` and the parts below."""

    store: Store
    timing: Timing
    holder: Holder
    backends: BackendPool

    def run_binding(self, binding_id: int) -> RoundReport | None:
        raise NotImplementedError

    def _start_passes(self) -> None:
        self._seen_seq = self.store.read(change_log.max_seq)
        # Refused bindings: the reason (logged once) and when; skipped for a poll interval.
        self._refused: dict[int, tuple[str, float]] = {}
        self._swept = time.monotonic()
        self._lock = threading.Lock()
        self._running: dict[int, str | None] = {}  # rounds of this scheduler: id -> account
        self._rounds: ThreadPoolExecutor | None = None
        self._rounds_size = 0
        self._wake = threading.Event()  # a round ended: a thread is free
        self._full: dict[str, float] = {}  # accounts the store found full, and when

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

    def start_due(self, *, look: bool = True) -> int:
        """Start rounds of due bindings in the free threads, without waiting for them;
        returns how many were started. ``look``: read the change log first."""
        with self._lock:
            free = self.timing.rounds_at_once - len(self._running)
        if free <= 0:
            return 0
        # Called as each round ends: a few rows more than the free threads, not a pass.
        window = min(self.timing.pass_size, free + self.timing.rounds_at_once)
        picked = self._pick(min(free, self.timing.pass_size), window, look=look)
        for row in picked:
            self._executor().submit(self._attempt, row)
        return len(picked)

    def _pick(
        self, count: int, window: int | None = None, *, look: bool = True
    ) -> list[BindingRow]:
        """Up to ``count`` due bindings, longest waiting first: not running here, not
        refused lately, not leased by a live worker, and no more per remote account than
        its free rounds; an account full here, or found full in the store within the last
        tick, is left out in the query. ``window``: how many due rows to read (default
        ``pass_size``). They are marked running until ``_attempt`` ends."""
        if look:
            self.trigger_local_changes()
        self._sweep()
        now = time.time()
        limit = self.timing.rounds_per_account
        with self._lock:
            running = dict(self._running)
            resting = now - self.timing.poll_seconds
            refused = [b for b, (_, at) in self._refused.items() if at > resting]
            recent = time.monotonic() - 1.0
            self._full = {a: at for a, at in self._full.items() if at > recent}
            full = set(self._full)
        per_account = Counter(a for a in running.values() if a is not None)
        full |= {a for a, n in per_account.items() if n >= limit}
        due = self.store.read(
            lambda conn: binding_store.due(
                conn,
                now,
                self.holder.space,
                limit=window or self.timing.pass_size,
                skip=[*running, *refused],
                skip_accounts=full,
            )
        )
        picked: list[BindingRow] = []
        for row in due:
            if len(picked) >= count:
                break
            if not lease.takeable(row, now):
                continue  # a live worker of this host runs it
            if row.account is not None:
                if per_account[row.account] >= limit:
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
        looked = 0.0
        try:
            while not stop.is_set():
                self._wake.clear()
                # The change log once a tick, not at every round's end.
                look = time.monotonic() - looked >= tick_seconds
                if look:
                    looked = time.monotonic()
                self.start_due(look=look)
                self._wake.wait(tick_seconds)
        finally:
            self._drain()
