"""An event whose remote id changes (moved to another calendar or folder and back: Exchange
gives it a new ItemId, Google a new event id, CalDAV a new resource name) is re-linked by
its tag: never pushed again, never deleted, on every backend kind."""

from __future__ import annotations

from bridge.store import links as link_store


def test_a_moved_event_is_re_linked_by_its_tag(contract_world, driver):
    world = contract_world
    world.crm_meeting("mv-1", "Moving")
    world.round()
    (old,) = world.events()
    moved = driver.move(old.remote_id)
    assert moved != old.remote_id
    report = world.round()
    assert report.pushed == 0, report
    link = world.store.read(lambda c: link_store.by_meeting(c, world.binding_id, "mv-1"))
    assert link is not None and link.remote_id == moved
    assert world.meeting("mv-1") is not None and world.link_count() == 1
    assert [e.remote_id for e in world.events()] == [moved]
    driver.edit(moved, subject="Renamed after the move")
    world.round()
    assert world.meeting("mv-1").subject == "Renamed after the move"
    world.crm_meeting("mv-1", "CRM edit after the move")
    world.round()
    assert world.subjects() == ["CRM edit after the move"]
    assert driver.mailed() == []
