"""Graph-only sync cases through the engine: an event whose id changes (a move Outlook
makes) re-links by its tag; a CRM change to a meeting alice organises in Outlook with
attendees is set aside with the reason, and nothing mails anyone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.contract.drivers.graph import GraphDriver
from tests.contract.world import ContractWorld, make_contract_world
from tests.emulators.graph import GraphEmulator


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[ContractWorld]:
    with GraphEmulator() as graph:
        made = make_contract_world(db_url, GraphDriver(graph, tmp_path))
        try:
            yield made
        finally:
            made.close()


def test_a_moved_event_with_a_new_id_relinks_by_tag(world: ContractWorld) -> None:
    world.crm_meeting("mv-1", "Moved")
    world.round()
    (old,) = world.events()
    driver = world.driver
    moved = driver.box.move(old.remote_id, keep_immutable=False)
    assert moved["id"] != old.remote_id
    world.round()
    world.round()
    (now,) = world.events()
    assert now.remote_id == moved["id"] and now.crm_meeting_id == "mv-1"
    assert world.meeting("mv-1") is not None and world.link_count() == 1
    assert driver.mailed() == []


def test_a_crm_change_to_an_outlook_meeting_with_attendees_is_set_aside(world) -> None:
    driver = world.driver
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    made = driver.box.create(
        subject="Team sync",
        start={"dateTime": start.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
        end={
            "dateTime": (start + timedelta(hours=1)).replace(tzinfo=None).isoformat(),
            "timeZone": "UTC",
        },
        attendees=[{"emailAddress": {"address": "carol@example.com"}, "type": "required"}],
    )
    world.round()  # comes into the CRM, tagged (the tag write mails no one)
    (event,) = world.events()
    uid = event.crm_meeting_id
    assert uid and world.meeting(uid).subject == "Team sync"
    world.crm_meeting(uid, "Renamed in the CRM")
    report = world.round()
    assert report.quarantined == 1
    (entry,) = world.quarantine()
    assert "attendees" in entry.reason and "calendar -> CRM" in entry.reason
    assert driver.box.event(made["id"])["subject"] == "Team sync"
    assert driver.mailed() == [] and driver.graph.attendees_written == []
    # A change in Outlook still comes into the CRM.
    driver.box.update(made["id"], subject="Renamed in Outlook")
    world.round()
    assert driver.mailed() == []
