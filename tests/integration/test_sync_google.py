"""Two Google bindings (alice and bob on the emulator): a meeting lands once in each
internal participant's calendar. Google-only for now: the contract suite's drivers serve
one user's calendar (alice's); and what only Google's wire can show (an event moved to a new
id with its tag; Google's 403 for an event the user only attends). The rest of Google sync is
in tests/contract/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bridge.store import binding_secrets
from bridge.store import links as link_store
from tests.support.sync_world import CALENDAR, USERS, make_world


@pytest.fixture
def world(db_url, google_emulator):
    w = make_world(db_url, google_emulator)
    yield w
    w.store.dispose()


def _tag(event: dict) -> str | None:
    return (event.get("extendedProperties") or {}).get("private", {}).get("crmMeetingId")


def test_meeting_lands_once_in_each_internal_participants_calendar(db_url, google_emulator):
    """Alice and Bob both sync with Google; Carol books a meeting on Bob's behalf."""
    from bridge.store import bindings as binding_store
    from bridge.store import users as user_store
    from bridge.sync.engine import Engine

    world = make_world(db_url, google_emulator)
    try:
        bob_user = google_emulator.add_user("bob@example.com")

        def add_bob_and_carol(tx):
            user_store.sync(
                tx,
                [
                    *[user_store.UserRecord(u.login, u.email, u.display_name) for u in USERS],
                    user_store.UserRecord("carol", "carol@example.com", "Carol"),
                ],
            )
            alice = binding_store.by_login(tx.conn, "alice", "google")[0]
            settings = __import__("json").loads(alice.settings)
            binding_store.sync(
                tx,
                [binding_store.BindingRecord("bob", "google", "google", settings)],
                world.keyring,
            )
            bob = binding_store.by_login(tx.conn, "bob", "google")[0]
            binding_secrets.set_secret(
                tx, bob.id, {"refresh_token": bob_user.refresh_token}, world.keyring
            )
            return bob.id

        bob_binding = world.store.write(add_bob_and_carol)
        world.crm_meeting("shared", "Shared", organiser="alice", internal_users=["bob"])
        world.crm_meeting("behalf", "For Bob", organiser="bob", booked_by="carol")

        def bob_round():
            row = world.store.read(lambda c: binding_store.get(c, bob_binding))
            return Engine(world.store, bob_binding, world.backend_for(row), world.rules).run()

        for _ in range(2):  # twice: the second round must change nothing
            world.round()
            bob_round()
        alice_titles = sorted(e["summary"] for e in google_emulator.events("alice@example.com"))
        bob_titles = sorted(e["summary"] for e in google_emulator.events("bob@example.com"))
        assert alice_titles == ["Shared"]
        assert bob_titles == ["For Bob", "Shared"]
        for event in google_emulator.events("bob@example.com"):
            assert "attendees" not in event
    finally:
        world.store.dispose()


def _seed_event(world, summary: str, **extra) -> dict:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    return world.google.seed(
        CALENDAR,
        {
            "summary": summary,
            "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + timedelta(hours=1)).isoformat()},
            **extra,
        },
    )


def test_a_tagged_event_moved_to_a_new_id_is_re_linked(world):
    """The copy disappears under its id and comes back under another with the same tag (a
    move; EWS ConvertId; Graph without immutable ids): the link follows it, the meeting
    stays, nothing is created twice. The old id's deletion is listed first."""
    world.crm_meeting("mv-1", "Moving")
    world.round()
    [old] = world.google_events()
    world.google.remove(CALENDAR, old["id"])
    keep = {k: old[k] for k in ("summary", "start", "end", "extendedProperties")}
    moved = world.google.seed(CALENDAR, {**keep, "id": "movedcopy0001"})
    report = world.round()
    assert report.pushed == 0, report
    link = world.store.read(lambda c: link_store.by_meeting(c, world.binding_id, "mv-1"))
    assert link is not None and link.remote_id == moved["id"]
    assert world.meeting("mv-1") is not None and world.link_count() == 1
    assert [e["id"] for e in world.google_events()] == [moved["id"]]
    world.google.edit(CALENDAR, moved["id"], summary="Renamed after the move")
    world.round()
    assert world.meeting("mv-1").subject == "Renamed after the move"
    world.crm_meeting("mv-1", "CRM edit after the move")
    world.round()
    assert world.google.event(CALENDAR, moved["id"])["summary"] == "CRM edit after the move"
    assert len(world.google_events()) == 1


def test_a_move_listed_as_deletion_then_new_id_across_pages_is_re_linked(world):
    """The old id's deletion on one page, the moved copy (same tag, new id) on a later
    page: deletions wait for the last page, so the meeting is re-linked, never deleted."""
    from bridge.backends.base import ChangePage, Deleted
    from bridge.sync.engine import Engine

    world.crm_meeting("mv-2", "Moving across pages")
    world.round()
    [old] = world.google_events()
    world.google.remove(CALENDAR, old["id"])
    keep = {k: old[k] for k in ("summary", "start", "end", "extendedProperties")}
    moved = world.google.seed(CALENDAR, {**keep, "id": "movedcopy0002"})

    class DeletionsFirst:
        """The real listing, re-paged: every deletion on page 1, every live event after."""

        def __init__(self, backend):
            self.backend = backend

        def __getattr__(self, name):
            return getattr(self.backend, name)

        def list_changes(self, cursor, window):
            pages = list(self.backend.list_changes(cursor, window))
            changes = [c for p in pages for c in p.changes]
            yield ChangePage([c for c in changes if isinstance(c, Deleted)])
            yield ChangePage([c for c in changes if not isinstance(c, Deleted)], pages[-1].cursor)

    report = Engine(
        world.store, world.binding_id, DeletionsFirst(world.backend()), world.rules
    ).run()
    assert report.pushed == 0, report
    link = world.store.read(lambda c: link_store.by_meeting(c, world.binding_id, "mv-2"))
    assert link is not None and link.remote_id == moved["id"]
    assert world.meeting("mv-2") is not None and world.link_count() == 1
    assert [e["id"] for e in world.google_events()] == [moved["id"]]


def test_a_refused_tag_write_leaves_the_link_and_says_so(world):
    """The tag is written alone (a patch of extendedProperties.private, no notification);
    when Google refuses it (403: the user only attends the event), the meeting and its
    link stay, the event stays untagged, the round says so and nothing repeats."""
    made = _seed_event(world, "Not mine to tag")
    world.google.faults.error(403, "forbiddenForNonOrganizer", times=1, api="events.patch")
    report = world.round()
    assert report.pulled == 1
    assert any("could not tag" in e for e in report.errors), report.errors
    assert _tag(world.google.event(CALENDAR, made["id"])) is None
    assert world.link_count() == 1 and world.meeting_count() == 1
    assert world.store.read(lambda c: link_store.tag_pending(c, world.binding_id)) == []
    world.google.reset_counters()
    quiet = world.round()
    assert quiet.pulled == 0 and quiet.pushed == 0 and quiet.errors == []
    assert world.google.calls["events.patch"] == 0 and world.meeting_count() == 1
