"""Leases that survive kill -9: real worker processes, `bridge sync` and `bridge status`.

A worker runs its round under the binding's lease (tests/support/leased_round.py) and is
SIGKILLed mid-round or kept waiting mid-round; the admin's `bridge sync` and `bridge
status` run as processes against the same database (SQLite and MariaDB).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bridge.store import bindings as binding_store
from bridge.sync.lease import pid_space
from tests.support.google_toml import google_binding
from tests.support.sync_world import CALENDAR, make_world

#: The binding's backend lines: the emulator's primary calendar, unpaced.
UNPACED = 'calendar_id = "primary"\nrequests_per_second = 1000\nbackoff_base = 0.01'

HOST = socket.gethostname()


@pytest.fixture
def world(db_url, google_emulator):
    w = make_world(db_url, google_emulator)
    yield w
    w.store.dispose()


@pytest.fixture
def config(tmp_path, world) -> Path:
    google = world.google
    path = tmp_path / "bridge.toml"
    path.write_text(
        f"""
[server]
auth = "none"

[store]
url = "{world.store.url}"

[secrets]
key_env = "BRIDGE_SECRET_KEY"

[[users]]
login = "alice"
email = "{CALENDAR}"

{google_binding(google, backend=UNPACED)}

[[users]]
login = "bob"
email = "bob@example.com"
"""
    )
    return path


def environment(world) -> dict[str, str]:
    return {**os.environ, "BRIDGE_SECRET_KEY": world.keyring.keys[0]}


def bridge(world, config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bridge.cli", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment(world),
    )


def worker(world, method: str, nth: int, mode: str) -> subprocess.Popen:
    """A worker process running one round under the lease (see leased_round.py)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.leased_round",
            world.store.url,
            str(world.binding_id),
            method,
            str(nth),
            mode,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(world),
    )


def lease_row(world):
    return world.store.read(lambda c: binding_store.get(c, world.binding_id))


def running_line(status: subprocess.CompletedProcess) -> str:
    assert status.returncode == 0, status.stderr
    return next(line for line in status.stdout.splitlines() if "running:" in line)


def test_a_worker_killed_mid_round_is_taken_over_by_bridge_sync_at_once(world, config):
    for n in range(3):
        world.crm_meeting(f"k-{n}", f"Meeting {n}")
    killed = worker(world, "create_many", 1, "kill")  # its lease runs 15 s
    _, err = killed.communicate(timeout=120)
    assert killed.returncode == -signal.SIGKILL, err
    assert len(world.google_events()) == 3 and world.link_count() == 0  # mid-round
    row = lease_row(world)
    assert (row.lease_host, row.lease_pid) == (HOST, killed.pid)
    assert row.lease_until > time.time() + 5  # the lease itself has not run out

    stale = running_line(bridge(world, config, "status"))
    assert f"stale lease of host {HOST} pid {killed.pid} since " in stale
    assert "(dead)" in stale and "yes" not in stale

    started = time.monotonic()
    synced = bridge(world, config, "sync", "alice", "--wait", "60")
    took = time.monotonic() - started
    assert synced.returncode == 0, synced.stderr
    assert "alice/google: pulled" in synced.stdout
    assert "being synced" not in synced.stderr  # it never waited for the dead worker
    assert took < 10, took  # taken over at once, not after the 15 s lease
    assert len(world.google_events()) == 3 and world.link_count() == 3  # no duplicates
    assert running_line(bridge(world, config, "status")).split() == ["running:", "no"]


def test_a_live_worker_makes_bridge_sync_wait_then_run_or_give_up(world, config):
    world.crm_meeting("h-1", "Held")
    holder = worker(world, "list_changes", 1, "hold")  # 0.6 s lease, 0.2 s heartbeats
    try:
        assert holder.stdout.readline().strip() == "holding", holder.stderr.read()
        time.sleep(1.5)  # past its lease length: only the heartbeat keeps it
        busy_text = f"binding alice/google is being synced by host {HOST} pid {holder.pid} since "

        running = running_line(bridge(world, config, "status"))
        assert f"yes, by host {HOST} pid {holder.pid} since " in running
        assert "heartbeat" in running

        busy = bridge(world, config, "sync", "alice", "--wait", "1")
        assert busy.returncode == 75, (busy.stdout, busy.stderr)
        assert busy_text in busy.stderr and "waiting up to 1 s" in busy.stderr
        assert "gave up after waiting 1 s" in busy.stderr
        assert "pulled" not in busy.stdout  # it ran nothing and says so

        waiting = subprocess.Popen(
            [sys.executable, "-m", "bridge.cli", "sync", "alice", "--wait", "60"]
            + ["--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment(world),
        )
        told = waiting.stderr.readline()
        assert busy_text in told and "waiting up to 60 s" in told
        holder.stdin.close()  # the worker's round goes on and ends
        assert holder.wait(timeout=60) == 0
        assert "done: pulled 0, pushed 1" in holder.stdout.read()
        out, err = waiting.communicate(timeout=120)
        assert waiting.returncode == 0, err
        assert "alice/google: pulled 0, pushed 0" in out  # its own round, after the worker's
    finally:
        holder.kill()
        holder.wait()
    assert [e["summary"] for e in world.google_events()] == ["Held"]


def test_a_holder_on_another_host_is_waited_for_until_its_heartbeat_stops(world, config):
    other = binding_store.Holder("far", "other-host", 4242, "another pid space")
    world.store.write(lambda tx: binding_store.take_lease(tx, world.binding_id, other, 8))
    until = lease_row(world).lease_until

    assert "yes, by host other-host pid 4242 since " in running_line(
        bridge(world, config, "status")
    )
    busy = bridge(world, config, "sync", "alice", "--wait", "0")
    assert busy.returncode == 75
    assert "is being synced by host other-host pid 4242" in busy.stderr

    time.sleep(max(0.0, until - time.time()) + 0.2)  # no heartbeat came: the lease ran out
    stale = running_line(bridge(world, config, "status"))
    assert "stale lease of host other-host pid 4242 since " in stale
    assert "heartbeat" in stale and "dead" not in stale  # not ours to call dead
    synced = bridge(world, config, "sync", "alice", "--wait", "0")
    assert synced.returncode == 0, synced.stderr
    assert "alice/google: pulled 0, pushed 0" in synced.stdout


def contenders(world, count: int) -> list[str]:
    """``count`` processes try to take the lease at the same moment; what each got."""
    racers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.lease_race",
                world.store.url,
                str(world.binding_id),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    try:
        for racer in racers:
            assert racer.stdout.readline().strip() == "ready", racer.stderr.read()
        for racer in racers:
            racer.stdin.write("go\n")
            racer.stdin.flush()
        return [racer.communicate(timeout=120)[0].strip() for racer in racers]
    finally:
        for racer in racers:
            racer.kill()
            racer.wait()


def test_processes_racing_for_a_free_lease_get_it_once(world):
    assert sorted(contenders(world, 6)) == ["lost"] * 5 + ["won"]


def test_processes_racing_for_a_dead_holders_lease_get_it_once(world):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead = binding_store.Holder("dead", HOST, gone.pid, pid_space())
    world.store.write(lambda tx: binding_store.take_lease(tx, world.binding_id, dead, 600))
    assert sorted(contenders(world, 6)) == ["lost"] * 5 + ["won"]
    assert lease_row(world).lease_owner != "dead"
