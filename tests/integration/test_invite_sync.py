"""The engine knows the external copy by its remote id (the invites table), not only by
its tag: a copy whose invite-copy tag is gone (a client that drops private properties) is
still never imported, and a guest's edit of it still changes no meeting. Google emulator;
the Invite action and the engine as production runs them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bridge.config.invite import InviteSettings
from bridge.invite import Invites
from bridge.meeting_service import save_from_sync
from bridge.model import Meeting, Override, Participant, Recurrence
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


def test_a_series_with_a_moved_occurrence_goes_out_with_it_and_is_never_imported(
    db_url, google_emulator
):
    """A moved occurrence no longer refuses the invite (it did until issue 10's series
    work): preview and send take it, the copy's instance is patched to the new time with
    the copy's sendUpdates=all, and the engine imports neither the copy nor its instance."""
    world = make_world(db_url, google_emulator)
    try:
        start = datetime.now(UTC).replace(microsecond=0, second=0, minute=0) + timedelta(days=2)
        second = start + timedelta(days=7)
        moved = Override(
            second.astimezone(UTC).isoformat(),
            second + timedelta(hours=3),
            second + timedelta(hours=4),
        )
        meeting = Meeting(
            uid="m-series",
            start=start,
            end=start + timedelta(hours=1),
            organiser="alice",
            subject="Weekly",
            external=[Participant("ann@partner.test", "Ann")],
            recurrence=Recurrence(rrule="FREQ=WEEKLY;COUNT=4", overrides=[moved.recurrence_id]),
        )
        world.store.write(
            lambda tx: save_from_sync(
                tx,
                meeting,
                href="m-series.ics",
                horizon_days=400,
                max_occurrences=500,
                overrides=[moved],
            ),
            origin="crm",
        )
        world.round()
        meetings, links = world.meeting_count(), world.link_count()
        invites = Invites(world.store, InviteSettings(), world.backend_for)
        preview = invites.preview("m-series")
        assert preview.attendees[0].email == "ann@partner.test"
        state = invites.send("m-series")
        assert state.state == "sent" and state.remote_id
        instance_writes = [
            w for w in google_emulator.sent_updates if w.event_id.startswith(state.remote_id + "_")
        ]
        assert [(w.method, w.send_updates) for w in instance_writes] == [("patch", "all")]
        (instance,) = [
            i
            for i in google_emulator.instances(CALENDAR, state.remote_id)
            if i["originalStartTime"]["dateTime"].startswith(second.strftime("%Y-%m-%dT%H:%M"))
        ]
        assert instance["start"]["dateTime"].startswith(moved.start.strftime("%Y-%m-%dT%H:%M")), (
            instance["start"]
        )
        world.round()
        world.round()
        assert world.meeting_count() == meetings and world.link_count() == links
        assert invites.state("m-series").state == "sent"
        assert not invites.state("m-series").out_of_date
    finally:
        world.store.dispose()
