"""Telling a live lease holder from a dead one (bridge.sync.lease)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from types import SimpleNamespace

from bridge.sync.lease import pid_alive, pid_space, state_of, this_process


def gone_pid() -> int:
    """The pid of a process that ran and was reaped."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def lease_row(**values):
    row = dict(
        lease_owner="o",
        lease_host=None,
        lease_pid=None,
        lease_space=None,
        lease_since=None,
        lease_beat=None,
        lease_until=None,
    )
    row.update(values)
    return SimpleNamespace(**row)


def test_pid_alive_for_running_reaped_and_zombie_processes():
    assert pid_alive(os.getpid())
    assert not pid_alive(gone_pid())
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        assert pid_alive(sleeper.pid)
        os.kill(sleeper.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while pid_alive(sleeper.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not pid_alive(sleeper.pid)  # a zombie until we reap it: it runs nothing
    finally:
        sleeper.kill()
        sleeper.wait()


def test_this_process_holds_with_its_host_pid_and_space():
    holder = this_process("token")
    assert (holder.owner, holder.host, holder.pid) == ("token", socket.gethostname(), os.getpid())
    assert holder.space == pid_space() and len(holder.space) == 32
    assert this_process().owner != this_process().owner  # fresh tokens


def test_a_lease_is_live_while_it_beats_and_its_holder_runs():
    now = time.time()
    here = pid_space()
    assert state_of(lease_row(lease_owner=None)) is None
    mine = lease_row(lease_host="h", lease_pid=os.getpid(), lease_space=here, lease_until=now + 9)
    assert state_of(mine).live(now)
    assert not state_of(mine).live(now + 10)  # its heartbeat stopped
    dead = lease_row(lease_host="h", lease_pid=gone_pid(), lease_space=here, lease_until=now + 9)
    assert state_of(dead).dead and not state_of(dead).live(now)
    # A pid of another space is not ours to judge: only the heartbeat counts there.
    far = lease_row(lease_host="h", lease_pid=gone_pid(), lease_space="other", lease_until=now + 9)
    assert not state_of(far).dead and state_of(far).live(now)


def test_holder_text_names_host_pid_and_since():
    since = time.mktime((2026, 12, 2, 8, 0, 0, 0, 0, -1))
    row = lease_row(lease_host="web-1", lease_pid=4242, lease_since=since, lease_until=since)
    text = state_of(row).holder_text()
    assert text.startswith("host web-1 pid 4242 since 2026-12-02 08:00:00")
    assert state_of(lease_row(lease_owner="one")).holder_text() == "owner one"
