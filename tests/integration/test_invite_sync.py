"""The engine knows the external copy by its remote id (the invites table), not only by
its tag: a copy whose invite-copy tag is gone (a client that drops private properties) is
still never imported, and a guest's edit of it still changes no meeting. Google emulator;
the Invite action and the engine as production runs them."""

from __future__ import annotations

from datetime import timedelta

from bridge.config.invite import InviteSettings
from bridge.invite import Invites
from bridge.model import Participant
from tests.support.sync_world import CALENDAR, make_world


def test_a_copy_that_lost_its_tag_is_still_never_imported(db_url, google_emulator):
    world = make_world(db_url, google_emulator)
    try:
        made = world.crm_meeting(
            "m-tagless", "Review", external=[Participant("ann@partner.test", "Ann")]
        )
        world.round()
        invites = Invites(world.store, InviteSettings(), world.backend_for)
        state = invites.send("m-tagless")
        meetings, links = world.meeting_count(), world.link_count()
        moved = made.start + timedelta(days=1)
        google_emulator.edit(
            CALENDAR,
            state.remote_id,
            extendedProperties=None,  # the tag is gone
            summary="Edited copy",
            start={"dateTime": moved.isoformat()},
            end={"dateTime": (moved + timedelta(hours=1)).isoformat()},
        )
        copy = google_emulator.event(CALENDAR, state.remote_id)
        assert "extendedProperties" not in copy
        report = world.round()
        assert not report.errors and world.meeting_count() == meetings
        assert world.link_count() == links
        row = world.meeting("m-tagless")
        assert row.subject == "Review" and row.start_utc == int(made.start.timestamp())
        google_emulator.remove(CALENDAR, state.remote_id)
        world.round()
        assert world.meeting("m-tagless") is not None and world.meeting_count() == meetings
    finally:
        world.store.dispose()
