"""A worker SIGKILLed at any point of a round loses nothing and duplicates nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.sync_world import CALENDAR, make_world


@pytest.fixture
def world(db_url, google_emulator):
    w = make_world(db_url, google_emulator)
    yield w
    w.store.dispose()


def crash(world, method: str, nth: int) -> None:
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


def test_killed_after_a_batch_of_creates_before_the_links(world):
    for n in range(4):
        world.crm_meeting(f"k-{n}", f"Meeting {n}")
    crash(world, "create_many", 1)  # all four exist remotely, no link was recorded
    assert len(world.google_events()) == 4
    assert world.link_count() == 0
    world.round()
    events = world.google_events()
    assert len(events) == 4
    tags = sorted(e["extendedProperties"]["private"]["crmMeetingId"] for e in events)
    assert tags == ["k-0", "k-1", "k-2", "k-3"]
    assert world.link_count() == 4
    assert world.round().pushed == 0  # nothing left over


def test_killed_after_a_single_create_before_its_link(world):
    world.crm_meeting("one", "Only one")
    crash(world, "create", 1)
    assert len(world.google_events()) == 1 and world.link_count() == 0
    world.round()
    assert len(world.google_events()) == 1 and world.link_count() == 1


def test_killed_mid_pull_before_the_cursor_is_saved(world):
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    for n in range(3):
        world.google.seed(
            CALENDAR,
            {
                "summary": f"Made in Google {n}",
                "start": {"dateTime": (start + timedelta(hours=n)).isoformat()},
                "end": {"dateTime": (start + timedelta(hours=n, minutes=30)).isoformat()},
            },
        )
    crash(world, "update", 2)  # killed after the second pulled event was tagged
    world.round()
    assert world.meeting_count() == 3
    assert world.link_count() == 3
    assert len(world.google_events()) == 3
    quiet = world.round()
    assert quiet.pulled == 0 and quiet.pushed == 0


def test_killed_after_remote_update_before_link_refresh(world):
    world.crm_meeting("u-1", "Before")
    world.round()
    world.crm_meeting("u-1", "After")
    crash(world, "update", 1)
    world.round()
    events = world.google_events()
    assert len(events) == 1 and events[0]["summary"] == "After"
    assert world.meeting("u-1").subject == "After"
