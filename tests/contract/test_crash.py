"""A worker SIGKILLed at any point of a round loses nothing and duplicates nothing, on
every backend kind (tests/support/crash_round.py runs the round in a child process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from tests.contract.world import ContractWorld


def crash(world: ContractWorld, method: str, nth: int) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.crash_round",
            world.store.url,
            str(world.binding_id),
            method,
            str(nth),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "BRIDGE_SECRET_KEY": world.keyring.keys[0]},
    )
    assert result.returncode == -signal.SIGKILL, result.stderr


def test_killed_after_a_batch_of_creates_before_the_links(contract_world):
    world = contract_world
    for n in range(4):
        world.crm_meeting(f"k-{n}", f"Meeting {n}")
    crash(world, "create_many", 1)  # all four exist remotely, no link was recorded
    assert len(world.events()) == 4
    assert world.link_count() == 0
    world.round()
    events = world.events()
    assert len(events) == 4
    assert sorted(e.crm_meeting_id for e in events) == ["k-0", "k-1", "k-2", "k-3"]
    assert world.link_count() == 4
    assert world.round().pushed == 0  # nothing left over


def test_killed_after_a_single_create_before_its_link(contract_world):
    world = contract_world
    world.crm_meeting("one", "Only one")
    crash(world, "create", 1)
    assert len(world.events()) == 1 and world.link_count() == 0
    world.round()
    assert len(world.events()) == 1 and world.link_count() == 1


def test_killed_mid_pull_before_the_cursor_is_saved(contract_world, driver):
    world = contract_world
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    for n in range(3):
        driver.seed(
            subject=f"Made in the calendar {n}",
            start=start + timedelta(hours=n),
            end=start + timedelta(hours=n, minutes=30),
        )
    crash(world, "set_tag,update", 2)  # killed after the second pulled event was tagged
    world.round()
    assert world.meeting_count() == 3
    assert world.link_count() == 3
    assert len(world.events()) == 3
    quiet = world.round()
    assert quiet.pulled == 0 and quiet.pushed == 0


def test_killed_after_remote_update_before_link_refresh(contract_world):
    world = contract_world
    world.crm_meeting("u-1", "Before")
    world.round()
    world.crm_meeting("u-1", "After")
    crash(world, "update", 1)
    world.round()
    assert world.subjects() == ["After"]
    assert world.meeting("u-1").subject == "After"
