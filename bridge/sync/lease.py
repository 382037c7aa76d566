"""Leases with heartbeats: who holds a binding, whether that holder still lives, and
keeping a held lease alive while its round runs.

A lease is taken for ``lease_seconds`` and renewed every ``heartbeat_seconds`` by a small
thread of the holder (``Heartbeat``), so a round may last as long as it needs while a
holder that stopped (killed, frozen, its host gone) loses the lease a few seconds later.
A holder in this process's pid space (same host, same boot, same pid namespace) is also
checked directly: a pid that no longer runs frees its lease at once.

Once a heartbeat finds the lease gone (it expired and another worker took it), every
further call of the round's backend raises ``LeaseLost``: a worker that lost its lease
makes no more remote writes. Hosts must keep their clocks in step (NTP): the lease's
end is compared with the clock of whoever reads it.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bridge.store import Store
from bridge.store import bindings as binding_store
from bridge.store.bindings import BindingRow, Holder

log = logging.getLogger("bridge.sync")


class LeaseLost(RuntimeError):
    """The lease expired during the round and another worker took it over."""


@functools.cache
def _boot_and_namespace() -> str:
    parts = []
    for read in (
        lambda: open("/proc/sys/kernel/random/boot_id").read().strip(),  # noqa: SIM115
        lambda: os.readlink("/proc/self/ns/pid"),
    ):
        try:
            parts.append(read())
        except OSError:
            parts.append("")
    return "\n".join(parts)


def pid_space() -> str:
    """Where a pid means one process: this host, this boot, this pid namespace.

    Two containers that share a host name but not their pids are different spaces, so
    neither mistakes the other's live worker for a dead one.
    """
    text = f"{socket.gethostname()}\n{_boot_and_namespace()}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def this_process(owner: str | None = None) -> Holder:
    """A holder for a scheduler of this process (``owner``: its token, else a new one)."""
    return Holder(owner or uuid.uuid4().hex, socket.gethostname(), os.getpid(), pid_space())


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs in this pid space (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return not os.path.isdir("/proc/self")  # gone meanwhile, unless there is no /proc
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")  # killed, waiting for its parent to reap it


@dataclass(frozen=True)
class LeaseState:
    """A binding's lease as another process sees it."""

    owner: str
    host: str | None
    pid: int | None
    since: float | None
    beat: float | None
    until: float | None
    dead: bool  # its holder is in our pid space and no longer runs

    def live(self, now: float) -> bool:
        """Held by a holder that still beats (and, where we can tell, still runs)."""
        return not self.dead and self.until is not None and self.until > now

    def holder_text(self) -> str:
        """``host H pid P since T`` (or the bare owner of a lease without them)."""
        who = (
            f"host {self.host} pid {self.pid}"
            if self.host and self.pid is not None
            else f"owner {self.owner}"
        )
        return who + (f" since {clock_time(self.since)}" if self.since else "")


def clock_time(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(epoch))


def state_of(row: BindingRow) -> LeaseState | None:
    """The lease on a binding row, or None if nobody holds it."""
    if row.lease_owner is None:
        return None
    dead = (
        row.lease_space is not None
        and row.lease_space == pid_space()
        and row.lease_pid is not None
        and not pid_alive(row.lease_pid)
    )
    return LeaseState(
        owner=row.lease_owner,
        host=row.lease_host,
        pid=row.lease_pid,
        since=row.lease_since,
        beat=row.lease_beat,
        until=row.lease_until,
        dead=dead,
    )


def takeable(row: BindingRow, now: float) -> bool:
    state = state_of(row)
    return state is None or not state.live(now)


class Heartbeat:
    """Renews a taken lease from a daemon thread until the block ends.

    Sets ``lost`` when the lease is no longer the holder's: the store says so, or no
    heartbeat got through for the lease's length (others may have taken it by then).
    """

    def __init__(
        self, store: Store, binding_id: int, owner: str, *, every: float, seconds: float
    ) -> None:
        self.store, self.binding_id, self.owner = store, binding_id, owner
        self.every, self.seconds = every, seconds
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{binding_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def check(self) -> None:
        if self.lost.is_set():
            raise LeaseLost(
                f"binding {self.binding_id}: the lease expired during the round and was "
                "taken over; stopping before the next remote call"
            )

    def _run(self) -> None:
        last_ok = time.monotonic()
        while not self._stop.wait(self.every):
            try:
                held = self.store.write(
                    lambda tx: binding_store.beat(tx, self.binding_id, self.owner, self.seconds)
                )
            except Exception as error:  # noqa: BLE001 - the database may come back
                log.warning("binding %s: heartbeat failed: %s", self.binding_id, error)
                held = time.monotonic() - last_ok < self.seconds
            else:
                if held:
                    last_ok = time.monotonic()
            if not held:
                log.error("binding %s: lease lost during the round", self.binding_id)
                self.lost.set()
                return


class Fenced:
    """A backend whose every call first checks that the round still holds its lease."""

    def __init__(self, backend: Any, check: Callable[[], None]) -> None:
        self._backend, self._check = backend, check

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._backend, name)
        if not callable(real):
            return real

        @functools.wraps(real)
        def call(*args: Any, **kwargs: Any) -> Any:
            self._check()
            return real(*args, **kwargs)

        return call
