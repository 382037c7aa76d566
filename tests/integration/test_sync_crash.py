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


def crash(world, method: str, nth: int, when: str = "after") -> None:
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
    crash(world, "create_many", 1)  # one create: the plain insert, not a batch
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
    crash(world, "set_tag", 2)  # killed after the second pulled event was tagged
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


def seed_google(world, n: int) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    for i in range(n):
        world.google.seed(
            CALENDAR,
            {
                "summary": f"Made in Google {i}",
                "start": {"dateTime": (start + timedelta(hours=i)).isoformat()},
                "end": {"dateTime": (start + timedelta(hours=i, minutes=30)).isoformat()},
            },
        )


def pending_tags(world) -> list[str]:
    from bridge.store import links as link_store

    rows = world.store.read(lambda c: link_store.tag_pending(c, world.binding_id))
    return [r.meeting_uid for r in rows]


def test_killed_between_the_pull_transaction_and_the_tag_write(world):
    """The meeting and its link (tag pending) are stored; the tag is not written. The
    next round writes it (the tag alone) and imports nothing twice."""
    seed_google(world, 1)
    crash(world, "set_tag", 1, "before")
    assert world.meeting_count() == 1 and world.link_count() == 1
    [uid] = pending_tags(world)
    [event] = world.google_events()
    assert "extendedProperties" not in event or not event["extendedProperties"].get("private")
    world.round()
    [event] = world.google_events()
    assert event["extendedProperties"]["private"]["crmMeetingId"] == uid
    assert pending_tags(world) == []
    assert world.meeting_count() == 1 and world.link_count() == 1
    quiet = world.round()
    assert quiet.pulled == 0 and quiet.pushed == 0 and pending_tags(world) == []


def test_killed_between_pages_of_a_pull(db_url, google_emulator):
    """A paged pull applies page after page and stores the cursor after the last: killed
    after the first page was applied, the next round lists again from the old cursor,
    matches by link and makes no duplicate."""
    paged = make_world(db_url, google_emulator, page_size=2)
    try:
        seed_google(paged, 5)
        crash(paged, "page", 2)  # page 1 (two events) applied, page 2 listed, then killed
        assert paged.meeting_count() == 2 and paged.link_count() == 2
        assert paged.binding().remote_cursor is None  # the cursor waits for the last page
        paged.round()
        assert paged.meeting_count() == 5 and paged.link_count() == 5
        assert len(paged.google_events()) == 5 and pending_tags(paged) == []
        tags = {e["extendedProperties"]["private"]["crmMeetingId"] for e in paged.google_events()}
        assert len(tags) == 5
        quiet = paged.round()
        assert quiet.pulled == 0 and quiet.pushed == 0
    finally:
        paged.store.dispose()
