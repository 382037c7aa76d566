"""A worker SIGKILLed at any point of a round loses nothing and duplicates nothing, on
every backend kind (tests/support/crash_round.py runs the round in a child process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from bridge.store import links as link_store
from tests.contract.world import ContractWorld


def crash(world: ContractWorld, method: str, nth: int, when: str = "after") -> None:
    """Run a round in a child process, SIGKILLed at the NTH call of ``method`` (``when``
    "after" it returned or "before" it went out; method "page": the NTH page listed)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.crash_round",
            world.store.url,
            str(world.binding_id),
            method,
            str(nth),
            when,
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
    crash(world, "create_many", 1)  # the engine creates through create_many, even one
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
    crash(world, "set_tag", 2)  # killed after the second pulled event was tagged
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


def seed(driver, n: int) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    for i in range(n):
        driver.seed(
            subject=f"Made in the calendar {i}",
            start=start + timedelta(hours=i),
            end=start + timedelta(hours=i, minutes=30),
        )


def pending_tags(world: ContractWorld) -> list[str]:
    rows = world.store.read(lambda c: link_store.tag_pending(c, world.binding_id))
    return [r.meeting_uid for r in rows]


def test_killed_between_the_pull_transaction_and_the_tag_write(contract_world, driver):
    """The meeting and its link (tag pending) are stored; the tag is not written. The
    next round writes it (the tag alone) and imports nothing twice."""
    world = contract_world
    seed(driver, 1)
    crash(world, "set_tag", 1, "before")
    assert world.meeting_count() == 1 and world.link_count() == 1
    [uid] = pending_tags(world)
    [event] = world.events()
    assert event.crm_meeting_id is None
    world.round()
    [event] = world.events()
    assert event.crm_meeting_id == uid
    assert pending_tags(world) == []
    assert world.meeting_count() == 1 and world.link_count() == 1
    quiet = world.round()
    assert quiet.pulled == 0 and quiet.pushed == 0 and pending_tags(world) == []


def test_killed_between_pages_of_a_pull(world_with, driver):
    """A paged pull applies page after page and stores the cursor after the last: killed
    after the first page was applied, the next round lists again from the old cursor,
    matches by link and makes no duplicate."""
    paged = world_with(**{driver.page_setting: 2})
    seed(driver, 5)
    crash(paged, "page", 2)  # page 1 (two events) applied, page 2 listed, then killed
    assert paged.meeting_count() == 2 and paged.link_count() == 2
    assert paged.binding().remote_cursor is None  # the cursor waits for the last page
    paged.round()
    assert paged.meeting_count() == 5 and paged.link_count() == 5
    assert len(paged.events()) == 5 and pending_tags(paged) == []
    assert len({e.crm_meeting_id for e in paged.events()}) == 5
    quiet = paged.round()
    assert quiet.pulled == 0 and quiet.pushed == 0
